package layout

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/etcdpki/etcdpki/pki"
)

// ClientTLS returns the TLS client configuration of a client on the node
// whose tree is root, laid out as l: it trusts the node's etcd CA file
// (every certificate in it, so a CA bundle mid-rotation works) and presents
// the node's certificate and key of kind, e.g. pki.KindAPIServerClient for
// what kube-apiserver on that node presents. The files are read as etcd
// reads them.
func ClientTLS(root string, l *Layout, kind pki.Kind) (*tls.Config, error) {
	return ClientTLSFiles(OnDisk(root, l.CertPath(pki.KindCA)), OnDisk(root, l.CertPath(kind)), OnDisk(root, l.KeyPath(kind)))
}

// ClientTLSFiles is ClientTLS from three files on this machine: the CA
// file to trust (every certificate in it) and the client certificate and
// key to present. A certificate file may hold the leaf's chain after it
// (k3s and RKE2 append the CA), which is sent with it as crypto/tls
// sends a file's every certificate. An empty certFile presents none. The
// error names the file that cannot be read or the pair that does not
// match.
func ClientTLSFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	cas, err := ReadCerts(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile == "" {
		return cfg, nil
	}
	chain, err := ReadCerts(certFile)
	if err != nil {
		return nil, err
	}
	key, err := ReadKey(keyFile)
	if err != nil {
		return nil, err
	}
	if !pki.KeyMatches(chain[0].PublicKey, key) {
		return nil, &FileError{Path: keyFile, Err: fmt.Errorf("private key does not match the public key of %s", certFile)}
	}
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	cfg.Certificates = []tls.Certificate{c}
	return cfg, nil
}
