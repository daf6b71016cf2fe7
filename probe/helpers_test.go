package probe

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

func sorted[T ~string](s []T) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	sort.Strings(out)
	return out
}

// copyTree copies the regular files under src to dst, keeping modes.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}
