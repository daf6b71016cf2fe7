package inspect_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/inspect"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func TestFileCert(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	r, err := inspect.File(c.CertPath("cp1", pki.KindPeer), inspect.Options{Key: c.KeyPath("cp1", pki.KindPeer)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != inspect.KindCertificate || len(r.Certs) != 1 {
		t.Fatalf("kind %s with %d certs", r.Kind, len(r.Certs))
	}
	got := r.Certs[0]
	cert := readCert(t, c.CertPath("cp1", pki.KindPeer))
	if got.CommonName != "cp1" || got.Issuer != "CN=etcd-ca" || got.Fingerprint != pki.Fingerprint(cert) ||
		strings.Join(got.IPs, ",") != "10.0.0.11,127.0.0.1,::1" || strings.Join(got.ExtKeyUsage, ",") != "serverAuth,clientAuth" ||
		got.Validity != "valid" || got.PublicKey != "ECDSA P-256" || got.IsCA {
		t.Errorf("described as %+v", got)
	}
	if got.MatchesKey == nil || !*got.MatchesKey {
		t.Error("peer.key does not match peer.crt")
	}
	for _, f := range got.Roles {
		if f.OK != (f.Role != audit.RoleCA) {
			t.Errorf("role %s: ok=%t (%s)", f.Role, f.OK, f.Why)
		}
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"subject:            CN=cp1", "ext key usage:      serverAuth, clientAuth", "matches key:        yes",
		"peer:   yes — serverAuth and clientAuth", "CA:     no  — a leaf (not a CA)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// TestFileKey: a key is described by its public half only, and matched
// against a certificate; its secret never appears in any output.
func TestFileKey(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 2, Algorithm: pki.RSA2048})
	keyPath := c.KeyPath("cp1", pki.KindServer)
	for _, tc := range []struct {
		cert  string
		match bool
	}{{c.CertPath("cp1", pki.KindServer), true}, {c.CertPath("cp2", pki.KindServer), false}} {
		r, err := inspect.File(keyPath, inspect.Options{Cert: tc.cert})
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != inspect.KindKey || r.Key.Type != "RSA 2048" || r.Key.Matches == nil || *r.Key.Matches != tc.match {
			t.Errorf("%s: %+v", tc.cert, r.Key)
		}
		cert := readCert(t, c.CertPath("cp1", pki.KindServer))
		if fp, _ := pki.PublicKeyFingerprint(cert.PublicKey); r.Key.PublicKeyFingerprint != fp {
			t.Errorf("key fingerprint %s, cert's public key %s", r.Key.PublicKeyFingerprint, fp)
		}
		var out bytes.Buffer
		if err := r.WriteText(&out); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		noSecrets(t, out.String(), keyPath)
	}
}

// noSecrets fails if out holds any line of the PEM body of keyPath, or the
// private exponent in any encoding we could plausibly print.
func noSecrets(t *testing.T, out, keyPath string) {
	t.Helper()
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(out, line) {
			t.Fatalf("output holds key material %q", line)
		}
	}
	if strings.Contains(out, "PRIVATE KEY-----") {
		t.Fatal("output holds a PEM private key")
	}
}

