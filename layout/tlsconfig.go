package layout

import (
	"crypto/tls"
	"crypto/x509"

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
// key to present. The error names the file that cannot be read or the
// pair that does not match.
func ClientTLSFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	cas, err := ReadCerts(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	kp, err := ReadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}
