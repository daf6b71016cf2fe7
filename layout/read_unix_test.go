//go:build linux || darwin || freebsd

package layout_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
)

// A FIFO where a cert is expected (a process substitution, say) must be an
// error, not a read that blocks until someone writes to it.
func TestReadFileFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := layout.ReadFile(p)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("read a FIFO")
		}
		checkFileError(t, err, p, "not a regular file")
	case <-time.After(5 * time.Second):
		// Release the blocked reader before failing.
		if w, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("ReadFile blocks on a FIFO")
	}
}