func TestFileBundleAndErrors(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	dir := t.TempDir()
	other := testca.NewCA(t, pki.Ed25519, c.Now)
	bundle := filepath.Join(dir, "bundle.crt")
	write(t, bundle, pki.EncodeCerts(c.CA.Cert, other.Cert))
	r, err := inspect.File(bundle, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != inspect.KindBundle || len(r.Certs) != 2 || r.Certs[1].PublicKey != "Ed25519" || !r.Certs[1].IsCA {
		t.Errorf("bundle: kind %s, %d certs", r.Kind, len(r.Certs))
	}
	var text bytes.Buffer
	_ = r.WriteText(&text)
	if !strings.Contains(text.String(), "certificate 2 of 2") {
		t.Errorf("bundle text:\n%s", text.String())
	}

	der := filepath.Join(dir, "der.crt")
	write(t, der, c.CA.Cert.Raw)
	encrypted := filepath.Join(dir, "enc.key")
	write(t, encrypted, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	for path, want := range map[string]error{der: pki.ErrDER, encrypted: pki.ErrEncryptedKey, filepath.Join(dir, "none"): os.ErrNotExist} {
		_, err := inspect.File(path, inspect.Options{})
		var fe *layout.FileError
		if !errors.Is(err, want) || !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a FileError wrapping %v", filepath.Base(path), err, want)
		}
	}
}

// TestURL: a TLS endpoint that requires client certs, as etcd does, with
// and without a client cert and a CA to verify it.
func TestURL(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	kp, err := layout.ReadKeyPair(c.CertPath("cp1", pki.KindServer), c.KeyPath("cp1", pki.KindServer))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.CA.Cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key}},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool,
		MaxVersion: tls.VersionTLS12, // the refusal then ends the handshake, as over TLS 1.2 with etcd
	}
	srv.StartTLS()
	defer srv.Close()
	url := srv.URL // https://127.0.0.1:PORT
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// No client cert: the served cert is still shown, and the refusal.
	r, err := inspect.URL(ctx, url, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != inspect.KindEndpoint || len(r.Certs) != 1 || r.Certs[0].CommonName != "cp1" || r.Endpoint.HandshakeError == "" || r.Endpoint.ChainOK != nil {
		t.Errorf("without client cert: %+v, %+v", r.Endpoint, r.Certs)
	}

	// With the healthcheck client and the CA: verified, named, accepted.
	opts := inspect.Options{CACert: c.CertPath("cp1", pki.KindCA), Cert: c.CertPath("cp1", pki.KindHealthcheckClient), Key: c.KeyPath("cp1", pki.KindHealthcheckClient)}
	r, err = inspect.URL(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := r.Endpoint
	if e.HandshakeError != "" || e.ChainOK == nil || !*e.ChainOK || !*e.NameOK || e.ClientCert != pki.HealthcheckClientCommonName || e.TLSVersion != "TLS 1.2" {
		t.Errorf("with client cert: %+v", e)
	}
	var text bytes.Buffer
	_ = r.WriteText(&text)
	if !strings.Contains(text.String(), "chain:              verifies against the given CA") || !strings.Contains(text.String(), "served certificate:") {
		t.Errorf("text:\n%s", text.String())
	}

	// Another CA: the chain does not verify, and says why.
	foreign := filepath.Join(t.TempDir(), "foreign.crt")
	write(t, foreign, pki.EncodeCert(testca.NewCA(t, pki.ECDSAP256, c.Now).Cert))
	opts.CACert = foreign
	if r, err = inspect.URL(ctx, url, opts); err != nil {
		t.Fatal(err)
	}
	if r.Endpoint.ChainOK == nil || *r.Endpoint.ChainOK || !strings.Contains(r.Endpoint.ChainError, "unknown authority") {
		t.Errorf("foreign CA: %+v", r.Endpoint)
	}

	for _, bad := range []string{"http://127.0.0.1:1", "https://127.0.0.1", "https://:2379"} {
		if _, err := inspect.URL(ctx, bad, inspect.Options{}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	// Nothing listens: an error within the timeout.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := strings.Replace(closed.URL, "http://", "https://", 1)
	closed.Close()
	if _, err := inspect.URL(ctx, closedURL, inspect.Options{Timeout: time.Second}); err == nil {
		t.Error("closed port: no error")
	}
}

func TestIsURL(t *testing.T) {
	for arg, want := range map[string]bool{"https://10.0.0.11:2379": true, "ca.crt": false, "/etc/kubernetes/pki/etcd/ca.crt": false} {
		if inspect.IsURL(arg) != want {
			t.Errorf("IsURL(%q) = %t", arg, !want)
		}
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := layout.ReadCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
