package layout_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
)

// TestPrepareCommit writes two files in two phases, as a certificate and
// its key are replaced: nothing changes at the final paths until Commit,
// the temporary files are listed by TempFiles until then, and Abort leaves
// the old file.
func TestPrepareCommit(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for _, p := range []string{cert, key} {
		if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pk, err := layout.PrepareFile(key, []byte("new key"), layout.KeyPerm)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := layout.PrepareFile(cert, []byte("new cert"), layout.CertPerm)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cert, key} {
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Errorf("%s changed before Commit: %q", p, b)
		}
	}
	if temps, err := layout.TempFiles(cert); err != nil || len(temps) != 1 || temps[0] != pc.Temp {
		t.Errorf("TempFiles(cert) = %v, %v; want [%s]", temps, err, pc.Temp)
	}
	if st, err := os.Stat(pk.Temp); err != nil || st.Mode().Perm() != layout.KeyPerm {
		t.Errorf("the key's temporary file: %v, %v", st, err)
	}
	if err := pk.Commit(); err != nil {
		t.Fatal(err)
	}
	pc.Abort()
	if b, _ := os.ReadFile(key); string(b) != "new key" {
		t.Errorf("key after Commit: %q", b)
	}
	if b, _ := os.ReadFile(cert); string(b) != "old" {
		t.Errorf("cert after Abort: %q", b)
	}
	for _, p := range []string{cert, key} {
		if temps, _ := layout.TempFiles(p); len(temps) != 0 {
			t.Errorf("temporary files left for %s: %v", p, temps)
		}
	}
}

// TestTempFilesEscapes lists only a file's own temporary files, even when
// its name holds glob characters.
func TestTempFilesEscapes(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "a[1]*.crt")
	p, err := layout.PrepareFile(odd, []byte("x"), layout.CertPerm)
	if err != nil {
		t.Fatal(err)
	}
	other, err := layout.PrepareFile(filepath.Join(dir, "a1.crt"), []byte("y"), layout.CertPerm)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Abort()
	temps, err := layout.TempFiles(odd)
	if err != nil || len(temps) != 1 || temps[0] != p.Temp {
		t.Errorf("TempFiles = %v, %v; want [%s]", temps, err, p.Temp)
	}
}
