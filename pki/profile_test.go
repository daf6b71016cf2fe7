package pki_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

var (
	serverAuth = x509.ExtKeyUsageServerAuth
	clientAuth = x509.ExtKeyUsageClientAuth
)

func TestLeafProfiles(t *testing.T) {
	ca := newTestCA(t, pki.ECDSAP256)
	key := testKey(t, pki.ECDSAP256)
	req := serverRequest("")
	tests := []struct {
		kind    pki.Kind
		split   bool
		wantCN  string
		wantO   []string
		wantSAN bool // the request's SANs are in the cert; otherwise none
		wantEKU []x509.ExtKeyUsage
	}{
		{pki.KindServer, false, "cp1", nil, true, []x509.ExtKeyUsage{serverAuth, clientAuth}},
		{pki.KindPeer, false, "cp1", nil, true, []x509.ExtKeyUsage{serverAuth, clientAuth}},
		{pki.KindServer, true, "cp1", nil, true, []x509.ExtKeyUsage{serverAuth}},
		{pki.KindPeer, true, "cp1", nil, true, []x509.ExtKeyUsage{serverAuth}},
		{pki.KindServerClient, true, "cp1", nil, true, []x509.ExtKeyUsage{clientAuth}},
		{pki.KindPeerClient, true, "cp1", nil, true, []x509.ExtKeyUsage{clientAuth}},
		// The client kinds use kubeadm's fixed names and ignore the
		// member's name and addresses. kubeadm 1.29+ issues both with a
		// CN only (no O=system:masters; certlist.go of v1.34.4).
		{pki.KindHealthcheckClient, false, "kube-etcd-healthcheck-client", nil, false, []x509.ExtKeyUsage{clientAuth}},
		{pki.KindHealthcheckClient, true, "kube-etcd-healthcheck-client", nil, false, []x509.ExtKeyUsage{clientAuth}},
		{pki.KindAPIServerClient, false, "kube-apiserver-etcd-client", nil, false, []x509.ExtKeyUsage{clientAuth}},
		{pki.KindAPIServerClient, true, "kube-apiserver-etcd-client", nil, false, []x509.ExtKeyUsage{clientAuth}},
	}
	for _, tt := range tests {
		name := string(tt.kind)
		if tt.split {
			name += "/split"
		}
		t.Run(name, func(t *testing.T) {
			r := req
			r.Kind, r.Split = tt.kind, tt.split
			cert := issue(t, ca, r, key)

			if cert.Subject.CommonName != tt.wantCN {
				t.Errorf("CN = %q, want %q", cert.Subject.CommonName, tt.wantCN)
			}
			if !slices.Equal(cert.Subject.Organization, tt.wantO) {
				t.Errorf("O = %q, want %q", cert.Subject.Organization, tt.wantO)
			}
			// Nothing but the CN and O above: kubeadm's subjects have no
			// other attributes.
			if n := len(cert.Subject.Names); n != 1+len(tt.wantO) {
				t.Errorf("subject %s has %d attributes, want %d", cert.Subject, n, 1+len(tt.wantO))
			}
			wantDNS, wantIPs := []string(nil), []net.IP(nil)
			if tt.wantSAN {
				wantDNS, wantIPs = req.DNSNames, req.IPs
			}
			if !slices.Equal(cert.DNSNames, wantDNS) {
				t.Errorf("DNS SANs = %q, want %q", cert.DNSNames, wantDNS)
			}
			if !slices.EqualFunc(cert.IPAddresses, wantIPs, net.IP.Equal) {
				t.Errorf("IP SANs = %v, want %v", cert.IPAddresses, wantIPs)
			}
			if !slices.Equal(cert.ExtKeyUsage, tt.wantEKU) || len(cert.UnknownExtKeyUsage) > 0 {
				t.Errorf("EKU = %v (unknown %v), want %v", cert.ExtKeyUsage, cert.UnknownExtKeyUsage, tt.wantEKU)
			}
			if cert.IsCA || !cert.BasicConstraintsValid {
				t.Errorf("basic constraints valid=%v CA=%v, want CA:FALSE spelled out, as kubeadm", cert.BasicConstraintsValid, cert.IsCA)
			}

			// What etcd's TLS stack will do with it: the chain verifies for
			// the usages the profile grants, and fails with "incompatible
			// key usage" for the others.
			for _, u := range []x509.ExtKeyUsage{serverAuth, clientAuth} {
				err := verify(cert, ca, u, "")
				var inv x509.CertificateInvalidError
				switch {
				case slices.Contains(tt.wantEKU, u) && err != nil:
					t.Errorf("verify for EKU %v: %v", u, err)
				case !slices.Contains(tt.wantEKU, u) && !(errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage):
					t.Errorf("verify for EKU %v: got %v, want an incompatible key usage error", u, err)
				}
			}
			if tt.wantSAN {
				for _, host := range []string{"cp1", "localhost", "10.0.0.11", "127.0.0.1", "::1"} {
					if err := verify(cert, ca, tt.wantEKU[0], host); err != nil {
						t.Errorf("verify for host %s: %v", host, err)
					}
				}
				if err := verify(cert, ca, tt.wantEKU[0], "10.0.0.12"); err == nil {
					t.Error("verifies for 10.0.0.12, which the cert does not name")
				}
			}
		})
	}
}

