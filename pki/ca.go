package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// CA is a certificate authority: the etcd CA certificate and, when this
// process holds it, its private key.
type CA struct {
	Cert *x509.Certificate
	// Key is nil for a CA known only by its certificate (an external CA).
	Key crypto.Signer
}

// KeyPair is an issued leaf certificate with its private key.
type KeyPair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA self-signs a CA certificate for key with the given common name
// (CACommonName if empty) and validity (DefaultCAValidity if zero).
func NewCA(key crypto.Signer, cn string, validity time.Duration, now time.Time) (*CA, error) {
	if cn == "" {
		cn = CACommonName
	}
	if validity == 0 {
		validity = DefaultCAValidity
	}
	t := caTemplate(cn, validity, now)
	cert, err := sign(t, t, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-signing CA %q: %w", cn, err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue signs a leaf certificate for pub according to req, at time now.
func (ca *CA) Issue(req Request, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	if ca.Key == nil {
		return nil, errors.New("the CA's private key is not available")
	}
	t, err := leafTemplate(req, now)
	if err != nil {
		return nil, err
	}
	// A leaf stops verifying when its CA expires, so a later NotAfter
	// would only make expiry reports lie (a reused CA may have less time
	// left than a leaf's validity).
	if t.NotAfter.After(ca.Cert.NotAfter) {
		t.NotAfter = ca.Cert.NotAfter
	}
	cert, err := sign(t, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing %s certificate: %w", req.Kind, err)
	}
	return cert, nil
}

// IssueKeyPair is Issue with the key given as a signer.
func (ca *CA) IssueKeyPair(req Request, key crypto.Signer, now time.Time) (*KeyPair, error) {
	cert, err := ca.Issue(req, key.Public(), now)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// sign fills in the fields every certificate gets (serial, key IDs, key
// usage for RSA) and signs template with the parent's key.
func sign(template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	// SubjectKeyId on every cert and AuthorityKeyId (copied by
	// x509.CreateCertificate from the parent's SubjectKeyId) let tools and
	// chain builders match a leaf to its CA, which matters once a trust
	// bundle holds an old and a new CA during rotation.
	template.SubjectKeyId = skid
	if _, isRSA := pub.(*rsa.PublicKey); isRSA && !template.IsCA {
		// Only RSA keys encipher (TLS 1.2 RSA key exchange); mkcert and
		// kubeadm set it for RSA leaves.
		template.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// randomSerial returns a 128-bit random serial number, as the CA/Browser
// baseline and mkcert do, so two certs from one CA never share a serial.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID derives the key identifier from the public key: the first
// 160 bits of the SHA-256 of the subjectPublicKey bits (RFC 7093, method 1).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	var spki struct {
		Algorithm        asn1.RawValue
		SubjectPublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decoding public key: %w", err)
	}
	sum := sha256.Sum256(spki.SubjectPublicKey.Bytes)
	return sum[:20], nil
}
