package layout

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/etcdpki/etcdpki/pki"
)

// MaxFileSize bounds what the loader reads. Certificates, bundles and keys
// are a few kilobytes; anything larger is not one, and reading a huge file
// into memory to find that out helps no one.
const MaxFileSize = 1 << 20

// FileError is a problem with one file. Its text names the file.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ReadFile reads a small regular file, refusing directories, special files
// and files over MaxFileSize with an error that names the file.
func ReadFile(path string) ([]byte, error) {
	// Check before opening: opening a FIFO for reading blocks until a
	// writer comes along.
	st, err := os.Stat(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPath(err)}
	}
	if err := checkReadable(st); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPath(err)}
	}
	defer f.Close()
	// And again after, in case the file was swapped in between.
	if st, err = f.Stat(); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if err := checkReadable(st); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if len(data) > MaxFileSize {
		return nil, &FileError{Path: path, Err: errors.New("grew past the size limit while being read")}
	}
	if len(data) == 0 {
		return nil, &FileError{Path: path, Err: errors.New("is empty")}
	}
	return data, nil
}

// checkReadable refuses what is not a small regular file.
func checkReadable(st fs.FileInfo) error {
	switch {
	case st.IsDir():
		return errors.New("is a directory, expected a file")
	case !st.Mode().IsRegular():
		return fmt.Errorf("is not a regular file (%s)", st.Mode().Type())
	case st.Size() > MaxFileSize:
		return fmt.Errorf("is %d bytes, too large for a certificate or key (limit %d)", st.Size(), MaxFileSize)
	}
	return nil
}

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
