//go:build unix

package layout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock takes an exclusive, non-blocking flock(2) on out's lock file
// ([LockFile]), so two commands never change one directory at once. The
// kernel drops the lock when the process exits, however it exits (kill -9
// included), so a killed run never leaves the directory locked. The
// returned function releases it. While another process (or another open of
// the file) holds the lock, the returned error is a *[LockedError]; a lock
// file that cannot be opened is a *[FileError].
func Lock(out string) (unlock func(), err error) { return lockPath(out, LockFile(out)) }

// LockRun takes the run lock of a temporary directory a command works in
// (`up`, `demo`): <dir>/.etcdpki-run.lock, held for the whole run and
// dropped by the kernel when the process dies. A later run that can take
// it knows the directory's owner is gone ([LockedError] otherwise).
func LockRun(dir string) (unlock func(), err error) {
	return lockPath(dir, filepath.Join(dir, runLockName))
}

func lockPath(out, p string) (unlock func(), err error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, KeyPerm)
	if err != nil {
		return nil, &FileError{Path: p, Err: unwrapPath(err)}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Dir: out, Path: p}
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
