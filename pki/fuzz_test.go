package pki_test

import (
	"bytes"
	"testing"

	"github.com/etcdpki/etcdpki/pki"
)

// pemSeeds are valid PEM files of every shape init writes, and corrupt
// variants of them: the files a user may hand to check.
func pemSeeds(f *testing.F) [][]byte {
	ca := newTestCA(f, pki.ECDSAP256)
	leaf := issue(f, ca, serverRequest(pki.KindServer), testKey(f, pki.ECDSAP256))
	valid := [][]byte{pki.EncodeCert(ca.Cert), pki.EncodeCerts(ca.Cert, leaf)}
	for _, alg := range []pki.Algorithm{pki.RSA2048, pki.ECDSAP384, pki.Ed25519} {
		k, err := pki.EncodeKey(testKey(f, alg))
		if err != nil {
			f.Fatal(err)
		}
		valid = append(valid, k)
	}
	seeds := [][]byte{nil, []byte("-----BEGIN CERTIFICATE-----\n"), ca.Cert.Raw}
	for _, v := range valid {
		flipped := bytes.Clone(v)
		flipped[len(flipped)/2] ^= 0x01
		seeds = append(seeds,
			v,
			v[:len(v)/2],                   // truncated
			append(bytes.Clone(v), "x"...), // trailing garbage
			flipped,                        // one bit of the body changed
			bytes.ReplaceAll(v, []byte("\n"), []byte("\r\n")),
			bytes.Replace(v, []byte("-----\n"), []byte("-----\nProc-Type: 4,ENCRYPTED\n\n"), 1),
		)
	}
	return seeds
}

func FuzzParseCerts(f *testing.F) {
	for _, s := range pemSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := pki.ParseCerts(data)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
		if err != nil {
			return
		}
		// What parsed re-encodes to an equivalent bundle.
		again, err := pki.ParseCerts(pki.EncodeCerts(certs...))
		if err != nil {
			t.Fatalf("re-encoded bundle does not parse: %v", err)
		}
		if len(again) != len(certs) {
			t.Fatalf("re-encoded bundle has %d certs, want %d", len(again), len(certs))
		}
		for i := range certs {
			if !again[i].Equal(certs[i]) {
				t.Fatalf("cert %d changed across re-encoding", i)
			}
			_ = pki.Fingerprint(certs[i])
			_ = pki.KeyDescription(certs[i].PublicKey)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	for _, s := range pemSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := pki.ParseKey(data)
		if err == nil && key == nil {
			t.Fatal("no error and no key")
		}
		if err != nil {
			return
		}
		_ = pki.KeyDescription(key.Public())
		// A parsed key encodes and parses back to the same key; that is
		// what init does with a CA key it reuses.
		enc, err := pki.EncodeKey(key)
		if err != nil {
			t.Fatalf("EncodeKey of a parsed %T: %v", key, err)
		}
		again, err := pki.ParseKey(enc)
		if err != nil {
			t.Fatalf("re-encoded key does not parse: %v", err)
		}
		if !pki.KeyMatches(key.Public(), again) {
			t.Fatal("key changed across re-encoding")
		}
	})
}
