package pki_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"regexp"
	"slices"
	"testing"

	"github.com/etcdpki/etcdpki/pki"
)

// TestAlgorithms takes a key of every algorithm through the whole path:
// generate, self-sign a CA, issue a leaf, check the leaf's key and
// signature, and round-trip both through PEM.
func TestAlgorithms(t *testing.T) {
	tests := []struct {
		alg      pki.Algorithm
		desc     string
		pkAlg    x509.PublicKeyAlgorithm
		sigAlg   x509.SignatureAlgorithm
		pemType  string
		checkKey func(crypto.Signer) bool
	}{
		{pki.RSA2048, "RSA 2048", x509.RSA, x509.SHA256WithRSA, "RSA PRIVATE KEY", rsaBits(2048)},
		{pki.RSA3072, "RSA 3072", x509.RSA, x509.SHA256WithRSA, "RSA PRIVATE KEY", rsaBits(3072)},
		{pki.RSA4096, "RSA 4096", x509.RSA, x509.SHA256WithRSA, "RSA PRIVATE KEY", rsaBits(4096)},
		{pki.ECDSAP256, "ECDSA P-256", x509.ECDSA, x509.ECDSAWithSHA256, "EC PRIVATE KEY", curve(elliptic.P256())},
		{pki.ECDSAP384, "ECDSA P-384", x509.ECDSA, x509.ECDSAWithSHA384, "EC PRIVATE KEY", curve(elliptic.P384())},
		{pki.Ed25519, "Ed25519", x509.Ed25519, x509.PureEd25519, "PRIVATE KEY", func(k crypto.Signer) bool {
			_, ok := k.(ed25519.PrivateKey)
			return ok
		}},
	}
	if got, want := len(tests), len(pki.Algorithms()); got != want {
		t.Fatalf("table covers %d algorithms, pki.Algorithms() has %d", got, want)
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			if !slices.Contains(pki.Algorithms(), tt.alg) {
				t.Fatalf("%s missing from Algorithms()", tt.alg)
			}
			caKey := newKey(t, tt.alg)
			key := newKey(t, tt.alg)
			if !tt.checkKey(key) {
				t.Fatalf("GenerateKey(%s) made a %T (%s)", tt.alg, key, pki.KeyDescription(key.Public()))
			}
			if got := pki.KeyDescription(key.Public()); got != tt.desc {
				t.Errorf("KeyDescription = %q, want %q", got, tt.desc)
			}
			ca, err := pki.NewCA(caKey, "", 0, testNow)
			if err != nil {
				t.Fatal(err)
			}
			leaf := issue(t, ca, serverRequest(pki.KindPeer), key)
			for _, c := range []*x509.Certificate{ca.Cert, leaf} {
				if c.PublicKeyAlgorithm != tt.pkAlg || c.SignatureAlgorithm != tt.sigAlg {
					t.Errorf("%s: key %v signature %v, want %v %v", c.Subject.CommonName, c.PublicKeyAlgorithm, c.SignatureAlgorithm, tt.pkAlg, tt.sigAlg)
				}
			}
			if !pki.KeyMatches(leaf.PublicKey, key) || !pki.KeyMatches(ca.Cert.PublicKey, caKey) {
				t.Error("a certificate does not match its own key")
			}
			if pki.KeyMatches(leaf.PublicKey, caKey) {
				t.Error("the leaf matches the CA's key")
			}
			if err := verify(leaf, ca, serverAuth, "10.0.0.11"); err != nil {
				t.Errorf("leaf does not verify: %v", err)
			}

			// PEM round trip of the key, in the form kubeadm writes.
			keyPEM, err := pki.EncodeKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if got := pemType(t, keyPEM); got != tt.pemType {
				t.Errorf("key PEM block %q, want %q", got, tt.pemType)
			}
			parsed, err := pki.ParseKey(keyPEM)
			if err != nil {
				t.Fatalf("ParseKey(EncodeKey(key)): %v", err)
			}
			if !pki.KeyMatches(leaf.PublicKey, parsed) {
				t.Error("parsed key does not match the certificate")
			}

			// PEM round trip of a bundle.
			certs, err := pki.ParseCerts(pki.EncodeCerts(ca.Cert, leaf))
			if err != nil {
				t.Fatalf("ParseCerts(EncodeCerts(ca, leaf)): %v", err)
			}
			if len(certs) != 2 || !certs[0].Equal(ca.Cert) || !certs[1].Equal(leaf) {
				t.Errorf("round trip gave %d certs, not the CA and the leaf", len(certs))
			}
		})
	}
}

