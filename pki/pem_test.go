package pki_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/pki"
)

// pemType is the type of the first PEM block in data.
func pemType(t *testing.T, data []byte) string {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("no PEM block in %q", data)
	}
	return b.Type
}

func pemBlock(typ string, headers map[string]string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
}

// TestParseKeyForms checks the key encodings found on real nodes, not only
// the ones EncodeKey writes: openssl genpkey and cfssl write PKCS#8.
func TestParseKeyForms(t *testing.T) {
	for _, alg := range []pki.Algorithm{pki.RSA2048, pki.ECDSAP256, pki.Ed25519} {
		key := testKey(t, alg)
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		encoded, err := pki.EncodeKey(key)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{
			"native": encoded,
			"pkcs8":  pemBlock("PRIVATE KEY", nil, pkcs8),
			// Text before the block, as in files people paste together.
			"leading text": append([]byte("# etcd key\n"), encoded...),
		} {
			got, err := pki.ParseKey(data)
			if err != nil {
				t.Errorf("%s %s: %v", alg, name, err)
				continue
			}
			if !pki.KeyMatches(key.Public(), got) {
				t.Errorf("%s %s: parsed a different key", alg, name)
			}
		}
	}
}

func TestParseKeyErrors(t *testing.T) {
	key := testKey(t, pki.ECDSAP256)
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, pki.ECDSAP256)
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		want    error  // a sentinel, or nil
		wantMsg string // else a part of the message
	}{
		{"legacy encrypted", pemBlock("EC PRIVATE KEY", map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, keyDER), pki.ErrEncryptedKey, ""},
		{"legacy encrypted RSA", pemBlock("RSA PRIVATE KEY", map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "DES-EDE3-CBC,0011223344556677"}, []byte("ciphertext")), pki.ErrEncryptedKey, ""},
		{"PKCS#8 encrypted", pemBlock("ENCRYPTED PRIVATE KEY", nil, []byte("ciphertext")), pki.ErrEncryptedKey, ""},
		{"DER", keyDER, pki.ErrDER, ""},
		{"empty", nil, pki.ErrNoPEM, ""},
		{"whitespace", []byte(" \n\t\n"), pki.ErrNoPEM, ""},
		{"garbage", []byte("this is not a key\n"), pki.ErrNoPEM, ""},
		{"truncated", keyPEM[:len(keyPEM)/2], pki.ErrNoPEM, "truncated"},
		{"no END line", bytes.TrimSuffix(keyPEM, []byte("-----END EC PRIVATE KEY-----\n")), pki.ErrNoPEM, "truncated"},
		{"certificate", pki.EncodeCert(ca.Cert), nil, "CERTIFICATE where a private key was expected"},
		{"public key", pemBlock("PUBLIC KEY", nil, pub), nil, `"PUBLIC KEY", expected a private key`},
		{"corrupt DER", pemBlock("EC PRIVATE KEY", nil, keyDER[:len(keyDER)-10]), nil, "EC PRIVATE KEY"},
		{"RSA label on an EC key", pemBlock("RSA PRIVATE KEY", nil, keyDER), nil, "RSA PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := pki.ParseKey(tt.data)
			if err == nil {
				t.Fatalf("parsed a %T, want an error", k)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			// Never echo key material.
			if body := base64Body(keyPEM); strings.Contains(err.Error(), body[:16]) {
				t.Errorf("error %q contains key material", err)
			}
		})
	}
}

func TestParseCerts(t *testing.T) {
	ca := newTestCA(t, pki.ECDSAP256)
	leaf := issue(t, ca, serverRequest(pki.KindServer), testKey(t, pki.ECDSAP256))
	bundle := pki.EncodeCerts(ca.Cert, leaf)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"one", pki.EncodeCert(leaf), 1},
		{"bundle", bundle, 2},
		{"trailing newlines", append(append([]byte{}, bundle...), "\n\n  \n"...), 2},
		{"text between blocks", []byte("subject=CN = etcd-ca\n" + string(pki.EncodeCert(ca.Cert)) + "subject=CN = cp1\n" + string(pki.EncodeCert(leaf))), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := pki.ParseCerts(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tt.want {
				t.Fatalf("got %d certs, want %d", len(certs), tt.want)
			}
			if !certs[len(certs)-1].Equal(leaf) && !certs[len(certs)-1].Equal(ca.Cert) {
				t.Error("parsed an unexpected certificate")
			}
		})
	}
}

func TestParseCertsErrors(t *testing.T) {
	ca := newTestCA(t, pki.ECDSAP256)
	certPEM := pki.EncodeCert(ca.Cert)
	bundle := pki.EncodeCerts(ca.Cert, ca.Cert)
	keyPEM, err := pki.EncodeKey(testKey(t, pki.ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		data      []byte
		want      error
		wantMsg   string
		wantCerts int // certs returned along with the error
	}{
		{"empty", nil, pki.ErrNoPEM, "", 0},
		{"garbage", []byte("not a certificate"), pki.ErrNoPEM, "", 0},
		{"DER", ca.Cert.Raw, pki.ErrDER, "", 0},
		{"truncated", certPEM[:len(certPEM)-40], pki.ErrNoPEM, "truncated", 0},
		{"trailing garbage", append(append([]byte{}, bundle...), "garbage"...), pki.ErrTrailingData, "", 2},
		{"truncated second cert", bundle[:len(bundle)-40], pki.ErrTrailingData, "", 1},
		{"key where a cert is expected", keyPEM, nil, `PEM block 1 is "EC PRIVATE KEY", expected CERTIFICATE`, 0},
		// crypto/tls loads such a file; the key in it is the finding.
		{"key after a cert", append(append([]byte{}, certPEM...), keyPEM...), pki.ErrKeyInCertFile, "also holds a private key", 1},
		{"corrupt DER", pemBlock("CERTIFICATE", nil, ca.Cert.Raw[:100]), nil, "PEM block 1:", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := pki.ParseCerts(tt.data)
			if err == nil {
				t.Fatalf("parsed %d certs, want an error", len(certs))
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if len(certs) != tt.wantCerts {
				t.Errorf("returned %d certs with the error, want %d", len(certs), tt.wantCerts)
			}
		})
	}
}

func TestEncodeKeyUnsupported(t *testing.T) {
	if _, err := pki.EncodeKey(opaqueSigner{testKey(t, pki.ECDSAP256)}); err == nil {
		t.Error("EncodeKey of an opaque signer (an HSM key, say) succeeded")
	}
}

// opaqueSigner hides the concrete key type, as a hardware-backed key does.
type opaqueSigner struct{ crypto.Signer }

// base64Body is the base64 text of the first PEM block in data.
func base64Body(data []byte) string {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[1:len(lines)-1], "")
}

// TestParseWhatTLSLoads: files crypto/tls.X509KeyPair accepts parse: a
// key after openssl ecparam's EC PARAMETERS block, a key file with its
// certificate appended, a key file with two keys (the first is used).
func TestParseWhatTLSLoads(t *testing.T) {
	key := testKey(t, pki.ECDSAP256)
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	params := pemBlock("EC PARAMETERS", nil, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	ca := newTestCA(t, pki.ECDSAP256)
	for name, data := range map[string][]byte{
		"EC PARAMETERS first": append(append([]byte{}, params...), keyPEM...),
		"certificate after":   append(append([]byte{}, keyPEM...), pki.EncodeCert(ca.Cert)...),
		"two keys":            append(append([]byte{}, keyPEM...), keyPEM...),
	} {
		got, err := pki.ParseKey(data)
		if err != nil || !pki.KeyMatches(key.Public(), got) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
