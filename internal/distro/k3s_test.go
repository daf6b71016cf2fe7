package distro

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// The tests of k3s.go; rke2_test.go runs the shared ones on RKE2 too.

func TestK3sFiles(t *testing.T)     { t.Parallel(); testRancherFiles(t, K3s, rancherK3s) }
func TestK3sOpenSSL(t *testing.T)   { t.Parallel(); testRancherOpenSSL(t, K3s, rancherK3s) }
func TestK3sConfig(t *testing.T)    { t.Parallel(); testRancherConfig(t, K3s, rancherK3s, false) }
func TestK3sFaults(t *testing.T)    { t.Parallel(); testRancherFaults(t, K3s, rancherK3s) }
func TestK3sOneServer(t *testing.T) { t.Parallel(); testRancherOneServer(t, K3s, rancherK3s) }
func TestK3sRestarted(t *testing.T) {
	t.Parallel()
	testRancherConfig(t, K3sRestarted, rancherK3s, true)
}
func TestK3sRegistered(t *testing.T) { wantRegistered(t, "k3s", "k3s-restarted") }

func TestK3sRestartedSamePKI(t *testing.T) {
	t.Parallel()
	f := K3sRestarted(t, t.TempDir(), Options{})
	if f.Distribution != "k3s-restarted" {
		t.Errorf("Distribution = %q", f.Distribution)
	}
	if len(f.Dirs) != 3 {
		t.Fatalf("%d members", len(f.Dirs))
	}
	ca := readLeaf(t, f.Dirs[0], rancherK3s.etcdTLS(rancherServerCA))
	leaf := readLeaf(t, f.Dirs[2], rancherK3s.etcdTLS(rancherServer))
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Errorf("restarted member's serving cert: %v", err)
	}
}

func rancherSameCert(a, b *x509.Certificate) bool { return bytes.Equal(a.Raw, b.Raw) }

