package audit_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// TestRoles: which roles each profile and each broken variant can fill,
// with the rule check would fire and the reason in words.
func TestRoles(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ca := testca.NewCA(t, pki.ECDSAP256, now)
	key := testca.NewKey(t, pki.ECDSAP256)
	serving := pki.Request{Kind: pki.KindPeer, CommonName: "cp1", DNSNames: []string{"cp1", "localhost"},
		IPs: []net.IP{net.ParseIP("10.0.0.11"), net.ParseIP("127.0.0.1")}}
	client := pki.Request{Kind: pki.KindHealthcheckClient}
	issue := func(req pki.Request, tweaks ...testca.Tweak) *x509.Certificate {
		return testca.Issue(t, ca, req, key, now, tweaks...)
	}
	type want struct {
		ok   bool
		rule audit.RuleID
		why  string // a substring
	}
	for _, tc := range []struct {
		name                     string
		cert                     *x509.Certificate
		server, peer, cl, caRole want
	}{
		{"peer profile", issue(serving),
			want{true, "", "names [cp1, localhost, 10.0.0.11, 127.0.0.1]"}, want{true, "", "serverAuth and clientAuth"},
			want{true, "", `CN "cp1"`}, want{false, "", "a leaf"}},
		{"serverAuth only", issue(serving, testca.EKU(x509.ExtKeyUsageServerAuth)),
			want{false, audit.RuleEKUServerGateway, "only with --client-cert-file"},
			want{false, audit.RuleEKUPeerClient, "lacks clientAuth (etcd uses peer.crt as a client cert too)"},
			want{false, audit.RuleEKUClient, "lacks clientAuth (has serverAuth)"}, want{false, "", "a leaf"}},
		{"no EKU extension means any", issue(serving, testca.EKU()),
			want{true, "", ""}, want{true, "", ""}, want{true, "", ""}, want{false, "", "a leaf"}},
		{"no loopback", issue(serving, testca.SANs("cp1", "10.0.0.11")),
			want{false, audit.RuleServerLoopback, "does not name 127.0.0.1"}, want{true, "", ""}, want{true, "", ""}, want{false, "", "a leaf"}},
		{"no SANs", issue(serving, testca.SANs()),
			want{false, audit.RuleServerSAN, "no SANs"}, want{false, audit.RulePeerSAN, "no SANs"}, want{true, "", ""}, want{false, "", "a leaf"}},
		{"client profile", issue(client),
			want{false, audit.RuleEKUServer, "lacks serverAuth (has clientAuth)"}, want{false, audit.RuleEKUPeerServer, "lacks serverAuth"},
			want{true, "", "kube-etcd-healthcheck-client"}, want{false, "", "a leaf"}},
		{"CA", ca.Cert,
			want{false, "", "a CA certificate"}, want{false, "", "a CA certificate"}, want{false, "", "a CA certificate"},
			want{true, "", "self-signed root"}},
		{"CA without keyCertSign", testca.NewCA(t, pki.ECDSAP256, now, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }).Cert,
			want{false, "", ""}, want{false, "", ""}, want{false, "", ""}, want{false, audit.RuleNotCA, "keyCertSign"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fits := audit.Roles(tc.cert)
			wants := []want{tc.server, tc.peer, tc.cl, tc.caRole}
			roles := []audit.Role{audit.RoleServer, audit.RolePeer, audit.RoleClient, audit.RoleCA}
			if len(fits) != len(wants) {
				t.Fatalf("%d roles, want %d", len(fits), len(wants))
			}
			for i, f := range fits {
				w := wants[i]
				if f.Role != roles[i] || f.OK != w.ok || f.Rule != w.rule || !strings.Contains(f.Why, w.why) {
					t.Errorf("%s: ok=%t rule=%q why=%q; want ok=%t rule=%q why containing %q", roles[i], f.OK, f.Rule, f.Why, w.ok, w.rule, w.why)
				}
				if f.OK && f.Rule != "" {
					t.Errorf("%s: OK but rule %s", f.Role, f.Rule)
				}
			}
		})
	}
}

// TestAuthorities: distinct CAs across members, named apart when they
// share a CN, with who trusts them and who holds their key.
func TestAuthorities(t *testing.T) {
	c := testca.New(t, testca.Options{})
	other := testca.NewCA(t, pki.ECDSAP256, c.Now)
	c.UseCA(other, "cp3")
	// cp2 trusts both during a rotation but holds only the old key.
	c.WriteCert("cp2", pki.KindCA, c.CA.Cert, other.Cert)
	ms, err := member.LoadDirs([]string{c.Dir}, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	as := member.Authorities(ms)
	if len(as) != 2 {
		t.Fatalf("%d authorities, want 2", len(as))
	}
	if as[0].Name != "etcd-ca" || as[1].Name != "etcd-ca #2" {
		t.Errorf("names %q, %q; want etcd-ca, etcd-ca #2", as[0].Name, as[1].Name)
	}
	if got := strings.Join(as[0].Members, ","); got != "cp1,cp2" {
		t.Errorf("first CA trusted by %s, want cp1,cp2", got)
	}
	if got := strings.Join(as[1].Members, ","); got != "cp2,cp3" {
		t.Errorf("second CA trusted by %s, want cp2,cp3", got)
	}
	if got := strings.Join(as[1].KeyOn, ","); got != "cp3" || as[1].ExternallyManaged() || as[1].KeyOnMember("cp2") {
		t.Errorf("second CA key on %q, want cp3 only", got)
	}
	leaf := ms[2].Files[pki.KindServer].Cert()
	if a := member.IssuerOf(as, leaf); a != as[1] {
		t.Errorf("IssuerOf(cp3 server) = %v, want the second CA", a)
	}
	if a := member.IssuerOf(as[:1], leaf); a != nil {
		t.Errorf("IssuerOf without its CA = %v, want nil", a.Name)
	}
}

// TestRolesUnhandledCriticalExtension: a certificate Go refuses in any
// chain fills no role, whatever its usages.
func TestRolesUnhandledCriticalExtension(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	cert := c.Reissue("cp1", pki.KindServer, func(x *x509.Certificate) {
		x.ExtraExtensions = append(x.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{0x05, 0x00}})
	})
	for _, f := range audit.Roles(cert) {
		if f.OK || f.Rule != audit.RuleChainRejected {
			t.Errorf("%s: ok=%t rule=%s, want no and CHAIN-REJECTED", f.Role, f.OK, f.Rule)
		}
	}
}