func rsaBits(bits int) func(crypto.Signer) bool {
	return func(k crypto.Signer) bool {
		r, ok := k.(*rsa.PrivateKey)
		return ok && r.N.BitLen() == bits
	}
}

func curve(c elliptic.Curve) func(crypto.Signer) bool {
	return func(k crypto.Signer) bool {
		e, ok := k.(*ecdsa.PrivateKey)
		return ok && e.Curve == c
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in      string
		want    pki.Algorithm
		wantErr bool
	}{
		{"", pki.RSA2048, false},
		{"rsa-2048", pki.RSA2048, false},
		{"rsa-4096", pki.RSA4096, false},
		{"ECDSA-P256", pki.ECDSAP256, false},
		{"ed25519", pki.Ed25519, false},
		{"rsa-1024", "", true},
		{"ecdsa-p521", "", true},
		{"rsa", "", true},
		{" ed25519", "", true},
	}
	for _, tt := range tests {
		got, err := pki.ParseAlgorithm(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseAlgorithm(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAlgorithmNames(t *testing.T) {
	names := pki.AlgorithmNames()
	if len(names) != len(pki.Algorithms()) || !slices.IsSorted(names) {
		t.Errorf("AlgorithmNames() = %q, want all %d algorithms sorted", names, len(pki.Algorithms()))
	}
	for _, n := range names {
		if a, err := pki.ParseAlgorithm(n); err != nil || string(a) != n {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", n, a, err)
		}
	}
}

func TestGenerateKeys(t *testing.T) {
	keys, err := pki.GenerateKeys(pki.ECDSAP256, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 {
		t.Fatalf("got %d keys, want 5", len(keys))
	}
	for i, k := range keys {
		if _, ok := k.(*ecdsa.PrivateKey); !ok {
			t.Errorf("key %d is %T", i, k)
		}
		for _, o := range keys[:i] {
			if pki.KeyMatches(o.Public(), k) {
				t.Errorf("key %d repeats an earlier key", i)
			}
		}
	}
	if keys, err := pki.GenerateKeys(pki.ECDSAP256, 0); err != nil || len(keys) != 0 {
		t.Errorf("GenerateKeys(0) = %d keys, %v", len(keys), err)
	}
	if _, err := pki.GenerateKeys("dsa-1024", 2); err == nil {
		t.Error("GenerateKeys of an unknown algorithm succeeded")
	}
	if _, err := pki.GenerateKey("dsa-1024"); err == nil {
		t.Error("GenerateKey of an unknown algorithm succeeded")
	}
}

func TestKeyMatchesAcrossTypes(t *testing.T) {
	ec, ed := testKey(t, pki.ECDSAP256), testKey(t, pki.Ed25519)
	tests := []struct {
		name string
		pub  crypto.PublicKey
		key  crypto.Signer
		want bool
	}{
		{"same ecdsa", ec.Public(), ec, true},
		{"same ed25519", ed.Public(), ed, true},
		{"ecdsa pub, ed25519 key", ec.Public(), ed, false},
		{"ed25519 pub, ecdsa key", ed.Public(), ec, false},
		{"nil pub", nil, ec, false},
	}
	for _, tt := range tests {
		if got := pki.KeyMatches(tt.pub, tt.key); got != tt.want {
			t.Errorf("%s: KeyMatches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	ca := newTestCA(t, pki.ECDSAP256)
	leaf := issue(t, ca, serverRequest(pki.KindServer), testKey(t, pki.ECDSAP256))
	format := regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`)
	a, b := pki.Fingerprint(ca.Cert), pki.Fingerprint(leaf)
	if !format.MatchString(a) {
		t.Errorf("Fingerprint = %q, want 32 upper-case hex pairs joined by colons", a)
	}
	if a == b {
		t.Error("two certificates have one fingerprint")
	}
	again, err := pki.ParseCerts(pki.EncodeCert(ca.Cert))
	if err != nil {
		t.Fatal(err)
	}
	if pki.Fingerprint(again[0]) != a {
		t.Error("fingerprint changed across a PEM round trip")
	}
}
