// Package inspect describes a certificate, a bundle, a private key or what
// a live TLS endpoint serves, in terms of an etcd cluster: names, usages,
// validity, fingerprints, and which etcd roles a certificate can fill and
// why not the others (audit.Roles). It never reveals key material.
package inspect

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// SchemaVersion identifies the JSON form of a Result.
const SchemaVersion = "etcdpki.io/inspect/v1"

// What a Result describes.
const (
	KindCertificate = "certificate"
	KindBundle      = "bundle"
	KindKey         = "key"
	KindEndpoint    = "endpoint"
)

// Options tune an inspection.
type Options struct {
	// Now judges validity; zero means time.Now().
	Now time.Time
	// Cert, for a key file, is a certificate file the key should belong
	// to; for an endpoint, the client certificate to present (with Key).
	Cert string
	// Key, for a certificate file, is a key file that should belong to
	// it; for an endpoint, the client key.
	Key string
	// CACert, for an endpoint, verifies the served chain.
	CACert string
	// Timeout bounds an endpoint's dial and handshake; default 5s.
	Timeout time.Duration
}

// Result is what was inspected.
type Result struct {
	SchemaVersion string `json:"schemaVersion"`
	// Source is the file or URL.
	Source string `json:"source"`
	Kind   string `json:"kind"`
	// Certs are the certificates of a file or bundle, or the chain an
	// endpoint served (leaf first).
	Certs    []Cert    `json:"certificates,omitempty"`
	Key      *Key      `json:"key,omitempty"`
	Endpoint *Endpoint `json:"endpoint,omitempty"`
}

// Cert describes one certificate.
type Cert struct {
	Subject    string `json:"subject"`
	CommonName string `json:"commonName"`
	Issuer     string `json:"issuer"`
	// Serial is upper-case hex, as openssl prints it.
	Serial      string    `json:"serial"`
	DNSNames    []string  `json:"dnsNames,omitempty"`
	IPs         []string  `json:"ips,omitempty"`
	KeyUsage    []string  `json:"keyUsage,omitempty"`
	ExtKeyUsage []string  `json:"extKeyUsage,omitempty"`
	IsCA        bool      `json:"isCA"`
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
	// Validity is "valid", "expired" or "not yet valid" at the time of
	// inspection; ResidualSeconds is the time left (negative once expired).
	Validity        string `json:"validity"`
	ResidualSeconds int64  `json:"residualSeconds"`
	// PublicKey is the key's type and size; PublicKeyFingerprint the
	// SHA-256 of its SubjectPublicKeyInfo (pki.PublicKeyFingerprint), which
	// a matching key file shows too.
	PublicKey            string `json:"publicKey"`
	PublicKeyFingerprint string `json:"publicKeyFingerprint"`
	SignatureAlgorithm   string `json:"signatureAlgorithm"`
	// Fingerprint is the SHA-256 of the certificate (pki.Fingerprint).
	Fingerprint    string `json:"fingerprint"`
	SubjectKeyID   string `json:"subjectKeyId,omitempty"`
	AuthorityKeyID string `json:"authorityKeyId,omitempty"`
	// Roles says which etcd roles it can fill, and why not the others.
	Roles []audit.RoleFit `json:"roles"`
	// MatchesKey is set when a key was given to compare with.
	MatchesKey *bool `json:"matchesKey,omitempty"`
}

// Key describes a private key by its public half only.
type Key struct {
	// Type is the key's type and size, e.g. "RSA 2048" or "ECDSA P-256".
	Type string `json:"type"`
	// PublicKeyFingerprint is the same as the matching certificate's.
	PublicKeyFingerprint string `json:"publicKeyFingerprint"`
	// Matches is set when a certificate was given to compare with;
	// MatchesCert names it.
	Matches     *bool  `json:"matches,omitempty"`
	MatchesCert string `json:"matchesCert,omitempty"`
}

