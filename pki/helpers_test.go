package pki_test

import (
	"crypto"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

// testNow is the issue time of the tests. It has no sub-second part because
// certificates store times to the second.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// keys caches one key per algorithm: RSA-4096 generation takes seconds, and
// most tests only need a key of the right type, not a fresh one.
var keys sync.Map // pki.Algorithm → crypto.Signer

// testKey returns the cached key of alg.
func testKey(t testing.TB, alg pki.Algorithm) crypto.Signer {
	t.Helper()
	if k, ok := keys.Load(alg); ok {
		return k.(crypto.Signer)
	}
	k := newKey(t, alg)
	actual, _ := keys.LoadOrStore(alg, k)
	return actual.(crypto.Signer)
}

// newKey generates a fresh key of alg.
func newKey(t testing.TB, alg pki.Algorithm) crypto.Signer {
	t.Helper()
	k, err := pki.GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	return k
}

// newTestCA is a minimal in-memory CA with a fresh key of alg, issued at
// testNow with the default validity.
func newTestCA(t testing.TB, alg pki.Algorithm) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(newKey(t, alg), "", 0, testNow)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

// issue signs req for key at testNow.
func issue(t testing.TB, ca *pki.CA, req pki.Request, key crypto.Signer) *x509.Certificate {
	t.Helper()
	cert, err := ca.Issue(req, key.Public(), testNow)
	if err != nil {
		t.Fatalf("Issue(%s): %v", req.Kind, err)
	}
	return cert
}

// serverRequest is a server certificate request for member cp1, with the
// names init would give it.
func serverRequest(kind pki.Kind) pki.Request {
	return pki.Request{
		Kind:       kind,
		CommonName: "cp1",
		DNSNames:   []string{"cp1", "localhost", "cp1.example.com"},
		IPs:        []net.IP{net.ParseIP("10.0.0.11"), net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
}

// verify checks cert against ca for the given usage at testNow.
func verify(cert *x509.Certificate, ca *pki.CA, usage x509.ExtKeyUsage, host string) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		DNSName:     host,
		CurrentTime: testNow,
		KeyUsages:   []x509.ExtKeyUsage{usage},
	})
	return err
}