func testRancherFiles(t *testing.T, gen Generator, r rancherFlavor) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	f := gen(t, t.TempDir(), Options{Now: now})
	if f.Distribution != r.name {
		t.Errorf("Distribution = %q, want %q", f.Distribution, r.name)
	}
	if len(f.Dirs) != 3 || len(f.Members) != 3 || len(f.Nodes) != 3 {
		t.Fatalf("dirs %v members %v nodes %v", f.Dirs, f.Members, f.Nodes)
	}
	again := gen(t, t.TempDir(), Options{Now: now})
	if !slices.Equal(f.Members, again.Members) {
		t.Errorf("member names differ between runs: %v, %v", f.Members, again.Members)
	}
	memberRE := regexp.MustCompile(`^node[1-3]-[0-9a-f]{8}$`)

	modes := map[string]os.FileMode{
		r.etcdTLS(rancherServerCA): 0o644, r.etcdTLS(rancherServerCAKey): 0o600,
		r.etcdTLS(rancherPeerCA): 0o644, r.etcdTLS(rancherPeerCAKey): 0o600,
		r.etcdTLS(rancherServer): 0o644, r.etcdTLS(rancherServerKey): 0o600,
		r.etcdTLS(rancherPeer): 0o644, r.etcdTLS(rancherPeerKey): 0o600,
		r.etcdTLS(rancherClient): 0o644, r.etcdTLS(rancherClientKey): 0o600,
		r.serverDir() + "/tls/server-ca.crt": 0o644, r.serverDir() + "/tls/server-ca.key": 0o600,
		r.serverDir() + "/tls/server-ca.nochain.crt": 0o644,
		r.etcdDataDir() + "/config":                  0o600, r.etcdDataDir() + "/name": 0o600,
		r.serverDir() + "/tls": os.ModeDir | 0o700, r.serverDir() + "/tls/etcd": os.ModeDir | 0o755,
		r.etcdDataDir(): os.ModeDir | 0o700,
	}
	ts := fmt.Sprint(now.Unix())
	first := f.Dirs[0]
	serverCA := readCerts(t, first, r.etcdTLS(rancherServerCA))
	peerCA := readCerts(t, first, r.etcdTLS(rancherPeerCA))
	k8sCA := readCerts(t, first, r.serverDir()+"/tls/server-ca.crt")
	for _, ca := range []struct {
		certs []*x509.Certificate
		cn    string
	}{{serverCA, "etcd-server-ca@" + ts}, {peerCA, "etcd-peer-ca@" + ts}, {k8sCA, r.program + "-server-ca@" + ts}} {
		if len(ca.certs) != 1 {
			t.Fatalf("%s: %d certificates in the CA file", ca.cn, len(ca.certs))
		}
		c := ca.certs[0]
		if c.Subject.CommonName != ca.cn || !c.IsCA || c.SerialNumber.Sign() != 0 {
			t.Errorf("CA %q: CN %q, IsCA %v, serial %v", ca.cn, c.Subject.CommonName, c.IsCA, c.SerialNumber)
		}
		if !c.NotBefore.Equal(now) || !c.NotAfter.Equal(now.Add(10*365*24*time.Hour)) {
			t.Errorf("CA %q valid %v–%v", ca.cn, c.NotBefore, c.NotAfter)
		}
		if c.KeyUsage != x509.KeyUsageKeyEncipherment|x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign {
			t.Errorf("CA %q key usage %v", ca.cn, c.KeyUsage)
		}
		if err := c.CheckSignatureFrom(c); err != nil {
			t.Errorf("CA %q not self-signed: %v", ca.cn, err)
		}
		wantP256(t, ca.cn, c)
	}
	if rancherSameCert(serverCA[0], peerCA[0]) || rancherSameCert(serverCA[0], k8sCA[0]) {
		t.Error("the etcd server, etcd peer and Kubernetes CAs are not distinct")
	}

	type leaf struct {
		file, key string
		ca        *x509.Certificate
		cn        string
		ekus      []x509.ExtKeyUsage
		sans      bool
	}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	leaves := []leaf{
		{rancherServer, rancherServerKey, serverCA[0], "etcd-server", both, true},
		{rancherPeer, rancherPeerKey, peerCA[0], "etcd-peer", both, true},
		{rancherClient, rancherClientKey, serverCA[0], "etcd-client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false},
	}
	seenKeys := distinctKeys{}
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		if !memberRE.MatchString(f.Members[i]) || !strings.HasPrefix(f.Members[i], n.Host+"-") {
			t.Errorf("member name %q", f.Members[i])
		}
		if name := string(readNode(t, root, r.etcdDataDir()+"/name")); name != f.Members[i] {
			t.Errorf("%s: name file %q, member %q", n.Host, name, f.Members[i])
		}
		for p, want := range modes {
			wantMode(t, root, p, want)
		}
		// Every server holds the cluster's CA certificates and keys.
		for _, p := range []string{rancherServerCA, rancherServerCAKey, rancherPeerCA, rancherPeerCAKey} {
			if !bytes.Equal(readNode(t, root, r.etcdTLS(p)), readNode(t, first, r.etcdTLS(p))) {
				t.Errorf("%s: %s differs from the first server's", n.Host, p)
			}
		}
		for _, l := range leaves {
			certs := readCerts(t, root, r.etcdTLS(l.file))
			if len(certs) != 2 || !rancherSameCert(certs[1], l.ca) {
				t.Errorf("%s: %s is not the leaf followed by its CA (%d certificates)", n.Host, l.file, len(certs))
			}
			c := certs[0]
			if err := c.CheckSignatureFrom(l.ca); err != nil {
				t.Errorf("%s: %s: %v", n.Host, l.file, err)
			}
			if c.Subject.CommonName != l.cn || c.IsCA || !slices.Equal(c.ExtKeyUsage, l.ekus) {
				t.Errorf("%s: %s: CN %q IsCA %v EKU %v", n.Host, l.file, c.Subject.CommonName, c.IsCA, c.ExtKeyUsage)
			}
			if c.KeyUsage != x509.KeyUsageKeyEncipherment|x509.KeyUsageDigitalSignature {
				t.Errorf("%s: %s key usage %v", n.Host, l.file, c.KeyUsage)
			}
			if !c.NotBefore.Equal(now) || !c.NotAfter.Equal(now.Add(365*24*time.Hour)) {
				t.Errorf("%s: %s valid %v–%v", n.Host, l.file, c.NotBefore, c.NotAfter)
			}
			wantDNS, wantIPs := []string(nil), []string(nil)
			if l.sans {
				wantDNS = []string{"kine.sock", "localhost", n.Host}
				wantIPs = []string{"127.0.0.1", "::1", n.IP, "10.43.0.1"}
			}
			if !slices.Equal(c.DNSNames, wantDNS) || !slices.Equal(ipStrings(c.IPAddresses), wantIPs) {
				t.Errorf("%s: %s SANs %v %v, want %v %v", n.Host, l.file, c.DNSNames, ipStrings(c.IPAddresses), wantDNS, wantIPs)
			}
			wantP256(t, l.file, c)
			keyPEM := readNode(t, root, r.etcdTLS(l.key))
			wantPEM(t, n.Host+" "+l.key, keyPEM, "EC PRIVATE KEY")
			key, err := pki.ParseKey(keyPEM)
			if err != nil || !pki.KeyMatches(c.PublicKey, key) {
				t.Errorf("%s: %s does not match %s (%v)", n.Host, l.key, l.file, err)
			}
			seenKeys.add(t, n.Host+" "+l.key, keyPEM)
		}
	}
}

