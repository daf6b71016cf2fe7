package probe

import (
	"crypto/tls"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

// foreignClientCert makes a client certificate from a CA that exists only
// in this process: a member must refuse it. ECDSA keeps it fast.
func foreignClientCert() (tls.Certificate, error) {
	now := time.Now()
	caKey, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return tls.Certificate{}, err
	}
	ca, err := pki.NewCA(caKey, "etcdpki-probe-foreign-ca", time.Hour, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return tls.Certificate{}, err
	}
	kp, err := ca.IssueKeyPair(pki.Request{Kind: pki.KindAPIServerClient, Validity: time.Hour}, key, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}, nil
}
