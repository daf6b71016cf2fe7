//go:build unix

package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/etcdpki/etcdpki/layout"
)

// lockName is the lock file in a PKI directory.
const lockName = ".etcdpki.lock"

// lock takes an exclusive, non-blocking flock(2) on out's lock file, so two
// commands never change one directory at once. The kernel drops the lock
// when the process exits, however it exits (kill -9 included), so a killed
// run never leaves the directory locked. The returned function releases it.
func lock(out, op string) (func(), error) {
	p := filepath.Join(out, lockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, layout.KeyPerm)
	if err != nil {
		return nil, &layout.FileError{Path: p, Err: unwrapPath(err)}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &RefusedError{Op: op, Detail: "another etcdpki command is changing " + out + " right now",
				Hint: "wait for it to finish; the lock (" + p + ") goes away with that process"}
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
