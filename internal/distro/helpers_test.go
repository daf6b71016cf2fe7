package distro

// Test helpers shared by the generators' tests. Paths named nodePath are
// node paths in a member's tree (root); the others are paths on this
// machine.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// wantRegistered checks that each name is in All.
func wantRegistered(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if All[n] == nil {
			t.Errorf("distro.All[%q] is not registered", n)
		}
	}
}

// readNode reads a file of root's tree.
func readNode(t *testing.T, root, nodePath string) []byte {
	t.Helper()
	data, err := os.ReadFile(layout.OnDisk(root, nodePath))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readCert reads a file that holds exactly one certificate.
func readCert(t *testing.T, root, nodePath string) *x509.Certificate {
	t.Helper()
	c, err := layout.ReadCert(layout.OnDisk(root, nodePath))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readCerts reads every certificate of a file (a leaf and its chain, or a
// bundle).
func readCerts(t *testing.T, root, nodePath string) []*x509.Certificate {
	t.Helper()
	certs, err := layout.ReadCerts(layout.OnDisk(root, nodePath))
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// readLeaf reads the first certificate of a file.
func readLeaf(t *testing.T, root, nodePath string) *x509.Certificate {
	t.Helper()
	return readCerts(t, root, nodePath)[0]
}

// readKey reads a private key file.
func readKey(t *testing.T, root, nodePath string) crypto.Signer {
	t.Helper()
	key, err := layout.ReadKey(layout.OnDisk(root, nodePath))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// wantMode checks the type and permission bits of a path (not following
// a symlink): os.ModeDir|0o700 for a directory, 0o600 for a file.
func wantMode(t *testing.T, root, nodePath string, want os.FileMode) {
	t.Helper()
	p := layout.OnDisk(root, nodePath)
	st, err := os.Lstat(p)
	if err != nil {
		t.Error(err)
		return
	}
	if got := st.Mode() & (os.ModeType | os.ModePerm); got != want {
		t.Errorf("%s: mode %v, want %v", p, got, want)
	}
}

// listDir returns the sorted names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func ipStrings(ips []net.IP) []string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return s
}

// wantRSA2048 checks that c has an RSA-2048 key and is signed with
// SHA256WithRSA.
func wantRSA2048(t *testing.T, what string, c *x509.Certificate) {
	t.Helper()
	if k, ok := c.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
		t.Errorf("%s: key %T, want RSA-2048", what, c.PublicKey)
	}
	if c.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("%s: signature %v", what, c.SignatureAlgorithm)
	}
}

func wantP256(t *testing.T, what string, c *x509.Certificate) {
	t.Helper()
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("%s: key %s, want ECDSA P-256", what, pki.KeyDescription(c.PublicKey))
	}
}

var envLine = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)

// parseEnvFile reads an environment file: every line is empty, a comment,
// or KEY=VALUE (with an "export " prefix when export is set); a key
// appears once.
func parseEnvFile(t *testing.T, path string, export bool) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if export {
			var ok bool
			if line, ok = strings.CutPrefix(line, "export "); !ok {
				t.Errorf("%s:%d: %q is not an export", path, i+1, line)
				continue
			}
		}
		if !envLine.MatchString(line) {
			t.Errorf("%s:%d: %q is not KEY=VALUE", path, i+1, line)
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		if _, dup := env[k]; dup {
			t.Errorf("%s:%d: %s set twice", path, i+1, k)
		}
		env[k] = v
	}
	return env
}

// wantPEM checks that data starts with a PEM block of type typ ("RSA
// PRIVATE KEY" for PKCS#1, "EC PRIVATE KEY" for SEC 1).
func wantPEM(t *testing.T, what string, data []byte, typ string) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("-----BEGIN "+typ+"-----")) {
		t.Errorf("%s: not a PEM %s", what, typ)
	}
}

// distinctKeys checks that no two key files of a fixture hold the same
// key (R3 flags a key shared by two members): it maps a key's encoding to
// the file first seen with it.
type distinctKeys map[string]string

// add records key, found in what, and fails the test when another file
// had it.
func (d distinctKeys) add(t *testing.T, what string, key []byte) {
	t.Helper()
	if other, dup := d[string(key)]; dup {
		t.Errorf("%s and %s share a key", what, other)
	}
	d[string(key)] = what
}

// fatalTB records the first Fatalf and stops the goroutine, as testing.T
// does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalMessage runs gen with opts and returns the message it failed the
// test with, or "" when it did not.
func fatalMessage(t *testing.T, gen Generator, opts Options) string {
	t.Helper()
	rec := &fatalTB{TB: t}
	dir := t.TempDir()
	done := make(chan struct{})
	go func() {
		defer close(done)
		gen(rec, dir, opts)
	}()
	<-done
	return rec.msg
}

// needOpenSSL skips the test when there is no openssl to run.
func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
}

// opensslVerify runs `openssl verify -CAfile ca [-purpose purpose]
// leaves…`, as an operator would check a node's files; the error carries
// openssl's output.
func opensslVerify(ca, purpose string, leaves ...string) error {
	args := []string{"verify", "-CAfile", ca}
	if purpose != "" {
		args = append(args, "-purpose", purpose)
	}
	out, err := exec.Command("openssl", append(args, leaves...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// opensslVerifyIn is opensslVerify of node paths in root's tree.
func opensslVerifyIn(root, ca, purpose string, leaves ...string) error {
	var paths []string
	for _, l := range leaves {
		paths = append(paths, layout.OnDisk(root, l))
	}
	return opensslVerify(layout.OnDisk(root, ca), purpose, paths...)
}
