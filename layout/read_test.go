package layout_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, make func(p string) error) string {
		p := filepath.Join(dir, name)
		if err := make(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sparse := func(size int64) func(string) error {
		return func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(size)
		}
	}
	tests := []struct {
		name     string
		path     string
		wantText string
		wantIs   error
	}{
		{"missing", filepath.Join(dir, "nope.crt"), "no such file", fs.ErrNotExist},
		{"directory", mk("dir.crt", func(p string) error { return os.Mkdir(p, 0o700) }), "directory", nil},
		{"empty", mk("empty.crt", func(p string) error { return os.WriteFile(p, nil, 0o600) }), "empty", nil},
		{"symlink loop", mk("loop.crt", func(p string) error {
			if err := os.Symlink(p+".b", p); err != nil {
				return err
			}
			return os.Symlink(p, p+".b")
		}), "too many levels of symbolic links", nil},
		{"dangling symlink", mk("dangling.crt", func(p string) error { return os.Symlink(p+".gone", p) }), "no such file", fs.ErrNotExist},
		{"100 MB", mk("huge.crt", sparse(100<<20)), "too large", nil},
		{"one byte too large", mk("big.crt", sparse(layout.MaxFileSize+1)), "too large", nil},
		{"device", "/dev/null", "not a regular file", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := layout.ReadFile(tt.path)
			if err == nil {
				t.Fatalf("read %d bytes, want an error", len(data))
			}
			checkFileError(t, err, tt.path, tt.wantText)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

// checkFileError checks that err is a *FileError about path whose text
// names the file and says wantText.
func checkFileError(t *testing.T, err error, path, wantText string) {
	t.Helper()
	var fe *layout.FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *layout.FileError", err, err)
	}
	if fe.Path != path || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("error %q about %q, want it to name %s", err, fe.Path, path)
	}
	if !strings.Contains(err.Error(), wantText) {
		t.Errorf("error %q does not say %q", err, wantText)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file of exactly the limit is read.
	limit := filepath.Join(dir, "limit.crt")
	if err := os.WriteFile(limit, make([]byte, layout.MaxFileSize), 0o644); err != nil {
		t.Fatal(err)
	}
	// Symlinks to files are followed: some nodes link their PKI in.
	link := filepath.Join(dir, "link.crt")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{p: 4, link: 4, limit: layout.MaxFileSize} {
		data, err := layout.ReadFile(path)
		if err != nil || len(data) != want {
			t.Errorf("ReadFile(%s) = %d bytes, %v; want %d", path, len(data), err, want)
		}
	}
}

func TestReadCertsAndKeys(t *testing.T) {
	out := t.TempDir()
	runInit(t, newCluster(t, 1, nil), out, false)
	etcd := filepath.Join(out, "cp1", "etc", "kubernetes", "pki", "etcd")
	server := filepath.Join(etcd, "server")
	serverCrt, serverKey := readFile(t, etcd, "server.crt"), readFile(t, etcd, "server.key")
	caCrt := readFile(t, out, "ca/ca.crt")
	plant := func(name, data string) string {
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bundle := plant("bundle.crt", caCrt+serverCrt)
	trailing := plant("trailing.crt", caCrt+serverCrt[:len(serverCrt)/2])
	encrypted := plant("encrypted.key", strings.Replace(serverKey, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n", 1))
	corrupt := plant("corrupt.key", strings.Replace(serverKey, "-----\n", "-----\nAAAA", 1))

	if certs, err := layout.ReadCerts(bundle); err != nil || len(certs) != 2 {
		t.Errorf("ReadCerts(bundle) = %d certs, %v", len(certs), err)
	}
	if _, err := layout.ReadKeyPair(server+".crt", server+".key"); err != nil {
		t.Errorf("ReadKeyPair: %v", err)
	}

	tests := []struct {
		name     string
		read     func() error
		path     string
		wantText string
		wantIs   error
	}{
		{"bundle where one cert is expected", func() error { _, err := layout.ReadCert(bundle); return err }, bundle, "holds 2 certificates, expected 1", nil},
		{"key where a cert is expected", func() error { _, err := layout.ReadCert(server + ".key"); return err }, server + ".key", "expected CERTIFICATE", nil},
		{"cert where a key is expected", func() error { _, err := layout.ReadKey(server + ".crt"); return err }, server + ".crt", "CERTIFICATE where a private key was expected", nil},
		{"trailing data", func() error { _, err := layout.ReadCerts(trailing); return err }, trailing, "truncated", pki.ErrTrailingData},
		{"encrypted key", func() error { _, err := layout.ReadKey(encrypted); return err }, encrypted, "encrypted", pki.ErrEncryptedKey},
		{"corrupt key", func() error { _, err := layout.ReadKey(corrupt); return err }, corrupt, "PRIVATE KEY", nil},
		{"key of another cert", func() error { _, err := layout.ReadKeyPair(server+".crt", filepath.Join(etcd, "peer.key")); return err }, filepath.Join(etcd, "peer.key"), "does not match the public key of " + server + ".crt", nil},
		{"missing key", func() error { _, err := layout.ReadKeyPair(server+".crt", server+".nokey"); return err }, server + ".nokey", "no such file", fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read()
			if err == nil {
				t.Fatal("no error")
			}
			checkFileError(t, err, tt.path, tt.wantText)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			// Errors about key files must not leak the key.
			body := strings.Split(serverKey, "\n")[1]
			if strings.Contains(err.Error(), body[:20]) {
				t.Errorf("error %q contains key material", err)
			}
		})
	}
}
