// Package filetree reads a directory tree into memory, for tests that
// compare a tree before and after a command changed it.
package filetree

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Read returns the content of every regular file under dir, by its
// slash-separated path relative to dir. Paths in skip (relative, slash
// separated) are left out; a skipped directory is not entered.
func Read(dir string, skip ...string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if slices.Contains(skip, rel) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[rel] = b
		}
		return nil
	})
	return files, err
}
