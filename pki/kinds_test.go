package pki_test

import (
	"crypto/x509"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

// TestKindTableMatchesProfiles: what the kind table says of each kind is
// what its issued profile carries, so the commands that read the table
// judge certificates the way init makes them.
func TestKindTableMatchesProfiles(t *testing.T) {
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca, err := pki.NewCA(key, "", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range pki.Kinds() {
		req := pki.Request{Kind: info.Kind, CommonName: "cp1", DNSNames: []string{"cp1"}, IPs: []net.IP{net.ParseIP("10.0.0.11")}}
		cert, err := ca.Issue(req, key.Public(), now)
		if err != nil {
			t.Fatalf("%s: %v", info.Kind, err)
		}
		if got := slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth); got != info.ServerAuth {
			t.Errorf("%s: serverAuth %t, table says %t", info.Kind, got, info.ServerAuth)
		}
		if got := slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth); got != info.ClientAuth {
			t.Errorf("%s: clientAuth %t, table says %t", info.Kind, got, info.ClientAuth)
		}
		if got := len(cert.DNSNames)+len(cert.IPAddresses) > 0; got != info.SANs {
			t.Errorf("%s: SANs %t, table says %t", info.Kind, got, info.SANs)
		}
		if info.Port == "" || info.Use == "" || info.Name == "" || info.Title == "" {
			t.Errorf("%s: incomplete row %+v", info.Kind, info)
		}
		if info.Kind.Info() != info {
			t.Errorf("%s: Info() differs from the table row", info.Kind)
		}
	}
	if got := pki.LeafKinds(false); !slices.Equal(got, []pki.Kind{pki.KindServer, pki.KindPeer, pki.KindHealthcheckClient, pki.KindAPIServerClient}) {
		t.Errorf("LeafKinds(false) = %v", got)
	}
	if got := len(pki.LeafKinds(true)); got != 6 {
		t.Errorf("LeafKinds(true) has %d kinds, want 6", got)
	}
}
