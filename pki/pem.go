package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// PEM block types. Keys are written as kubeadm's keyutil writes them: PKCS#1
// for RSA, SEC 1 for ECDSA, and PKCS#8 for Ed25519, which has no other form.
const (
	pemCertificate = "CERTIFICATE"
	pemRSAKey      = "RSA PRIVATE KEY"
	pemECKey       = "EC PRIVATE KEY"
	pemPKCS8Key    = "PRIVATE KEY"
	pemEncrypted   = "ENCRYPTED PRIVATE KEY"
)

// Errors returned by the PEM parsers; callers branch on them with errors.Is
// to tell a user what is wrong with a file.
var (
	ErrNoPEM        = errors.New("no PEM data found")
	ErrDER          = errors.New("file is DER (binary), expected PEM; convert it with openssl x509 -inform der")
	ErrEncryptedKey = errors.New("private key is encrypted; etcd cannot read encrypted keys")
	ErrTrailingData = errors.New("unexpected data after the last PEM block (truncated or corrupt file?)")
	// ErrKeyInCertFile comes with the certificates of a file that also
	// holds a private key: crypto/tls (and so etcd) loads it, but the key
	// is as readable as the certificate, usually by everyone.
	ErrKeyInCertFile = errors.New("the certificate file also holds a private key")
)

// EncodeCert returns cert as one PEM CERTIFICATE block.
func EncodeCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: cert.Raw})
}

// EncodeCerts concatenates certs as PEM blocks, the form of a CA bundle.
func EncodeCerts(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		b.Write(EncodeCert(c))
	}
	return b.Bytes()
}

// EncodeKey returns key as a PEM block.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block = &pem.Block{Type: pemRSAKey, Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		block = &pem.Block{Type: pemECKey, Bytes: der}
	case ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		block = &pem.Block{Type: pemPKCS8Key, Bytes: der}
	default:
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return pem.EncodeToMemory(block), nil
}

// ParseCerts decodes every CERTIFICATE block in data and skips the
// others, as crypto/tls.X509KeyPair does with a certificate file. Data
// without a certificate is an error. With the certificates it may return
// [ErrTrailingData] (junk after the last block) or [ErrKeyInCertFile] (a
// private key in the file).
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	blocks, keys, first := 0, 0, ""
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		blocks++
		if block.Type != pemCertificate {
			if block.Type == pemEncrypted || strings.HasSuffix(block.Type, "PRIVATE KEY") {
				keys++
			}
			if first == "" {
				first = block.Type
			}
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", blocks, err)
		}
		certs = append(certs, c)
	}
	switch {
	case len(certs) == 0 && blocks > 0:
		return nil, fmt.Errorf("no CERTIFICATE block in the file (PEM block 1 is %q, expected CERTIFICATE)", first)
	case len(certs) == 0:
		return nil, noPEM(data)
	case keys > 0:
		return certs, ErrKeyInCertFile
	case len(bytes.TrimSpace(rest)) > 0:
		return certs, ErrTrailingData
	}
	return certs, nil
}

// ParseKey decodes the private key in data: the first PEM block whose
// type is a private key, skipping others (openssl ecparam's EC
// PARAMETERS before it, a certificate after it), as crypto/tls does.
func ParseKey(data []byte) (crypto.Signer, error) {
	var block *pem.Block
	rest, first := data, ""
	for {
		block, rest = pem.Decode(rest)
		if block == nil {
			switch first {
			case "":
				return nil, noPEM(data)
			case pemCertificate:
				return nil, errors.New("found a CERTIFICATE where a private key was expected")
			}
			return nil, fmt.Errorf("PEM block is %q, expected a private key", first)
		}
		if block.Type == pemEncrypted || strings.HasSuffix(block.Type, "PRIVATE KEY") {
			break
		}
		if first == "" {
			first = block.Type
		}
	}
	if block.Type == pemEncrypted || block.Headers["Proc-Type"] != "" {
		return nil, ErrEncryptedKey
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case pemRSAKey:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case pemECKey:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case pemPKCS8Key:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is %q, expected a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return signer, nil
}

// noPEM tells DER apart from other non-PEM input: DER certificates and keys
// start with an ASN.1 SEQUENCE tag. A BEGIN line that pem.Decode could not
// complete is most often a file cut short by a bad copy.
func noPEM(data []byte) error {
	if len(data) > 1 && data[0] == 0x30 {
		return ErrDER
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return fmt.Errorf("%w: a PEM block begins but has no valid end (truncated or corrupt file?)", ErrNoPEM)
	}
	return ErrNoPEM
}
