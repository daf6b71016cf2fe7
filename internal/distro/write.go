package distro

// The generators' shared writers and certificate makers. What differs
// between distributions (modes, names, chains, profiles) stays in each
// generator, next to the upstream source it cites; only the mechanics are
// here.

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math"
	"math/big"
	"net"
	"os"
	"path"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// nodeFS writes into one member's tree, which stands for the node's "/":
// every path it takes is a node path (/etc/etcd/pki/ca.crt).
type nodeFS struct {
	t    testing.TB
	root string
}

// path maps a node path into the member's tree.
func (fs nodeFS) path(nodePath string) string {
	return layout.OnDisk(fs.root, path.Clean(nodePath))
}

// dirs makes each directory (parents first) and sets its mode.
func (fs nodeFS) dirs(mode os.FileMode, nodePaths ...string) {
	fs.t.Helper()
	for _, p := range nodePaths {
		if err := os.MkdirAll(fs.path(p), mode); err != nil {
			fs.t.Fatalf("distro: %v", err)
		}
		fs.chmod(mode, p)
	}
}

// chmod sets the mode of files or directories that exist, such as the
// parent directories that file made 0700.
func (fs nodeFS) chmod(mode os.FileMode, nodePaths ...string) {
	fs.t.Helper()
	for _, p := range nodePaths {
		if err := os.Chmod(fs.path(p), mode); err != nil {
			fs.t.Fatalf("distro: %v", err)
		}
	}
}

// file writes data with mode through layout.WriteFile, which makes missing
// parent directories 0700.
func (fs nodeFS) file(nodePath string, mode os.FileMode, data []byte) {
	fs.t.Helper()
	p := fs.path(nodePath)
	if err := layout.WriteFile(p, data, mode); err != nil {
		fs.t.Fatalf("distro: %v", err)
	}
	if err := os.Chmod(p, mode); err != nil {
		fs.t.Fatalf("distro: %v", err)
	}
}

// cert writes certs as PEM CERTIFICATE blocks in order: one certificate,
// or a leaf and the chain a distribution puts after it.
func (fs nodeFS) cert(nodePath string, mode os.FileMode, certs ...*x509.Certificate) {
	fs.t.Helper()
	fs.file(nodePath, mode, pki.EncodeCerts(certs...))
}

// key writes key as pki.EncodeKey encodes it: PKCS#1 RSA PRIVATE KEY or
// SEC 1 EC PRIVATE KEY, the forms every distribution here writes.
func (fs nodeFS) key(nodePath string, mode os.FileMode, key crypto.Signer) {
	fs.t.Helper()
	data, err := pki.EncodeKey(key)
	if err != nil {
		fs.t.Fatalf("distro: %v", err)
	}
	fs.file(nodePath, mode, data)
}

// pow2 is 2^bits, the bound of a serial of that many random bits.
func pow2(bits uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), bits) }

// randSerial is rand.Int(rand.Reader, limit): a random serial in
// [0, limit).
func randSerial(t testing.TB, limit *big.Int) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		t.Fatalf("distro: serial: %v", err)
	}
	return n
}

// selfSignedCA signs tmpl with key itself.
func selfSignedCA(t testing.TB, tmpl *x509.Certificate, key crypto.Signer) *pki.CA {
	t.Helper()
	return &pki.CA{Cert: testca.Sign(t, tmpl, tmpl, key.Public(), key), Key: key}
}

// newSelfSignedCACert is client-go's util/cert NewSelfSignedCACert, which
// kubeadm calls and rancher/dynamiclistener copies: subject CN only,
// NotBefore now and NotAfter now+validity (both UTC), keyEncipherment|
// digitalSignature|keyCertSign, CA:TRUE (Go adds the subject key ID of a
// CA). The versions differ in the serial and in whether the CN is also a
// DNS SAN, so the caller gives both.
func newSelfSignedCACert(t testing.TB, key crypto.Signer, serial *big.Int, cn string, dns []string, now time.Time, validity time.Duration) *pki.CA {
	t.Helper()
	return selfSignedCA(t, &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              dns,
		NotBefore:             now.UTC(),
		NotAfter:              now.Add(validity).UTC(),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, key)
}

// newSignedCert is client-go's NewSignedCert as kubeadm's pkiutil
// (etcdadm), rancher/dynamiclistener (k3s, RKE2) and etcd-manager's
// pkg/pki/certutils.go (kOps) each carry a copy of it: a random serial
// below 2^63-1, the CA's NotBefore, NotAfter now+validity (UTC),
// keyEncipherment|digitalSignature whatever the key type, the given
// subject, SANs and EKUs; no basic constraints and no subject key ID (Go
// sets the authority key ID from the CA).
func newSignedCert(t testing.TB, ca *pki.CA, key crypto.Signer, subject pkix.Name, dns []string, ips []net.IP, ekus []x509.ExtKeyUsage, now time.Time, validity time.Duration) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(t, big.NewInt(math.MaxInt64)),
		Subject:      subject,
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    ca.Cert.NotBefore,
		NotAfter:     now.Add(validity).UTC(),
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  ekus,
	}
	return testca.Sign(t, tmpl, ca.Cert, key.Public(), ca.Key)
}