func TestKeyUsage(t *testing.T) {
	for _, alg := range pki.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			ca, err := pki.NewCA(testKey(t, alg), "", 0, testNow)
			if err != nil {
				t.Fatal(err)
			}
			leaf := issue(t, ca, serverRequest(pki.KindServer), testKey(t, alg))

			_, isRSA := leaf.PublicKey.(*rsa.PublicKey)
			want := x509.KeyUsageDigitalSignature
			if isRSA {
				want |= x509.KeyUsageKeyEncipherment
			}
			if leaf.KeyUsage != want {
				t.Errorf("leaf KeyUsage = %b, want %b", leaf.KeyUsage, want)
			}
			if ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("CA KeyUsage %b lacks keyCertSign", ca.Cert.KeyUsage)
			}
			if ca.Cert.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
				t.Errorf("CA KeyUsage %b has keyEncipherment", ca.Cert.KeyUsage)
			}
		})
	}
}

func TestCAProfile(t *testing.T) {
	tests := []struct {
		cn, wantCN string
		validity   time.Duration
		wantAfter  time.Duration
	}{
		{"", "etcd-ca", 0, 10 * 365 * 24 * time.Hour},
		{"my-etcd-ca", "my-etcd-ca", 48 * time.Hour, 48 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.wantCN, func(t *testing.T) {
			ca, err := pki.NewCA(testKey(t, pki.ECDSAP256), tt.cn, tt.validity, testNow)
			if err != nil {
				t.Fatal(err)
			}
			c := ca.Cert
			if c.Subject.CommonName != tt.wantCN || c.Issuer.CommonName != tt.wantCN {
				t.Errorf("subject %q issuer %q, want CN %q", c.Subject, c.Issuer, tt.wantCN)
			}
			if !c.IsCA || !c.BasicConstraintsValid {
				t.Errorf("IsCA %v BasicConstraintsValid %v, want both", c.IsCA, c.BasicConstraintsValid)
			}
			if c.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature) != x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature {
				t.Errorf("KeyUsage %b, want keyCertSign and digitalSignature", c.KeyUsage)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			if want := testNow.Add(-5 * time.Minute); !c.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %v, want %v", c.NotBefore, want)
			}
			if want := testNow.Add(tt.wantAfter); !c.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
			}
			if len(c.SubjectKeyId) == 0 {
				t.Error("no SubjectKeyId")
			}
		})
	}
}

func TestLeafValidity(t *testing.T) {
	ca := newTestCA(t, pki.ECDSAP256)
	tests := []struct {
		validity, want time.Duration
	}{
		{0, 365 * 24 * time.Hour},
		{90 * 24 * time.Hour, 90 * 24 * time.Hour},
		{time.Hour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			req := serverRequest(pki.KindPeer)
			req.Validity = tt.validity
			c := issue(t, ca, req, testKey(t, pki.ECDSAP256))
			// Backdated so a member whose clock lags accepts it at once.
			if want := testNow.Add(-5 * time.Minute); !c.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %v, want %v", c.NotBefore, want)
			}
			if want := testNow.Add(tt.want); !c.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
			}
		})
	}
}

// A leaf that outlives its CA stops verifying when the CA expires, so its
// later NotAfter would only mislead expiry reports; Issue caps it.
func TestLeafNeverOutlivesCA(t *testing.T) {
	ca, err := pki.NewCA(testKey(t, pki.ECDSAP256), "", 30*24*time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	c := issue(t, ca, serverRequest(pki.KindServer), testKey(t, pki.ECDSAP256))
	if c.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v is after the CA's %v", c.NotAfter, ca.Cert.NotAfter)
	}
	if !c.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v, want it capped at the CA's %v", c.NotAfter, ca.Cert.NotAfter)
	}
}

