package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"time"
)

// Kind is a certificate's role in an etcd cluster's PKI.
type Kind string

// The certificate kinds. The first five are kubeadm's etcd set; the split
// kinds exist since etcd 3.5 added --client-cert-file and
// --peer-client-cert-file, which let the serving certs drop clientAuth.
const (
	KindCA                Kind = "ca"
	KindServer            Kind = "server"
	KindPeer              Kind = "peer"
	KindHealthcheckClient Kind = "healthcheck-client"
	KindAPIServerClient   Kind = "apiserver-etcd-client"
	// KindServerClient is the client credential etcd presents when it dials
	// its own client port (the grpc-gateway), set with --client-cert-file.
	KindServerClient Kind = "server-client"
	// KindPeerClient is the credential a member presents to other members,
	// set with --peer-client-cert-file.
	KindPeerClient Kind = "peer-client"
)

// Common names kubeadm gives the etcd client certificates
// (kubeadm's constants EtcdHealthcheckClientCertCommonName and
// APIServerEtcdClientCertCommonName).
const (
	CACommonName                = "etcd-ca"
	HealthcheckClientCommonName = "kube-etcd-healthcheck-client"
	APIServerClientCommonName   = "kube-apiserver-etcd-client"
)

// Default lifetimes, as kubeadm: the CA for ten years, leaves for one.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 365 * 24 * time.Hour
	// Backdate is how far NotBefore lies before the moment of issue, so a
	// member whose clock is a little behind the issuer's does not reject a
	// fresh cert as "not yet valid" (kubeadm's CertificateBackdate).
	Backdate = 5 * time.Minute
)

// Request describes one leaf certificate to issue.
type Request struct {
	Kind Kind
	// CommonName is the member name for server, peer and the split
	// credentials; client kinds ignore it and use kubeadm's fixed names.
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	// Validity is the lifetime from the moment of issue; zero means
	// DefaultLeafValidity.
	Validity time.Duration
	// Split drops clientAuth from server and peer certs, for use with
	// separate client credentials.
	Split bool
	// Subject, when set, is the subject the certificate gets instead of
	// the kind's: a renewal in place keeps the subject of the certificate
	// it replaces, as kubeadm certs renew does (its renewal reuses the old
	// certificate's config, cmd/kubeadm/app/phases/certs/renewal).
	Subject *pkix.Name
}

// caTemplate is the etcd CA profile.
func caTemplate(cn string, validity time.Duration, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn},
		NotBefore: now.Add(-Backdate),
		NotAfter:  now.Add(validity),
		// keyCertSign is what makes it usable as an issuer; Go's verifier
		// also requires BasicConstraintsValid with IsCA for a parent.
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// leafTemplate returns the certificate template for req. Every field that
// etcd or its clients look at is set here and nowhere else.
func leafTemplate(req Request, now time.Time) (*x509.Certificate, error) {
	validity := req.Validity
	if validity == 0 {
		validity = DefaultLeafValidity
	}
	t := &x509.Certificate{
		NotBefore: now.Add(-Backdate),
		NotAfter:  now.Add(validity),
		KeyUsage:  x509.KeyUsageDigitalSignature,
		// CA:FALSE spelled out, as kubeadm's NewSignedCert does
		// (k8s.io/kubernetes@v1.34.4/cmd/kubeadm/app/util/pkiutil/pki_helpers.go), so no verifier
		// mistakes a leaf for an issuer.
		BasicConstraintsValid: true,
	}
	switch req.Kind {
	case KindServer, KindPeer:
		t.Subject = pkix.Name{CommonName: req.CommonName}
		// The TLS client (kube-apiserver, etcdctl, or another member on
		// the peer port) checks the dialed host against these SANs.
		t.DNSNames = req.DNSNames
		t.IPAddresses = req.IPs
		// serverAuth to serve. clientAuth because etcd uses the same pair
		// as its client identity: peer.crt when dialing other members
		// (--peer-cert-file doubles as the peer client cert) and server.crt
		// when the grpc-gateway dials the member's own client port.
		// Without it the other side fails with "x509: certificate
		// specifies an incompatible key usage".
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		if req.Split {
			t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}
	case KindPeerClient, KindServerClient:
		t.Subject = pkix.Name{CommonName: req.CommonName}
		// etcd checks a connecting member's credential SANs against the
		// connection's remote address (checkSAN in etcd's transport), so
		// the peer credential carries the same names as the serving cert.
		t.DNSNames = req.DNSNames
		t.IPAddresses = req.IPs
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case KindHealthcheckClient:
		// The liveness probe of kubeadm's etcd static pod and etcdctl use
		// this one; it needs no SANs, only clientAuth. CN only, as kubeadm
		// since 1.29 (KubeadmCertEtcdHealthcheck, kubernetes/kubernetes#119859).
		t.Subject = pkix.Name{CommonName: HealthcheckClientCommonName}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case KindAPIServerClient:
		// CN only, as kubeadm since 1.29 (KubeadmCertEtcdAPIClient in
		// k8s.io/kubernetes@v1.34.4/cmd/kubeadm/app/phases/certs/certlist.go;
		// kubernetes/kubernetes#120521). etcd ignores O (its auth takes
		// the user from the CN), and O=system:masters would make this
		// cert cluster-admin to any kube-apiserver that trusts the etcd CA
		// for clients (the shared-CA mistake of CIS 2.7).
		t.Subject = pkix.Name{CommonName: APIServerClientCommonName}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return nil, fmt.Errorf("unknown certificate kind %q", req.Kind)
	}
	if req.Subject != nil {
		t.Subject = *req.Subject
	}
	return t, nil
}
