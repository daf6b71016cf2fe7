package inspect_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/inspect"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/pki"
)

// TestOpenSSLFingerprints: the fingerprints inspect prints are the ones
// openssl prints, so users can compare them: the certificate's with
// `openssl x509 -fingerprint -sha256`, the public key's with the SHA-256 of
// `openssl pkey -pubout -outform der`. Skipped without openssl, except on
// CI (CI=true), which installs it.
func TestOpenSSLFingerprints(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl not found on CI: %v", err)
		}
		t.Skipf("openssl not found: %v", err)
	}
	for _, alg := range []pki.Algorithm{pki.RSA2048, pki.ECDSAP256, pki.Ed25519} {
		c := testca.New(t, testca.Options{Members: 1, Algorithm: alg})
		certPath, keyPath := c.CertPath("cp1", pki.KindPeer), c.KeyPath("cp1", pki.KindPeer)
		r, err := inspect.File(certPath, inspect.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", certPath).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: openssl x509: %v\n%s", alg, err, out)
		}
		if want := strings.TrimSpace(string(out)); !strings.HasSuffix(want, "="+r.Certs[0].Fingerprint) {
			t.Errorf("%s: openssl says %s, inspect %s", alg, want, r.Certs[0].Fingerprint)
		}
		der := filepath.Join(t.TempDir(), "pub.der")
		if out, err := exec.Command("openssl", "pkey", "-in", keyPath, "-pubout", "-outform", "der", "-out", der).CombinedOutput(); err != nil {
			t.Fatalf("%s: openssl pkey: %v\n%s", alg, err, out)
		}
		data, err := os.ReadFile(der)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		var hexes []string
		for _, b := range sum {
			hexes = append(hexes, fmt.Sprintf("%02X", b))
		}
		key, err := inspect.File(keyPath, inspect.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Join(hexes, ":"); key.Key.PublicKeyFingerprint != want || r.Certs[0].PublicKeyFingerprint != want {
			t.Errorf("%s: openssl public key SHA-256 %s; inspect key %s, cert %s", alg, want, key.Key.PublicKeyFingerprint, r.Certs[0].PublicKeyFingerprint)
		}
	}
}
