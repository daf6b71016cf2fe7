package layout

import (
	"fmt"
	"os"
	"path/filepath"
)

// Permissions as kubeadm and mkcert set them (and CIS 1.1.19–1.1.21 expect):
// private keys readable by the owner only, certificates world-readable but
// writable by the owner only, directories private.
const (
	KeyPerm  os.FileMode = 0o600
	CertPerm os.FileMode = 0o644
	DirPerm  os.FileMode = 0o700
)

// WriteFile writes data to path atomically: into a temporary file in the
// same directory, synced, then renamed over path, and the directory synced.
// A reader, or a crash at any point, sees either the old file or the new
// one, never a mix. Missing parent directories are created with DirPerm.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// Set the mode before writing so a key is never readable by others,
	// not even while it is being written.
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
