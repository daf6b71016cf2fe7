//go:build unix

package layout_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
)

// TestReplaceKeepsOwner: a file replaced by WriteFile keeps its owner and
// group (root can give the new file to etcd's user; CI runs as root).
func TestReplaceKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own a file as another user")
	}
	p := filepath.Join(t.TempDir(), "server.key")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 4321, 4322); err != nil {
		t.Fatal(err)
	}
	if err := layout.WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != 4321 || sys.Gid != 4322 || st.Mode().Perm() != 0o600 {
		t.Errorf("owner %d:%d mode %o, want 4321:4322 0600", sys.Uid, sys.Gid, st.Mode().Perm())
	}
	// A new file is the writer's.
	q := filepath.Join(filepath.Dir(p), "new.crt")
	if err := layout.WriteFile(q, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(q); st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("a new file is owned by %d, want root", st.Sys().(*syscall.Stat_t).Uid)
	}
}
