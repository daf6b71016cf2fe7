package lifecycle_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// nodeSnapshot is snapshot without the node's state directory (the lock
// file every run takes, and backups).
func nodeSnapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	s := snapshot(t, dir)
	for p := range s {
		if strings.HasPrefix(p, "var/lib/etcdpki/") {
			delete(s, p)
		}
	}
	return s
}

// loadNode reads one member directory as check does.
func loadNode(t testing.TB, dir string) *member.Member {
	t.Helper()
	ms, err := member.LoadDirs([]string{dir}, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("%s: %d members", dir, len(ms))
	}
	return ms[0]
}

// kubeadmNode writes a kubeadm control-plane node's tree as kubeadm leaves
// it, with no cluster.yaml: the member tree of cp1 from init, plus the etcd
// static pod etcdpki flags renders for it, whose addresses are then
// changed from 10.0.0.11 to addr (the node moved). It returns the node's
// directory.
func kubeadmNode(t testing.TB, addr string) string {
	t.Helper()
	node := distro.KubeadmNodes(t, threeMembers(t), t.TempDir(), true)[0]
	manifest := filepath.Join(node, "etc/kubernetes/manifests/etcd.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.WriteFile(manifest, []byte(strings.ReplaceAll(string(data), "10.0.0.11", addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	return node
}

func sans(t testing.TB, path string) []string {
	t.Helper()
	c := readCert(t, path)
	var s []string
	s = append(s, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		s = append(s, ip.String())
	}
	sort.Strings(s)
	return s
}

// TestRenewKubeadmNodeFollowsItsManifest renews a kubeadm node whose
// address changed (its manifest says 10.0.0.99, its certificates name
// 10.0.0.11): the serving certificates name both, as kubeadm certs renew
// would not; the client certificates name nothing, an old subject is kept
// and a peer certificate's missing clientAuth repaired; files keep their mode
// and a non-root owner; the old files are in the node's backups; and
// check is clean afterwards.
func TestRenewKubeadmNodeFollowsItsManifest(t *testing.T) {
	node := kubeadmNode(t, "10.0.0.99")
	server := filepath.Join(node, "etc/kubernetes/pki/etcd/server.crt")
	serverKey := filepath.Join(node, "etc/kubernetes/pki/etcd/server.key")
	peer := filepath.Join(node, "etc/kubernetes/pki/etcd/peer.crt")
	oldServer, err := os.ReadFile(server)
	if err != nil {
		t.Fatal(err)
	}
	// A key the node's admin made group-readable stays so; one owned by
	// another user (as root) stays that user's.
	if err := os.Chmod(serverKey, 0o640); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	if root {
		if err := os.Chown(serverKey, 1234, 1235); err != nil {
			t.Fatal(err)
		}
	}
	// A peer certificate without clientAuth (R3) and an apiserver client
	// from before kubeadm 1.29, in system:masters: renew repairs the
	// first's usages and keeps the second's subject.
	caKP, err := layout.ReadKeyPair(filepath.Join(node, "etc/kubernetes/pki/etcd/ca.crt"), filepath.Join(node, "etc/kubernetes/pki/etcd/ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca := &pki.CA{Cert: caKP.Cert, Key: caKP.Key}
	plant := func(certFile, keyFile string, req pki.Request) {
		t.Helper()
		key, err := layout.ReadKey(filepath.Join(node, keyFile))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ca.Issue(req, key.Public(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := layout.WriteFile(filepath.Join(node, certFile), pki.EncodeCert(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oldPeer := readCert(t, peer)
	plant("etc/kubernetes/pki/etcd/peer.crt", "etc/kubernetes/pki/etcd/peer.key",
		pki.Request{Kind: pki.KindPeer, CommonName: "cp1", DNSNames: oldPeer.DNSNames, IPs: oldPeer.IPAddresses, Split: true})
	masters := pkix.Name{CommonName: pki.APIServerClientCommonName, Organization: []string{"system:masters"}}
	plant("etc/kubernetes/pki/apiserver-etcd-client.crt", "etc/kubernetes/pki/apiserver-etcd-client.key",
		pki.Request{Kind: pki.KindAPIServerClient, Subject: &masters})
	before := loadNode(t, node)
	if before.Name != "cp1" || before.NameFrom != "manifest" {
		t.Fatalf("member %s from %s, want cp1 from its manifest", before.Name, before.NameFrom)
	}
	res, err := lifecycle.RenewMember(before, lifecycle.RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 4 {
		t.Errorf("issued %d certificates, want kubeadm's 4 etcd ones: %+v", len(res.Issued), res.Issued)
	}
	want := []string{"10.0.0.11", "10.0.0.99", "127.0.0.1", "::1", "cp1", "localhost"}
	sort.Strings(want)
	for _, p := range []string{server, peer} {
		if got := sans(t, p); !slices.Equal(got, want) {
			t.Errorf("%s names %v, want %v", p, got, want)
		}
	}
	if !slices.Contains(readCert(t, peer).ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Error("the renewed peer certificate still lacks clientAuth")
	}
	if got := readCert(t, filepath.Join(node, "etc/kubernetes/pki/apiserver-etcd-client.crt")).Subject; got.CommonName != masters.CommonName || !slices.Equal(got.Organization, masters.Organization) {
		t.Errorf("the renewed apiserver-etcd-client is %v, want its subject %v kept", got, masters)
	}
	for _, p := range []string{"etc/kubernetes/pki/etcd/healthcheck-client.crt", "etc/kubernetes/pki/apiserver-etcd-client.crt"} {
		if got := sans(t, filepath.Join(node, p)); len(got) != 0 {
			t.Errorf("%s names %v, want none", p, got)
		}
	}
	st, err := os.Stat(serverKey)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("server.key is %v after renew, want its 0640 kept", st.Mode().Perm())
	}
	if sys := st.Sys().(*syscall.Stat_t); root && (sys.Uid != 1234 || sys.Gid != 1235) {
		t.Errorf("server.key is owned by %d:%d after renew, want 1234:1235 kept", sys.Uid, sys.Gid)
	}
	if res.Backup == "" {
		t.Fatal("no backup")
	}
	backup, err := os.ReadFile(filepath.Join(node, res.Backup, "etc/kubernetes/pki/etcd/server.crt"))
	if err != nil || string(backup) != string(oldServer) {
		t.Errorf("backup of server.crt: %v; want the old content", err)
	}
	if !strings.HasPrefix(res.Backup, filepath.Join("var", "lib", "etcdpki", "backups")+string(filepath.Separator)) {
		t.Errorf("backup in %s, want the node's /var/lib/etcdpki/backups", res.Backup)
	}
	if err := os.Chmod(serverKey, 0o600); err != nil { // CIS-KEY-PERM otherwise
		t.Fatal(err)
	}
	checkClean(t, node)

	// Run again with --expiring-within: nothing expires and the names are
	// right, so nothing is written.
	again, err := lifecycle.RenewMember(loadNode(t, node), lifecycle.RenewOptions{ExpiringWithin: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Issued) != 0 || len(again.Kept) != 4 {
		t.Errorf("second run issued %d, kept %d; want 0 and 4", len(again.Issued), len(again.Kept))
	}
}

// TestRenewNodeNames: --add-ip adds to the serving certificates only;
// --remove-ip of an address the manifest still uses is refused, with
// nothing written; removing an old address the settings no longer use
// works.
func TestRenewNodeNames(t *testing.T) {
	node := kubeadmNode(t, "10.0.0.99")
	server := filepath.Join(node, "etc/kubernetes/pki/etcd/server.crt")
	before := nodeSnapshot(t, node)
	_, err := lifecycle.RenewMember(loadNode(t, node), lifecycle.RenewOptions{RemoveIPs: []string{"10.0.0.99"}})
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Detail, "still uses 10.0.0.99") {
		t.Fatalf("removing an address the manifest uses: %v, want a refusal", err)
	}
	if ch := changed(before, nodeSnapshot(t, node)); len(ch) > 0 {
		t.Errorf("a refused renew changed %v", ch)
	}
	if _, err := lifecycle.RenewMember(loadNode(t, node), lifecycle.RenewOptions{RemoveIPs: []string{"10.0.0.11"}, AddDNSNames: []string{"etcd.example.com"}}); err != nil {
		t.Fatal(err)
	}
	got := sans(t, server)
	if slices.Contains(got, "10.0.0.11") || !slices.Contains(got, "10.0.0.99") || !slices.Contains(got, "etcd.example.com") {
		t.Errorf("server.crt names %v, want 10.0.0.99 and etcd.example.com without 10.0.0.11", got)
	}
	checkClean(t, node)
}

// TestRenewNodeWithoutCAKey: a node whose CA key is elsewhere (an external
// CA) is refused with a reason, nothing written.
func TestRenewNodeWithoutCAKey(t *testing.T) {
	node := kubeadmNode(t, "10.0.0.11")
	if err := os.Remove(filepath.Join(node, "etc/kubernetes/pki/etcd/ca.key")); err != nil {
		t.Fatal(err)
	}
	before := nodeSnapshot(t, node)
	_, err := lifecycle.RenewMember(loadNode(t, node), lifecycle.RenewOptions{})
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Detail, "key") {
		t.Fatalf("renew without the CA key: %v, want a refusal", err)
	}
	if ch := changed(before, nodeSnapshot(t, node)); len(ch) > 0 {
		t.Errorf("a refused renew changed %v", ch)
	}
}

// caKeyElsewhere are the distributions whose nodes do not hold the key of
// the CA that signs etcd's leaves, so renew on the node is refused.
var caKeyElsewhere = map[string]string{
	// cluster-etcd-operator keeps the etcd-signer key in a secret of
	// openshift-config; masters get the leaves only.
	"openshift": "the etcd-signer key is not on the masters",
}

// addressesOffDisk are the distributions that keep no etcd settings on
// the node (machined and etcd-manager build etcd's flags at run time): a
// member's addresses are unknown offline, so renew keeps the names the
// certificates have, and --add-ip restores a missing one.
var addressesOffDisk = map[string]bool{"talos": true, "kops": true}

// TestRenewEveryLayout renews every member of every distribution's
// fixture in place, clean and with a member whose serving certificates
// leave out its own IP: afterwards check finds what it finds on the clean
// cluster (the missing IP came back from the member's settings, or from
// --add-ip where the node keeps no settings), each
// renewed file kept its mode, and no file outside the member's own
// changed but for the backups.
func TestRenewEveryLayout(t *testing.T) {
	var names []string
	for name := range distro.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clean := distro.All[name](t, t.TempDir(), distro.Options{})
			want := ruleSet(t, clean.Dirs)
			f := distro.All[name](t, t.TempDir(), distro.Options{OmitIP: "node2"})
			if _, ok := caKeyElsewhere[name]; !ok && !addressesOffDisk[name] && slices.Equal(ruleSet(t, f.Dirs), want) {
				t.Fatalf("the planted fault (node2's IP left out) is not found before renew: %v", want)
			}
			for i, dir := range f.Dirs {
				m := loadNode(t, dir)
				modes := fileModes(t, m)
				var opts lifecycle.RenewOptions
				if addressesOffDisk[name] && i == 1 {
					opts.AddIPs = []string{f.Nodes[1].IP}
				}
				res, err := lifecycle.RenewMember(m, opts)
				if why, ok := caKeyElsewhere[name]; ok {
					var re *lifecycle.RefusedError
					if !errors.As(err, &re) {
						t.Fatalf("%s: %v, want a refusal (%s)", dir, err, why)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", dir, err)
				}
				if len(res.Issued) == 0 {
					t.Errorf("%s: nothing renewed", dir)
				}
				after := loadNode(t, dir)
				if i == 1 {
					for _, k := range []pki.Kind{pki.KindServer, pki.KindPeer} {
						if c := after.Files[k].Cert(); c == nil || !slices.ContainsFunc(c.IPAddresses, func(ip net.IP) bool { return ip.String() == f.Nodes[1].IP }) {
							t.Errorf("%s: the renewed %s certificate does not name %s", dir, k, f.Nodes[1].IP)
						}
					}
				}
				for p, mode := range fileModes(t, after) {
					if modes[p] != mode {
						t.Errorf("%s: mode %v, was %v", p, mode, modes[p])
					}
				}
			}
			if got := ruleSet(t, f.Dirs); !slices.Equal(got, want) {
				t.Errorf("after renew, check finds %v; on a clean cluster %v", got, want)
			}
		})
	}
}

// ruleSet is the sorted set of rule IDs check finds at warning or above.
func ruleSet(t testing.TB, dirs []string) []string {
	t.Helper()
	r, err := audit.CheckDirs(dirs, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range r.Findings {
		if f.Severity >= audit.Warning && !slices.Contains(ids, string(f.Rule)) {
			ids = append(ids, string(f.Rule))
		}
	}
	sort.Strings(ids)
	return ids
}

// fileModes are the modes of a member's leaf files.
func fileModes(t testing.TB, m *member.Member) map[string]os.FileMode {
	t.Helper()
	out := map[string]os.FileMode{}
	for _, k := range m.SortedKinds() {
		f := m.Files[k]
		for _, p := range []string{f.CertPath, f.KeyPath} {
			if st, err := os.Stat(p); err == nil {
				out[p] = st.Mode().Perm()
			}
		}
	}
	return out
}

// BenchmarkRenewNode renews one kubeadm node's four etcd certificates in
// place (ecdsa-p256), reading the node as renew --local does: the target
// is under 50 ms a run.
func BenchmarkRenewNode(b *testing.B) {
	node := kubeadmNode(b, "10.0.0.11")
	for b.Loop() {
		res, err := lifecycle.RenewMember(loadNode(b, node), lifecycle.RenewOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Issued) != 4 {
			b.Fatalf("issued %d", len(res.Issued))
		}
	}
}
