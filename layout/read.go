package layout

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/etcdpki/etcdpki/internal/readfile"

	"github.com/etcdpki/etcdpki/pki"
)

// MaxFileSize bounds what the loader reads (readfile.MaxSize).
const MaxFileSize = readfile.MaxSize

// FileError is a problem with one file. Its text names the file.
type FileError = readfile.Error

// ReadFile reads a small regular file, refusing directories, special files
// and files over MaxFileSize with a *[FileError] that names the file. It
// is the one bounded reader (package internal/readfile).
func ReadFile(path string) ([]byte, error) { return readfile.Read(path) }

// unwrapPath drops the *fs.PathError wrapper, whose text repeats the path
// that FileError already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadCerts reads every certificate in a PEM file (one cert, or a bundle).
func ReadCerts(path string) ([]*x509.Certificate, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCerts(data)
	if err != nil {
		return certs, &FileError{Path: path, Err: err}
	}
	return certs, nil
}

// ReadCert reads a file that must hold exactly one certificate.
func ReadCert(path string) (*x509.Certificate, error) {
	certs, err := ReadCerts(path)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, &FileError{Path: path, Err: fmt.Errorf("holds %d certificates, expected 1", len(certs))}
	}
	return certs[0], nil
}

// ReadKey reads a PEM private key. Errors never include key material.
func ReadKey(path string) (crypto.Signer, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := pki.ParseKey(data)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return key, nil
}

// ReadKeyPair reads a cert and its key and checks that they belong together.
func ReadKeyPair(certPath, keyPath string) (*pki.KeyPair, error) {
	cert, err := ReadCert(certPath)
	if err != nil {
		return nil, err
	}
	key, err := ReadKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !pki.KeyMatches(cert.PublicKey, key) {
		return nil, &FileError{Path: keyPath, Err: fmt.Errorf("private key does not match the public key of %s", certPath)}
	}
	return &pki.KeyPair{Cert: cert, Key: key}, nil
}

// exists reports whether path exists (as anything).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
