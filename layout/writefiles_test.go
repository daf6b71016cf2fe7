package layout

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFilesAllOrNothing: when one file cannot be prepared, none of
// the others is renamed into place and no temporary file is left.
func TestWriteFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "a", "good.crt")
	if err := WriteFile(good, []byte("old"), CertPerm); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteFiles([]File{
		{Path: good, Data: []byte("new"), Perm: CertPerm},
		{Path: filepath.Join(blocker, "x.key"), Data: []byte("k"), Perm: KeyPerm}, // parent is a file
	})
	if err == nil {
		t.Fatal("WriteFiles succeeded with an impossible path")
	}
	if b, _ := os.ReadFile(good); string(b) != "old" {
		t.Errorf("good.crt = %q after a failed batch, want the old content", b)
	}
	if tmp, _ := TempFiles(good); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestWriteFilesWritesAll: every file lands with its mode, in one batch.
func TestWriteFilesWritesAll(t *testing.T) {
	dir := t.TempDir()
	var files []File
	for i, name := range []string{"x/a.key", "x/a.crt", "y/b.key", "y/b.crt"} {
		perm := CertPerm
		if filepath.Ext(name) == ".key" {
			perm = KeyPerm
		}
		files = append(files, File{Path: filepath.Join(dir, name), Data: []byte{byte('0' + i)}, Perm: perm})
	}
	if err := WriteFiles(files); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		st, err := os.Stat(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != f.Perm {
			t.Errorf("%s: mode %o, want %o", f.Path, st.Mode().Perm(), f.Perm)
		}
		if b, _ := os.ReadFile(f.Path); string(b) != string(f.Data) {
			t.Errorf("%s = %q, want %q", f.Path, b, f.Data)
		}
	}
}