func TestSerials(t *testing.T) {
	ca := newTestCA(t, pki.ECDSAP256)
	key := testKey(t, pki.ECDSAP256)
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	seen := map[string]bool{ca.Cert.SerialNumber.String(): true}
	maxBits := 0
	const n = 64
	for range n {
		s := issue(t, ca, serverRequest(pki.KindServer), key).SerialNumber
		if s.Sign() <= 0 || s.Cmp(limit) >= 0 {
			t.Fatalf("serial %v out of (0, 2^128)", s)
		}
		if seen[s.String()] {
			t.Fatalf("serial %v issued twice", s)
		}
		seen[s.String()] = true
		maxBits = max(maxBits, s.BitLen())
	}
	// 64 uniformly random 128-bit serials all shorter than 121 bits has
	// probability 2^-448: a counter or a 64-bit serial would fail here.
	if maxBits <= 120 {
		t.Errorf("longest of %d serials has %d bits; want 128-bit random serials", n, maxBits)
	}
}

func TestKeyIDs(t *testing.T) {
	for _, alg := range pki.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			ca, err := pki.NewCA(testKey(t, alg), "", 0, testNow)
			if err != nil {
				t.Fatal(err)
			}
			ecKey := newKey(t, pki.ECDSAP256)
			leaves := []*x509.Certificate{
				issue(t, ca, serverRequest(pki.KindServer), ecKey),
				issue(t, ca, serverRequest(pki.KindPeer), ecKey),
				issue(t, ca, pki.Request{Kind: pki.KindHealthcheckClient}, testKey(t, pki.Ed25519)),
			}
			if len(ca.Cert.SubjectKeyId) == 0 {
				t.Fatal("CA has no SubjectKeyId")
			}
			for i, l := range leaves {
				if len(l.SubjectKeyId) == 0 {
					t.Errorf("leaf %d has no SubjectKeyId", i)
				}
				if !bytes.Equal(l.AuthorityKeyId, ca.Cert.SubjectKeyId) {
					t.Errorf("leaf %d AuthorityKeyId %x, want the CA's SubjectKeyId %x", i, l.AuthorityKeyId, ca.Cert.SubjectKeyId)
				}
			}
			// The key ID identifies the key: equal for one key, different
			// for another.
			if !bytes.Equal(leaves[0].SubjectKeyId, leaves[1].SubjectKeyId) {
				t.Error("two certs for one key have different SubjectKeyIds")
			}
			if bytes.Equal(leaves[0].SubjectKeyId, leaves[2].SubjectKeyId) || bytes.Equal(leaves[0].SubjectKeyId, ca.Cert.SubjectKeyId) {
				t.Error("certs for different keys share a SubjectKeyId")
			}
		})
	}
}

func TestIssueErrors(t *testing.T) {
	ca := newTestCA(t, pki.ECDSAP256)
	pub := testKey(t, pki.ECDSAP256).Public()
	tests := []struct {
		name string
		ca   *pki.CA
		req  pki.Request
	}{
		{"CA without key", &pki.CA{Cert: ca.Cert}, serverRequest(pki.KindServer)},
		{"unknown kind", ca, serverRequest("bogus")},
		{"CA kind is not a leaf", ca, serverRequest(pki.KindCA)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := tt.ca.Issue(tt.req, pub, testNow); err == nil {
				t.Errorf("issued %v, want an error", c.Subject)
			}
		})
	}
}

func TestLeafKinds(t *testing.T) {
	tests := []struct {
		split bool
		want  []pki.Kind
	}{
		{false, []pki.Kind{pki.KindServer, pki.KindPeer, pki.KindHealthcheckClient, pki.KindAPIServerClient}},
		{true, []pki.Kind{pki.KindServer, pki.KindPeer, pki.KindHealthcheckClient, pki.KindAPIServerClient, pki.KindServerClient, pki.KindPeerClient}},
	}
	for _, tt := range tests {
		if got := pki.LeafKinds(tt.split); !slices.Equal(got, tt.want) {
			t.Errorf("LeafKinds(%v) = %v, want %v", tt.split, got, tt.want)
		}
	}
}
