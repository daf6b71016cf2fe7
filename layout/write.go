package layout

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
func WriteFile(path string, data []byte, perm os.FileMode) error {
	p, err := PrepareFile(path, data, perm)
	if err != nil {
		return err
	}
	return p.Commit()
}

// PendingFile is a file written and synced under a temporary name next to
// its final path, waiting to be renamed into place by Commit. Preparing
// several files before committing any keeps the window in which only some
// of them are in place down to a few rename calls: a certificate and its
// key are replaced together this way, because etcd re-reads both on every
// TLS handshake (tlsutil.NewCert) and fails the handshake while they do not
// match.
type PendingFile struct {
	// Path is the final path; Temp the temporary file, complete and synced.
	Path, Temp string
}

// tempPattern is the name pattern of path's temporary files:
// ".<base>.tmp-<random>", hidden and next to the file it replaces, so the
// rename stays within one directory (and one file system).
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// PrepareFile writes data to a temporary file next to path, with mode
// perm, and syncs it. Nothing at path changes until Commit. Missing parent
// directories are created with DirPerm.
func PrepareFile(path string, data []byte, perm os.FileMode) (_ *PendingFile, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return nil, err
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
		return nil, err
	}
	// A replaced file keeps its owner and group: an etcd running as a
	// user of its own (kubespray's etcd, etcdadm's) must still read its
	// key after a renew run as root.
	if err = keepOwner(f, path); err != nil {
		return nil, err
	}
	if _, err = f.Write(data); err != nil {
		return nil, err
	}
	if err = f.Sync(); err != nil {
		return nil, err
	}
	if err = f.Close(); err != nil {
		return nil, err
	}
	return &PendingFile{Path: path, Temp: tmp}, nil
}

// Commit renames the temporary file over Path and syncs the directory, so
// the new file survives a crash.
func (p *PendingFile) Commit() error {
	if err := os.Rename(p.Temp, p.Path); err != nil {
		os.Remove(p.Temp)
		return err
	}
	return SyncDir(filepath.Dir(p.Path))
}

// Abort removes the temporary file; Path is left as it was.
func (p *PendingFile) Abort() { os.Remove(p.Temp) }

// TempFiles lists the temporary files that PrepareFile (or WriteFile) made
// for path and that are still there: a process killed between writing and
// renaming leaves them behind. Each is either cut short (killed while
// writing) or complete (killed after syncing); whoever reads one must
// check which.
func TempFiles(path string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), escapeGlob(tempPattern(path))))
	if err != nil {
		return nil, err
	}
	return matches, nil
}

// escapeGlob escapes the pattern characters of a file name, keeping the
// trailing "*" of tempPattern.
func escapeGlob(pattern string) string {
	body, star := strings.CutSuffix(pattern, "*")
	var b strings.Builder
	for _, r := range body {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	if star {
		b.WriteByte('*')
	}
	return b.String()
}

// SyncDir syncs the directory dir, which makes a rename, a new file or a
// removal in it durable.
func SyncDir(dir string) error {
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

// File is one file for WriteFiles.
type File struct {
	Path string
	Data []byte
	Perm os.FileMode
}

// beforeRename, when set (by tests only), is called before each rename of
// WriteFiles; a test that panics in it leaves the files as a process
// killed at that moment would.
var beforeRename func(path string)

// writeParallelism bounds the files WriteFiles prepares at once.
const writeParallelism = 8

// WriteFiles writes many files, each atomically as WriteFile does, but in
// three phases so that the syncs overlap: every file is written and synced
// under its temporary name (concurrently: on ext4 concurrent fsyncs share
// journal commits, where one after another each waits for its own), then
// all are renamed into place in the order given, then each directory is
// synced once. If any file cannot be prepared, nothing is renamed. A crash
// still leaves every path with either its old or its new content.
func WriteFiles(files []File) error {
	pending := make([]*PendingFile, len(files))
	errs := make([]error, len(files))
	sem := make(chan struct{}, writeParallelism)
	done := make(chan struct{})
	for i, f := range files {
		go func() {
			sem <- struct{}{}
			pending[i], errs[i] = PrepareFile(f.Path, f.Data, f.Perm)
			<-sem
			done <- struct{}{}
		}()
	}
	for range files {
		<-done
	}
	for i, err := range errs {
		if err != nil {
			for _, p := range pending {
				if p != nil {
					p.Abort()
				}
			}
			return fmt.Errorf("writing %s: %w", files[i].Path, err)
		}
	}
	var dirs []string
	seen := map[string]bool{}
	for i, p := range pending {
		if beforeRename != nil {
			beforeRename(p.Path)
		}
		if err := os.Rename(p.Temp, p.Path); err != nil {
			for _, q := range pending[i:] {
				q.Abort()
			}
			return fmt.Errorf("writing %s: %w", p.Path, err)
		}
		if d := filepath.Dir(p.Path); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	errc := make(chan error, len(dirs))
	for _, d := range dirs {
		go func() { errc <- SyncDir(d) }()
	}
	var first error
	for range dirs {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}
