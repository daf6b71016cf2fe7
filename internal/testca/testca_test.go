package testca_test

import (
	"crypto/x509"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// TestTweaksChangeOnlyTheirField: a tweaked certificate is the profile's
// certificate with one field changed, still signed by the CA, so that a
// fault-matrix row breaks exactly one thing.
func TestTweaksChangeOnlyTheirField(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ca := testca.NewCA(t, pki.ECDSAP256, now)
	key := testca.NewKey(t, pki.ECDSAP256)
	req := pki.Request{Kind: pki.KindPeer, CommonName: "cp1", DNSNames: []string{"cp1"}}
	plain := testca.Issue(t, ca, req, key, now)
	tweaked := testca.Issue(t, ca, req, key, now, testca.EKU(x509.ExtKeyUsageServerAuth))
	if err := tweaked.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatalf("tweaked cert does not verify: %v", err)
	}
	if !slices.Equal(tweaked.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("EKU = %v", tweaked.ExtKeyUsage)
	}
	if tweaked.Subject.String() != plain.Subject.String() || !slices.Equal(tweaked.DNSNames, plain.DNSNames) ||
		!tweaked.NotAfter.Equal(plain.NotAfter) || tweaked.KeyUsage != plain.KeyUsage || string(tweaked.RawIssuer) != string(plain.RawIssuer) {
		t.Errorf("tweak changed more than the EKU:\n%+v\n%+v", plain, tweaked)
	}

	sha1 := testca.Issue(t, ca, req, key, now, testca.Signature(x509.ECDSAWithSHA1))
	if sha1.SignatureAlgorithm != x509.ECDSAWithSHA1 {
		t.Errorf("signature algorithm %s, want ECDSA-SHA1", sha1.SignatureAlgorithm)
	}
	notCA := testca.NewCA(t, pki.Ed25519, now, testca.NotCA())
	if notCA.Cert.IsCA || notCA.Cert.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("NotCA: IsCA=%t usage=%v", notCA.Cert.IsCA, notCA.Cert.KeyUsage)
	}
	sans := testca.Issue(t, ca, req, key, now, testca.SANs("a.example", "10.1.2.3"))
	if !slices.Equal(sans.DNSNames, []string{"a.example"}) || len(sans.IPAddresses) != 1 || sans.IPAddresses[0].String() != "10.1.2.3" {
		t.Errorf("SANs: %v %v", sans.DNSNames, sans.IPAddresses)
	}
}

// TestCluster: New writes init's output; Reissue and WriteSettings put
// their files where the layout says, with kubeadm's permissions.
func TestCluster(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 2, Manifests: true})
	if got := c.Names(); !slices.Equal(got, []string{"cp1", "cp2"}) {
		t.Fatalf("members %v", got)
	}
	cert := c.Reissue("cp2", pki.KindServer, testca.SANs("cp2"))
	kp, err := layout.ReadKeyPair(c.CertPath("cp2", pki.KindServer), c.KeyPath("cp2", pki.KindServer))
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Cert.Equal(cert) {
		t.Error("Reissue wrote another certificate than it returned")
	}
	if err := kp.Cert.CheckSignatureFrom(c.CA.Cert); err != nil {
		t.Errorf("reissued cert is not from the cluster CA: %v", err)
	}
	for p, want := range map[string]os.FileMode{
		c.KeyPath("cp2", pki.KindServer):  layout.KeyPerm,
		c.CertPath("cp2", pki.KindServer): layout.CertPerm,
		c.ManifestPath("cp1"):             layout.KeyPerm,
	} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	if got := testca.MemberIP(1000); got != "10.0.3.242" {
		t.Errorf("MemberIP(1000) = %s", got)
	}
}
