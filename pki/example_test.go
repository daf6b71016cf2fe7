package pki_test

import (
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

// Issue a member's peer certificate from a new etcd CA and check it the way
// another member does when this one connects: the chain, the member's
// address and both key usages.
func ExampleCA_Issue() {
	now := time.Now()
	caKey, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		fmt.Println(err)
		return
	}
	ca, err := pki.NewCA(caKey, "", 0, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		fmt.Println(err)
		return
	}
	cert, err := ca.Issue(pki.Request{
		Kind:       pki.KindPeer,
		CommonName: "cp1",
		DNSNames:   []string{"cp1", "localhost"},
		IPs:        []net.IP{net.ParseIP("10.0.0.11"), net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}, key.Public(), now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("subject:", cert.Subject)
	fmt.Println("issuer:", cert.Issuer)
	fmt.Println("DNS:", cert.DNSNames)
	fmt.Println("IP:", cert.IPAddresses)
	fmt.Println("valid for:", cert.NotAfter.Sub(cert.NotBefore))

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		_, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "10.0.0.11", KeyUsages: []x509.ExtKeyUsage{u}})
		fmt.Println("verifies for", u, err == nil)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "10.0.0.12"})
	fmt.Println("verifies for another member's address:", err == nil)
	// Output:
	// subject: CN=cp1
	// issuer: CN=etcd-ca
	// DNS: [cp1 localhost]
	// IP: [10.0.0.11 127.0.0.1 ::1]
	// valid for: 8760h5m0s
	// verifies for serverAuth true
	// verifies for clientAuth true
	// verifies for another member's address: false
}

// ParseCerts reads a CA bundle, such as ca.crt during a CA rotation that
// holds the old and the new CA.
func ExampleParseCerts() {
	now := time.Now()
	var bundle []byte
	for _, cn := range []string{"etcd-ca-old", "etcd-ca-new"} {
		key, err := pki.GenerateKey(pki.Ed25519)
		if err != nil {
			fmt.Println(err)
			return
		}
		ca, err := pki.NewCA(key, cn, 0, now)
		if err != nil {
			fmt.Println(err)
			return
		}
		bundle = append(bundle, pki.EncodeCert(ca.Cert)...)
	}
	certs, err := pki.ParseCerts(bundle)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range certs {
		fmt.Println(c.Subject.CommonName, c.IsCA, pki.KeyDescription(c.PublicKey))
	}
	_, err = pki.ParseCerts(bundle[:len(bundle)-30])
	fmt.Println(err)
	// Output:
	// etcd-ca-old true Ed25519
	// etcd-ca-new true Ed25519
	// unexpected data after the last PEM block (truncated or corrupt file?)
}
