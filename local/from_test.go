package local

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/internal/testca"
	members "github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// Ports of the up --from tests: all members on 127.0.0.1, member i on
// base+3i, +3i+1, +3i+2.
const (
	portFromKubeadm = 21379
	portFromSAN     = 21479
	portFromK3s     = 21579
)

// treeHash fingerprints every file (path, mode, content) under dirs, to
// prove that booting from them writes nothing there.
func treeHash(t *testing.T, dirs []string) [32]byte {
	t.Helper()
	h := sha256.New()
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			h.Write([]byte(p + info.Mode().String()))
			if info.Mode().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				h.Write(b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func startFrom(t *testing.T, dirs []string, port int) (*FromCluster, []*members.Member) {
	t.Helper()
	ms, err := members.LoadDirs(dirs, nil, members.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanFrom(ms, FromOptions{BasePort: port})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultReadyTimeout)
	defer cancel()
	cl, err := StartFrom(ctx, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, ms
}

// TestUpFromKubeadmNodes: kubeadm node trees built by test code, with
// 10.0.0.11-13 in their certificates and kubeadm's static pod manifests
// and no cluster.yaml, boot as they are on 127.0.0.1; every serving
// certificate verifies with the member's real addresses as the server
// name; a write through every member reads back; nothing in the trees
// changes.
func TestUpFromKubeadmNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster")
	}
	t.Parallel()
	c := testca.New(t, testca.Options{Manifests: true})
	dirs := []string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}
	before := treeHash(t, dirs)
	cl, _ := startFrom(t, dirs, portFromKubeadm)
	checks := cl.VerifyNames(context.Background())
	seen := map[string]bool{}
	for _, nc := range checks {
		if nc.Err != "" {
			t.Errorf("%s %s port as %s: %s", nc.Member, nc.Port, nc.Host, nc.Err)
		}
		seen[nc.Member+" "+nc.Port+" "+nc.Host] = true
	}
	for i, name := range []string{"cp1", "cp2", "cp3"} {
		ip := testca.MemberIP(i + 1)
		for _, want := range []string{name + " client " + ip, name + " peer " + ip, name + " client 127.0.0.1"} {
			if !seen[want] {
				t.Errorf("no verification of %s (checks: %+v)", want, checks)
			}
		}
	}
	if err := cl.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cl.Close(); treeHash(t, dirs) != before {
		t.Error("booting from the trees changed them")
	}
}

// TestUpFromMissingSAN: cp2's server.crt without its real IP still runs
// here, but its verification with 10.0.0.12 as the server name fails,
// explain names R4-SERVER-SAN for the error, and check reports the same
// rule on cp2.
func TestUpFromMissingSAN(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster")
	}
	t.Parallel()
	c := testca.New(t, testca.Options{Manifests: true})
	c.Reissue("cp2", pki.KindServer, func(x *x509.Certificate) {
		var keep []net.IP
		for _, ip := range x.IPAddresses {
			if ip.String() != "10.0.0.12" {
				keep = append(keep, ip)
			}
		}
		x.IPAddresses = keep
	})
	dirs := []string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}
	cl, ms := startFrom(t, dirs, portFromSAN)
	failed := 0
	for _, nc := range cl.VerifyNames(context.Background()) {
		switch {
		case nc.Member == "cp2" && nc.Port == "client" && nc.Host == "10.0.0.12":
			failed++
			if !strings.Contains(nc.Err, "not 10.0.0.12") {
				t.Errorf("cp2's client port as 10.0.0.12: %q, want a name error", nc.Err)
			}
			if p := audit.Explain("client port: " + nc.Err).Primary(); p == nil || p.Rule.ID != audit.RuleServerSAN {
				t.Errorf("explain %q = %v, want %s", nc.Err, p, audit.RuleServerSAN)
			}
		case nc.Err != "":
			t.Errorf("%s %s port as %s: %s", nc.Member, nc.Port, nc.Host, nc.Err)
		}
	}
	if failed != 1 {
		t.Errorf("cp2's client port as 10.0.0.12 verified %d times, want once", failed)
	}
	rep := audit.Check(ms, audit.Options{})
	found := false
	for _, f := range rep.Findings {
		found = found || (f.Rule == audit.RuleServerSAN && f.Member == "cp2")
	}
	if !found {
		t.Errorf("check does not report R4-SERVER-SAN on cp2: %v", rep.Findings)
	}
}

// TestUpFromK3s: a k3s server's tree, with its separate peer and client
// CAs (tls/etcd/peer-ca.crt, server-ca.crt), boots and serves.
func TestUpFromK3s(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster")
	}
	t.Parallel()
	f := distro.All["k3s"](t, t.TempDir(), distro.Options{})
	cl, ms := startFrom(t, f.Dirs, portFromK3s)
	if ms[0].CA.CertPath == ms[0].PeerCA.CertPath {
		t.Fatalf("k3s's fixture has one CA for both ports: %s", ms[0].CA.CertPath)
	}
	for _, nc := range cl.VerifyNames(context.Background()) {
		if nc.Err != "" {
			t.Errorf("%s %s port as %s: %s", nc.Member, nc.Port, nc.Host, nc.Err)
		}
	}
	if err := cl.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}
