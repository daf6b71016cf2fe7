package pki

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
)

// Fingerprint returns the SHA-256 fingerprint of cert in the form
// `openssl x509 -fingerprint -sha256` prints (upper-case hex pairs joined
// by colons), so users can compare it with what openssl shows.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return colonHex(sum[:])
}

// PublicKeyFingerprint returns the SHA-256 fingerprint of pub's
// SubjectPublicKeyInfo, in Fingerprint's form. It is the same for a
// private key, its certificate and every certificate re-issued for the key,
// so it tells whether a key file belongs to a certificate without showing
// anything secret; openssl prints it with
// `openssl pkey -pubout -outform der | openssl dgst -sha256 -c`.
func PublicKeyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return colonHex(sum[:]), nil
}

// colonHex is upper-case hex pairs joined by colons, as openssl prints
// digests.
func colonHex(sum []byte) string {
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// SignedBy reports whether parent signed cert as Go's chain builder would
// accept it (validity periods aside): parent's subject is cert's issuer,
// parent may sign certificates, and the signature verifies.
func SignedBy(cert, parent *x509.Certificate) error {
	if string(cert.RawIssuer) != string(parent.RawSubject) {
		return fmt.Errorf("issuer %q is not %q", cert.Issuer, parent.Subject)
	}
	return cert.CheckSignatureFrom(parent)
}

// Serial returns cert's serial number in upper-case hex, as openssl x509
// -serial prints it: whole bytes, so a leading zero nibble is kept.
func Serial(cert *x509.Certificate) string {
	b := cert.SerialNumber.Bytes()
	if len(b) == 0 {
		return "00"
	}
	return fmt.Sprintf("%X", b)
}
