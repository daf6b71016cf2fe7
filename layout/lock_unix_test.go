//go:build unix

package layout_test

import (
	"errors"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
)

// Init refuses, changing nothing, while another command (here the test,
// through its own open of the lock file, as another process would) holds
// the lock, and runs once it is released.
func TestInitRefusesWhileLocked(t *testing.T) {
	out := t.TempDir()
	runInit(t, newCluster(t, 3, nil), out, false)
	before := snapshot(t, out)
	unlock, err := layout.Lock(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		_, err = layout.Init(newCluster(t, 4, nil), out, layout.InitOptions{Force: force, Now: testNow})
		var ce *layout.ConflictError
		if !errors.As(err, &ce) || ce.Path != layout.LockFile(out) || ce.Hint == "" {
			t.Errorf("force %v: error %v (%T), want a *ConflictError on the lock file with a hint", force, err, err)
		}
	}
	if d := diff(before, snapshot(t, out)); len(d) > 0 {
		t.Errorf("a refused run changed %q", d)
	}
	if _, err := layout.Lock(out); !errors.As(err, new(*layout.LockedError)) {
		t.Errorf("second Lock: %v, want a *LockedError", err)
	}
	unlock()
	runInit(t, newCluster(t, 4, nil), out, false)
}