// testRancherOpenSSL checks each leaf against its CA file the way an
// operator would: openssl verify -CAfile.
func testRancherOpenSSL(t *testing.T, gen Generator, r rancherFlavor) {
	needOpenSSL(t)
	f := gen(t, t.TempDir(), Options{})
	// verify checks files of tls/etcd.
	verify := func(root, ca string, leaves ...string) error {
		var paths []string
		for _, l := range leaves {
			paths = append(paths, r.etcdTLS(l))
		}
		return opensslVerifyIn(root, r.etcdTLS(ca), "", paths...)
	}
	for i, root := range f.Dirs {
		host := f.Nodes[i].Host
		if err := verify(root, rancherServerCA, rancherServer, rancherClient); err != nil {
			t.Errorf("%s: server-ca: %v", host, err)
		}
		if err := verify(root, rancherPeerCA, rancherPeer); err != nil {
			t.Errorf("%s: peer-ca: %v", host, err)
		}
		if verify(root, rancherServerCA, rancherPeer) == nil {
			t.Errorf("%s: the peer cert verifies against the server CA", host)
		}
		if verify(root, rancherPeerCA, rancherServer) == nil {
			t.Errorf("%s: the serving cert verifies against the peer CA", host)
		}
	}
}

// testRancherConfig loads each member's etcd config file as etcd does and
// checks its member settings and that its TLS files are in the tree.
func testRancherConfig(t *testing.T, gen Generator, r rancherFlavor, restarted bool) {
	f := gen(t, t.TempDir(), Options{})
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		p := layout.OnDisk(root, r.etcdDataDir()+"/config")
		cfg, err := embed.ConfigFromFile(p)
		if err != nil {
			t.Fatalf("%s: embed.ConfigFromFile: %v", n.Host, err)
		}
		if cfg.Name != f.Members[i] || cfg.Dir != r.etcdDataDir() {
			t.Errorf("%s: name %q data-dir %q", n.Host, cfg.Name, cfg.Dir)
		}
		// etcd keeps URL lists sorted (flags.UniqueURLsFromFlag).
		urls := func(us []url.URL) string {
			var s []string
			for _, u := range us {
				s = append(s, u.String())
			}
			slices.Sort(s)
			return fmt.Sprint(s)
		}
		sorted := func(s ...string) string {
			slices.Sort(s)
			return fmt.Sprint(s)
		}
		if got, want := urls(cfg.ListenClientUrls), sorted("https://127.0.0.1:2379", "https://"+n.IP+":2379"); got != want {
			t.Errorf("%s: listen-client-urls %s, want %s", n.Host, got, want)
		}
		if got, want := urls(cfg.AdvertiseClientUrls), sorted("https://"+n.IP+":2379"); got != want {
			t.Errorf("%s: advertise-client-urls %s, want %s", n.Host, got, want)
		}
		if got, want := urls(cfg.ListenPeerUrls), sorted("https://127.0.0.1:2380", "https://"+n.IP+":2380"); got != want {
			t.Errorf("%s: listen-peer-urls %s, want %s", n.Host, got, want)
		}
		if !cfg.ClientTLSInfo.ClientCertAuth || !cfg.PeerTLSInfo.ClientCertAuth {
			t.Errorf("%s: client-cert-auth off", n.Host)
		}
		tls := map[string]string{
			"cert-file": cfg.ClientTLSInfo.CertFile, "key-file": cfg.ClientTLSInfo.KeyFile, "trusted-ca-file": cfg.ClientTLSInfo.TrustedCAFile,
			"peer-cert-file": cfg.PeerTLSInfo.CertFile, "peer-key-file": cfg.PeerTLSInfo.KeyFile, "peer-trusted-ca-file": cfg.PeerTLSInfo.TrustedCAFile,
		}
		want := map[string]string{
			"cert-file": r.etcdTLS(rancherServer), "key-file": r.etcdTLS(rancherServerKey), "trusted-ca-file": r.etcdTLS(rancherServerCA),
			"peer-cert-file": r.etcdTLS(rancherPeer), "peer-key-file": r.etcdTLS(rancherPeerKey), "peer-trusted-ca-file": r.etcdTLS(rancherPeerCA),
		}
		for k, v := range tls {
			if v != want[k] {
				t.Errorf("%s: %s = %q, want %q", n.Host, k, v, want[k])
			}
			if _, err := os.Stat(layout.OnDisk(root, v)); err != nil {
				t.Errorf("%s: %s: %v", n.Host, k, err)
			}
		}

		data := readNode(t, root, r.etcdDataDir()+"/config")
		var raw map[string]any
		if err := yaml.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		initialKeys := []string{"initial-advertise-peer-urls", "initial-cluster", "initial-cluster-state"}
		if restarted {
			for _, k := range initialKeys {
				if _, ok := raw[k]; ok {
					t.Errorf("%s: restarted member's config has %s", n.Host, k)
				}
			}
			continue
		}
		var members []string
		for j := 0; j <= i; j++ {
			members = append(members, fmt.Sprintf("%s=https://%s:2380", f.Members[j], f.Nodes[j].IP))
		}
		wantState, wantAdvertise := "existing", any(nil)
		if i == 0 {
			wantState, wantAdvertise = "new", fmt.Sprintf("https://%s:2380", n.IP)
		}
		if cfg.ClusterState != wantState || cfg.InitialCluster != strings.Join(members, ",") || raw["initial-advertise-peer-urls"] != wantAdvertise {
			t.Errorf("%s: initial-cluster-state %q initial-cluster %q initial-advertise-peer-urls %v", n.Host, cfg.ClusterState, cfg.InitialCluster, raw["initial-advertise-peer-urls"])
		}
	}
}

