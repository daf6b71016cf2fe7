//go:build linux || darwin || freebsd

package layout_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
)

// Modes are exact whatever the umask: kubeadm's 0644 certs stay readable
// by the etcd static pod even under umask 077.
func TestWriteFileIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := layout.WriteFile(p, []byte("x"), layout.CertPerm); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != layout.CertPerm {
		t.Errorf("mode %v under umask 077, want %v", st.Mode().Perm(), layout.CertPerm)
	}
}
