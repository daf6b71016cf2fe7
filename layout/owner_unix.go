//go:build unix

package layout

import (
	"errors"
	"os"
	"syscall"
)

// keepOwner gives f the owner and group of the file at path, if there is
// one and they differ from f's. Only root may give a file away; for
// anyone else a different owner is left as it is (the replaced file was
// theirs to replace, and becomes theirs).
func keepOwner(f *os.File, path string) error {
	old, err := os.Lstat(path)
	if err != nil {
		return nil // a new file: ours
	}
	want, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	cur, err := f.Stat()
	if err != nil {
		return err
	}
	have, ok := cur.Sys().(*syscall.Stat_t)
	if !ok || (have.Uid == want.Uid && have.Gid == want.Gid) {
		return nil
	}
	if err := f.Chown(int(want.Uid), int(want.Gid)); err != nil && !errors.Is(err, syscall.EPERM) {
		return err
	}
	return nil
}