func testRancherOneServer(t *testing.T, gen Generator, r rancherFlavor) {
	f := gen(t, t.TempDir(), Options{Nodes: []Node{{Host: "srv", IP: "192.168.1.5"}}})
	if len(f.Dirs) != 1 || f.Members[0] != rancherMemberName("srv") {
		t.Fatalf("members %v", f.Members)
	}
	cfg, err := embed.ConfigFromFile(layout.OnDisk(f.Dirs[0], r.etcdDataDir()+"/config"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClusterState != "new" || cfg.InitialCluster != f.Members[0]+"=https://192.168.1.5:2380" {
		t.Errorf("state %q cluster %q", cfg.ClusterState, cfg.InitialCluster)
	}
}

// rancherVerifyLeaf verifies a leaf file's first certificate against one CA,
// for a use and (if not empty) a dialed host.
func rancherVerifyLeaf(t *testing.T, root, leafPath string, ca *x509.Certificate, usage x509.ExtKeyUsage, host string) error {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := readLeaf(t, root, leafPath).Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

func testRancherFaults(t *testing.T, gen Generator, r rancherFlavor) {
	type cas struct{ server, peer *x509.Certificate }
	load := func(root string) cas {
		return cas{readLeaf(t, root, r.etcdTLS(rancherServerCA)), readLeaf(t, root, r.etcdTLS(rancherPeerCA))}
	}
	// signedBy checks every leaf of a member against the given CAs.
	signedBy := func(t *testing.T, root string, c cas) {
		t.Helper()
		for _, l := range []struct {
			file string
			ca   *x509.Certificate
		}{{rancherServer, c.server}, {rancherClient, c.server}, {rancherPeer, c.peer}} {
			certs := readCerts(t, root, r.etcdTLS(l.file))
			if err := certs[0].CheckSignatureFrom(l.ca); err != nil {
				t.Errorf("%s: %v", l.file, err)
			}
			if !rancherSameCert(certs[len(certs)-1], l.ca) {
				t.Errorf("%s: the chain does not end with its CA", l.file)
			}
		}
	}

	t.Run("OmitIP", func(t *testing.T) {
		t.Parallel()
		f := gen(t, t.TempDir(), Options{OmitIP: "node2"})
		for i, root := range f.Dirs {
			n := f.Nodes[i]
			ca := load(root)
			for _, l := range []struct {
				file string
				ca   *x509.Certificate
			}{{rancherServer, ca.server}, {rancherPeer, ca.peer}} {
				err := rancherVerifyLeaf(t, root, r.etcdTLS(l.file), l.ca, x509.ExtKeyUsageServerAuth, n.IP)
				if (err == nil) != (n.Host != "node2") {
					t.Errorf("%s: %s for %s: %v", n.Host, l.file, n.IP, err)
				}
				// The loopback and node-name SANs stay.
				if err := rancherVerifyLeaf(t, root, r.etcdTLS(l.file), l.ca, x509.ExtKeyUsageServerAuth, n.Host); err != nil {
					t.Errorf("%s: %s for %s: %v", n.Host, l.file, n.Host, err)
				}
			}
		}
	})
	t.Run("ForeignCA", func(t *testing.T) {
		t.Parallel()
		f := gen(t, t.TempDir(), Options{ForeignCA: "node3"})
		cluster, foreign := load(f.Dirs[0]), load(f.Dirs[2])
		if !rancherSameCert(load(f.Dirs[1]).server, cluster.server) || !rancherSameCert(load(f.Dirs[1]).peer, cluster.peer) {
			t.Error("node2's CAs are not the cluster's")
		}
		if rancherSameCert(foreign.server, cluster.server) || rancherSameCert(foreign.peer, cluster.peer) {
			t.Fatal("node3 kept a cluster CA")
		}
		if !strings.HasPrefix(foreign.server.Subject.CommonName, "etcd-server-ca@") || !strings.HasPrefix(foreign.peer.Subject.CommonName, "etcd-peer-ca@") {
			t.Errorf("foreign CA names %q %q", foreign.server.Subject.CommonName, foreign.peer.Subject.CommonName)
		}
		signedBy(t, f.Dirs[2], foreign)
		signedBy(t, f.Dirs[0], cluster)
		for _, p := range []string{rancherServer, rancherPeer, rancherClient} {
			leaf := readLeaf(t, f.Dirs[2], r.etcdTLS(p))
			if leaf.CheckSignatureFrom(cluster.server) == nil || leaf.CheckSignatureFrom(cluster.peer) == nil {
				t.Errorf("node3's %s is signed by a cluster CA", p)
			}
		}
	})
	t.Run("OwnPeerCA", func(t *testing.T) {
		t.Parallel()
		f := gen(t, t.TempDir(), Options{OwnPeerCA: "node2"})
		cluster, own := load(f.Dirs[0]), load(f.Dirs[1])
		if !rancherSameCert(own.server, cluster.server) {
			t.Error("node2's server CA is not the cluster's")
		}
		if rancherSameCert(own.peer, cluster.peer) {
			t.Fatal("node2 has the cluster's peer CA")
		}
		signedBy(t, f.Dirs[1], own)
		if readLeaf(t, f.Dirs[1], r.etcdTLS(rancherPeer)).CheckSignatureFrom(cluster.peer) == nil {
			t.Error("node2's peer cert is signed by the cluster peer CA")
		}
		if !bytes.Equal(readNode(t, f.Dirs[1], r.etcdTLS(rancherServerCAKey)), readNode(t, f.Dirs[0], r.etcdTLS(rancherServerCAKey))) {
			t.Error("node2's server CA key is not the cluster's")
		}
		signedBy(t, f.Dirs[2], cluster)
	})
	t.Run("OwnClientCA", func(t *testing.T) {
		t.Parallel()
		f := gen(t, t.TempDir(), Options{OwnClientCA: "node2"})
		cluster, own := load(f.Dirs[0]), load(f.Dirs[1])
		if !rancherSameCert(own.peer, cluster.peer) {
			t.Error("node2's peer CA is not the cluster's")
		}
		if rancherSameCert(own.server, cluster.server) {
			t.Fatal("node2 has the cluster's server CA")
		}
		signedBy(t, f.Dirs[1], own)
		for _, p := range []string{rancherServer, rancherClient} {
			if readLeaf(t, f.Dirs[1], r.etcdTLS(p)).CheckSignatureFrom(cluster.server) == nil {
				t.Errorf("node2's %s is signed by the cluster server CA", p)
			}
		}
		if !bytes.Equal(readNode(t, f.Dirs[1], r.etcdTLS(rancherPeerCAKey)), readNode(t, f.Dirs[0], r.etcdTLS(rancherPeerCAKey))) {
			t.Error("node2's peer CA key is not the cluster's")
		}
		signedBy(t, f.Dirs[2], cluster)
	})
}
