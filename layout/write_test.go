package layout_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name    string
		old     string // existing content; "" means no file
		oldPerm fs.FileMode
		data    string
		perm    fs.FileMode
	}{
		{"new key", "", 0, "key", layout.KeyPerm},
		{"new cert", "", 0, "cert", layout.CertPerm},
		// The old content is longer: a write in place would leave its tail.
		{"replace longer", strings.Repeat("old content ", 100), 0o644, "new", layout.CertPerm},
		// A world-readable file replaced by a key must end up 0600.
		{"tighten", "was a cert", 0o644, "now a key", layout.KeyPerm},
		{"loosen", "was a key", 0o600, "now a cert", layout.CertPerm},
		{"empty data", "something", 0o644, "", layout.CertPerm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			if tt.old != "" {
				if err := os.WriteFile(p, []byte(tt.old), tt.oldPerm); err != nil {
					t.Fatal(err)
				}
			}
			if err := layout.WriteFile(p, []byte(tt.data), tt.perm); err != nil {
				t.Fatal(err)
			}
			tree := snapshot(t, dir)
			if got := files(tree); len(got) != 1 || got[0] != "f" {
				t.Errorf("files %q, want only f (no temp files)", got)
			}
			if e := tree["f"]; e.data != tt.data || e.mode != tt.perm {
				t.Errorf("f = %q mode %v, want %q mode %v", e.data, e.mode, tt.data, tt.perm)
			}
		})
	}
}

func TestWriteFileCreatesDirs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cp1", "etc", "kubernetes", "pki", "etcd", "ca.crt")
	if err := layout.WriteFile(p, []byte("x"), layout.CertPerm); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(p); d != dir; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != fs.ModeDir|layout.DirPerm {
			t.Errorf("%s: mode %v, want %v", d, st.Mode(), fs.ModeDir|layout.DirPerm)
		}
	}
}

func TestWriteFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to write
	}{
		{"parent is a file", func(t *testing.T, dir string) string {
			writeFile(t, dir, "file", "x")
			return filepath.Join(dir, "file", "ca.crt")
		}},
		{"target is a directory", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "ca.crt")
			if err := os.MkdirAll(filepath.Join(p, "sub"), 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := tt.setup(t, dir)
			before := snapshot(t, dir)
			if err := layout.WriteFile(p, []byte("data"), layout.CertPerm); err == nil {
				t.Fatal("WriteFile succeeded")
			}
			if d := diff(before, snapshot(t, dir)); len(d) > 0 {
				t.Errorf("a failed write left %q", d)
			}
		})
	}
}

// A reader racing with writers sees the old file or the new one, whole.
func TestWriteFileAtomic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ca.crt")
	a, b := strings.Repeat("a", 64<<10), strings.Repeat("b", 32<<10)
	if err := layout.WriteFile(p, []byte(a), layout.CertPerm); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			got, err := os.ReadFile(p)
			if err != nil {
				bad.Store("read: " + err.Error())
				return
			}
			if s := string(got); s != a && s != b {
				bad.Store(fmt.Sprintf("read %d bytes that are neither the old file nor the new", len(s)))
				return
			}
		}
	}()
	for i := range 200 {
		data := a
		if i%2 == 0 {
			data = b
		}
		if err := layout.WriteFile(p, []byte(data), layout.CertPerm); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		t.Error(msg)
	}
}
