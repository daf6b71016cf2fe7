package expiry_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/expiry"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// issued is when the test clusters are issued; the reports are read 200
// days later.
var issued = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func load(t *testing.T, dirs ...string) []*member.Member {
	t.Helper()
	ms, err := member.LoadDirs(dirs, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestScan: a cluster where cp2's peer cert expires in 10 days and cp3's
// server cert was signed by a foreign CA, read 200 days after issue.
func TestScan(t *testing.T) {
	c := testca.New(t, testca.Options{Now: issued})
	c.Reissue("cp2", pki.KindPeer, testca.Validity(issued.Add(-time.Hour), issued.Add(209*24*time.Hour+23*time.Hour)))
	foreign := testca.NewCA(t, pki.ECDSAP256, issued, func(x *x509.Certificate) { x.Subject.CommonName = "foreign-ca" })
	c.ReissueFrom(foreign, "cp3", pki.KindServer, testca.NewKey(t, pki.ECDSAP256))
	now := issued.Add(200 * 24 * time.Hour)
	r := expiry.Scan(load(t, c.Dir), now)

	first := r.Certificates[0]
	if first.Member != "cp2" || first.Name != "etcd-peer" || first.Residual != "9d" {
		t.Errorf("soonest = %s/%s in %s, want cp2/etcd-peer in 9d", first.Member, first.Name, first.Residual)
	}
	for _, cert := range r.Certificates {
		if cert.Member == "cp3" && cert.Kind == pki.KindServer {
			if cert.SignedByMemberCA || cert.Authority != "foreign-ca" || !cert.ExternallyManaged {
				t.Errorf("cp3 server: %+v, want foreign-ca, not the member's, externally managed", cert)
			}
		} else if cert.Authority != "etcd-ca" || cert.ExternallyManaged {
			t.Errorf("%s/%s: authority %q, externally managed %t", cert.Member, cert.Name, cert.Authority, cert.ExternallyManaged)
		}
	}
	if len(r.Authorities) != 1 || strings.Join(r.Authorities[0].Members, ",") != "cp1,cp2,cp3" || r.Authorities[0].ExternallyManaged {
		t.Errorf("authorities = %+v, want etcd-ca on cp1-cp3 with its key", r.Authorities)
	}
	if got := r.Within(10 * 24 * time.Hour); strings.Join(got, ",") != "cp2/etcd-peer" {
		t.Errorf("Within(10d) = %v, want [cp2/etcd-peer]", got)
	}
	if got := r.Within(0); len(got) != 0 {
		t.Errorf("Within(0) = %v, want none", got)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "scan.txt.golden", text.Bytes())

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back expiry.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.SchemaVersion != expiry.SchemaVersion || len(back.Certificates) != 12 || back.Certificates[0].ResidualSeconds != 9*86400+23*3600 {
		t.Errorf("JSON round trip: schema %q, %d certs, first residual %ds", back.SchemaVersion, len(back.Certificates), back.Certificates[0].ResidualSeconds)
	}
}

// TestExternalCA: without ca.key on the members, every row is externally
// managed, as kubeadm says of an external CA.
func TestExternalCA(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1, ExternalCA: true, Now: issued})
	r := expiry.Scan(load(t, c.Dir), issued)
	for _, cert := range r.Certificates {
		if !cert.ExternallyManaged || !cert.SignedByMemberCA {
			t.Errorf("%s: externally managed %t, signed by member CA %t", cert.Name, cert.ExternallyManaged, cert.SignedByMemberCA)
		}
	}
	if !r.Authorities[0].ExternallyManaged || len(r.Authorities[0].KeyOn) != 0 {
		t.Errorf("CA: %+v, want externally managed", r.Authorities[0])
	}
}

// TestExpiredAndMissing: an expired cert shows kubeadm's <invalid> and
// sorts first, is red on a terminal, and a missing file is reported, not
// fatal.
func TestExpiredAndMissing(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1, Now: issued})
	c.Reissue("cp1", pki.KindHealthcheckClient, testca.Validity(issued.Add(-48*time.Hour), issued.Add(-24*time.Hour)))
	if err := os.Remove(c.CertPath("cp1", pki.KindAPIServerClient)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(c.CertPath("cp1", pki.KindServer)); err != nil {
		t.Fatal(err)
	}
	r := expiry.Scan(load(t, c.Dir), issued)
	// The missing server.crt comes first, as kubeadm's !MISSING!.
	if c := r.Certificates[0]; c.Kind != pki.KindServer || !c.Missing || c.Residual != "!MISSING!" {
		t.Errorf("first = %+v, want the missing server certificate", c)
	}
	if c := r.Certificates[1]; c.Kind != pki.KindHealthcheckClient || c.Residual != "<invalid>" || c.ResidualSeconds >= 0 {
		t.Errorf("second = %+v, want the expired healthcheck client", c)
	}
	if len(r.Certificates) != 3 {
		t.Errorf("%d certificates, want 3 (server missing, peer and healthcheck-client)", len(r.Certificates))
	}
	if len(r.Problems) != 1 || r.Problems[0].Rule != audit.RuleFileMissing {
		t.Errorf("problems = %v, want the missing server.crt", r.Problems)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "!MISSING! etcd-server") {
		t.Errorf("missing server.crt not listed as !MISSING!:\n%s", text.String())
	}
	if !strings.Contains(text.String(), "\x1b[31m<invalid>\x1b[0m") {
		t.Errorf("expired residual not red:\n%q", text.String())
	}
	if !strings.Contains(text.String(), "not read:\n  cp1: ") || !strings.Contains(text.String(), "FILE-MISSING") {
		t.Errorf("missing file not reported:\n%s", text.String())
	}
}

func TestShortDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-48 * time.Hour, "<invalid>"},
		{-time.Second, "0s"},
		{0, "0s"},
		{59 * time.Second, "59s"},
		{90 * time.Second, "1m"},
		{59 * time.Minute, "59m"},
		{23 * time.Hour, "23h"},
		{25 * time.Hour, "1d"},
		{364 * 24 * time.Hour, "364d"},
		{365 * 24 * time.Hour, "1y"},
		{10 * 365 * 24 * time.Hour, "10y"},
	} {
		if got := expiry.ShortDuration(tc.d); got != tc.want {
			t.Errorf("ShortDuration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestName(t *testing.T) {
	for kind, want := range map[pki.Kind]string{
		pki.KindServer: "etcd-server", pki.KindPeer: "etcd-peer", pki.KindHealthcheckClient: "etcd-healthcheck-client",
		pki.KindAPIServerClient: "apiserver-etcd-client", pki.KindPeerClient: "etcd-peer-client",
	} {
		if got := expiry.Name(kind); got != want {
			t.Errorf("Name(%s) = %q, want %q", kind, got, want)
		}
	}
}