// File inspects a PEM file: a certificate, a bundle or a private key.
func File(path string, opts Options) (*Result, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	data, err := layout.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &Result{SchemaVersion: SchemaVersion, Source: path}
	if isKey(data) {
		key, err := pki.ParseKey(data)
		if err != nil {
			return nil, &layout.FileError{Path: path, Err: err}
		}
		r.Kind = KindKey
		if r.Key, err = describeKey(key, opts.Cert); err != nil {
			return nil, err
		}
		return r, nil
	}
	certs, err := pki.ParseCerts(data)
	if err != nil {
		return nil, &layout.FileError{Path: path, Err: err}
	}
	r.Kind = KindCertificate
	if len(certs) > 1 {
		r.Kind = KindBundle
	}
	for _, c := range certs {
		r.Certs = append(r.Certs, Describe(c, opts.Now))
	}
	if opts.Key != "" {
		key, err := layout.ReadKey(opts.Key)
		if err != nil {
			return nil, err
		}
		ok := pki.KeyMatches(certs[0].PublicKey, key)
		r.Certs[0].MatchesKey = &ok
	}
	return r, nil
}

// isKey reports whether the first PEM block in data is a private key.
func isKey(data []byte) bool {
	block, _ := pem.Decode(data)
	return block != nil && strings.HasSuffix(block.Type, "PRIVATE KEY")
}

// describeKey describes key by its public half and, given a certificate
// file, says whether the key belongs to it.
func describeKey(key crypto.Signer, certPath string) (*Key, error) {
	fp, err := pki.PublicKeyFingerprint(key.Public())
	if err != nil {
		return nil, err
	}
	k := &Key{Type: pki.KeyDescription(key.Public()), PublicKeyFingerprint: fp}
	if certPath != "" {
		certs, err := layout.ReadCerts(certPath)
		if err != nil && len(certs) == 0 {
			return nil, err
		}
		ok := pki.KeyMatches(certs[0].PublicKey, key)
		k.Matches, k.MatchesCert = &ok, certPath
	}
	return k, nil
}

// Describe describes cert at now.
func Describe(cert *x509.Certificate, now time.Time) Cert {
	c := Cert{
		Subject: cert.Subject.String(), CommonName: cert.Subject.CommonName, Issuer: cert.Issuer.String(),
		Serial: pki.Serial(cert), DNSNames: cert.DNSNames,
		KeyUsage: keyUsageNames(cert.KeyUsage), ExtKeyUsage: extKeyUsageNames(cert),
		IsCA: cert.BasicConstraintsValid && cert.IsCA, NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(),
		ResidualSeconds: int64(cert.NotAfter.Sub(now) / time.Second), PublicKey: pki.KeyDescription(cert.PublicKey),
		SignatureAlgorithm: cert.SignatureAlgorithm.String(), Fingerprint: pki.Fingerprint(cert),
		SubjectKeyID: hex.EncodeToString(cert.SubjectKeyId), AuthorityKeyID: hex.EncodeToString(cert.AuthorityKeyId),
		Roles: audit.Roles(cert),
	}
	for _, ip := range cert.IPAddresses {
		c.IPs = append(c.IPs, ip.String())
	}
	switch {
	case now.After(cert.NotAfter):
		c.Validity = "expired"
	case now.Before(cert.NotBefore):
		c.Validity = "not yet valid"
	default:
		c.Validity = "valid"
	}
	// An unknown key type has no SPKI encoding; say so rather than fail.
	c.PublicKeyFingerprint, _ = pki.PublicKeyFingerprint(cert.PublicKey)
	return c
}

var keyUsages = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"},
	{x509.KeyUsageContentCommitment, "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

// keyUsageNames names the key usage bits as RFC 5280 (and openssl) do.
func keyUsageNames(ku x509.KeyUsage) []string {
	var names []string
	for _, u := range keyUsages {
		if ku&u.bit != 0 {
			names = append(names, u.name)
		}
	}
	return names
}

var extKeyUsages = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "any",
	x509.ExtKeyUsageServerAuth:      "serverAuth",
	x509.ExtKeyUsageClientAuth:      "clientAuth",
	x509.ExtKeyUsageCodeSigning:     "codeSigning",
	x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping:    "timeStamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
}

// extKeyUsageNames names the extended key usages, unknown ones by OID.
func extKeyUsageNames(cert *x509.Certificate) []string {
	var names []string
	for _, u := range cert.ExtKeyUsage {
		if n, ok := extKeyUsages[u]; ok {
			names = append(names, n)
		} else {
			names = append(names, fmt.Sprintf("eku(%d)", u))
		}
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		names = append(names, oid.String())
	}
	return names
}
