// Package testca builds etcd PKIs for tests, clean or broken in one chosen
// way, in a line or two, in the spirit of smallstep's minica:
//
//	c := testca.New(t, testca.Options{Manifests: true}) // 3 members, as init writes them
//	c.Reissue("cp2", pki.KindPeer, testca.EKU(x509.ExtKeyUsageServerAuth))
//
// Certificates start from the real profiles (pki.CA.Issue) and are then
// re-signed with the tweaks applied, so a broken cert differs from a good
// one in exactly the field the test changed. Files are written with
// layout.WriteFile and encoded with pki.EncodeCert and pki.EncodeKey: the
// project's one PEM writer.
package testca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

// Tweak changes a certificate template before it is signed.
type Tweak func(*x509.Certificate)

// EKU sets the extended key usages (none at all when usages is empty,
// which Go's verifier reads as "any").
func EKU(usages ...x509.ExtKeyUsage) Tweak {
	return func(c *x509.Certificate) { c.ExtKeyUsage = usages }
}

// Validity sets NotBefore and NotAfter.
func Validity(notBefore, notAfter time.Time) Tweak {
	return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = notBefore, notAfter }
}

// SANs replaces the subject alternative names; each name is an IP address
// or a DNS name.
func SANs(names ...string) Tweak {
	return func(c *x509.Certificate) {
		c.DNSNames, c.IPAddresses = nil, nil
		for _, n := range names {
			if ip := net.ParseIP(n); ip != nil {
				c.IPAddresses = append(c.IPAddresses, ip)
			} else {
				c.DNSNames = append(c.DNSNames, n)
			}
		}
	}
}

// Signature sets the signature algorithm, e.g. x509.SHA1WithRSA.
func Signature(alg x509.SignatureAlgorithm) Tweak {
	return func(c *x509.Certificate) { c.SignatureAlgorithm = alg }
}

// NotCA turns a CA template into a plain certificate: basic constraints
// CA:FALSE, no keyCertSign.
func NotCA() Tweak {
	return func(c *x509.Certificate) {
		c.IsCA = false
		c.KeyUsage &^= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
}

// NewKey generates a fresh key of alg. RSA keys of other sizes (e.g. a
// weak 1024-bit one) come from RSAKey.
func NewKey(t testing.TB, alg pki.Algorithm) crypto.Signer {
	t.Helper()
	k, err := pki.GenerateKey(alg)
	if err != nil {
		t.Fatalf("testca: generating %s key: %v", alg, err)
	}
	return k
}

var rsaKeys sync.Map // bits → *rsa.PrivateKey

// RSAKey returns an RSA key of the given size, generated once per process
// and size. Go refuses to generate keys under 1024 bits.
func RSAKey(t testing.TB, bits int) crypto.Signer {
	t.Helper()
	if k, ok := rsaKeys.Load(bits); ok {
		return k.(crypto.Signer)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("testca: generating RSA-%d key: %v", bits, err)
	}
	got, _ := rsaKeys.LoadOrStore(bits, k)
	return got.(crypto.Signer)
}

// NewCA makes an in-memory CA with a fresh key of alg, issued at now with
// pki's CA profile, then re-signed with the tweaks (e.g. NotCA, Validity).
func NewCA(t testing.TB, alg pki.Algorithm, now time.Time, tweaks ...Tweak) *pki.CA {
	t.Helper()
	return NewCAWithKey(t, NewKey(t, alg), now, tweaks...)
}

// NewCAWithKey is NewCA with a given key.
func NewCAWithKey(t testing.TB, key crypto.Signer, now time.Time, tweaks ...Tweak) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(key, "", 0, now)
	if err != nil {
		t.Fatalf("testca: %v", err)
	}
	if len(tweaks) > 0 {
		tmpl := template(ca.Cert, tweaks)
		ca.Cert = Sign(t, tmpl, tmpl, key.Public(), key)
	}
	return ca
}

// Issue signs req for key with ca at now using pki's profile for req.Kind,
// then re-signs it with the tweaks applied.
func Issue(t testing.TB, ca *pki.CA, req pki.Request, key crypto.Signer, now time.Time, tweaks ...Tweak) *x509.Certificate {
	t.Helper()
	cert, err := ca.Issue(req, key.Public(), now)
	if err != nil {
		t.Fatalf("testca: issuing %s: %v", req.Kind, err)
	}
	if len(tweaks) == 0 {
		return cert
	}
	return Sign(t, template(cert, tweaks), ca.Cert, key.Public(), ca.Key)
}

// Sign is x509.CreateCertificate for tests: it signs template for pub with
// parent's key and returns the parsed certificate.
func Sign(t testing.TB, template, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, parentKey)
	if err != nil {
		t.Fatalf("testca: signing %q: %v", template.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testca: parsing %q: %v", template.Subject.CommonName, err)
	}
	return cert
}

// template turns an issued certificate back into a template with tweaks
// applied. The raw encodings and the signature algorithm are dropped so
// that x509.CreateCertificate re-encodes the (possibly changed) fields and
// picks a signature algorithm that fits the signer, unless a tweak chose one.
func template(cert *x509.Certificate, tweaks []Tweak) *x509.Certificate {
	t := *cert
	t.Raw, t.RawTBSCertificate, t.RawSubjectPublicKeyInfo, t.RawSubject, t.RawIssuer = nil, nil, nil, nil, nil
	t.Signature, t.SignatureAlgorithm = nil, x509.UnknownSignatureAlgorithm
	t.Extensions = nil
	t.PublicKey = nil
	for _, tw := range tweaks {
		tw(&t)
	}
	return &t
}
