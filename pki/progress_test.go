package pki_test

import (
	"regexp"
	"testing"

	"github.com/etcdpki/etcdpki/pki"
)

// TestGenerateKeysProgress: progress hears 0, then every key as it is
// done, ending at the total, on the calling goroutine (no data race on
// the slice below under -race).
func TestGenerateKeysProgress(t *testing.T) {
	var calls [][2]int
	keys, err := pki.GenerateKeysProgress(pki.ECDSAP256, 5, func(done, total int) { calls = append(calls, [2]int{done, total}) })
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 {
		t.Fatalf("%d keys, want 5", len(keys))
	}
	if len(calls) != 6 {
		t.Fatalf("progress called %d times, want 6: %v", len(calls), calls)
	}
	for i, c := range calls {
		if c != [2]int{i, 5} {
			t.Errorf("call %d = %v, want [%d 5]", i, c, i)
		}
	}
	if _, err := pki.GenerateKeysProgress(pki.ECDSAP256, 1, nil); err != nil {
		t.Errorf("nil progress: %v", err)
	}
}

// TestPublicKeyFingerprint: a key and its certificate share the public
// key fingerprint; another key does not; the form is openssl's.
func TestPublicKeyFingerprint(t *testing.T) {
	for _, alg := range []pki.Algorithm{pki.ECDSAP256, pki.Ed25519, pki.RSA2048} {
		ca := newTestCA(t, alg)
		fromCert, err := pki.PublicKeyFingerprint(ca.Cert.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		fromKey, err := pki.PublicKeyFingerprint(ca.Key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if fromCert != fromKey {
			t.Errorf("%s: cert %s, key %s", alg, fromCert, fromKey)
		}
		other, _ := pki.PublicKeyFingerprint(newKey(t, alg).Public())
		if other == fromKey {
			t.Errorf("%s: two keys share a fingerprint", alg)
		}
		if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fromKey) {
			t.Errorf("%s: fingerprint %q is not openssl's form", alg, fromKey)
		}
		if fromKey == pki.Fingerprint(ca.Cert) {
			t.Errorf("%s: public key fingerprint equals the certificate's", alg)
		}
	}
	if _, err := pki.PublicKeyFingerprint(struct{}{}); err == nil {
		t.Error("unknown key type: no error")
	}
}
