package local

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
)

// TestTempDirRemovesDeadRuns: a run killed with SIGKILL leaves its
// temporary directory (CA keys inside); the next run removes it, and
// never one whose run is alive or that was only just made.
func TestTempDirRemovesDeadRuns(t *testing.T) {
	prefix := fmt.Sprintf("etcdpki-test-%d-", os.Getpid())
	old := time.Now().Add(-2 * deadRunAge)
	mk := func(name string, at time.Time) string {
		d := filepath.Join(os.TempDir(), prefix+name)
		if err := os.MkdirAll(filepath.Join(d, "ca"), 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "ca", "ca.key"), []byte("key"), 0o600)
		os.Chtimes(d, at, at)
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	dead := mk("dead", old)
	alive := mk("alive", old)
	unlock, err := layout.LockRun(alive)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	fresh := mk("fresh", time.Now())

	dir, release, err := TempDir(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead run's directory survived: %v", err)
	}
	for _, d := range []string{alive, fresh, dir} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
	// This run's directory is locked while it runs, and gone after.
	if _, err := layout.LockRun(dir); err == nil {
		t.Error("the run's own directory is not locked")
	}
	release()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("release left %s: %v", dir, err)
	}
}
