package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
)

// portRenewNode is the base port of TestRenewNodeTreeOnRunningCluster.
const portRenewNode = 28979

// TestRenewNodeTreeOnRunningCluster renews one running member's node tree
// in place, as `etcdpki renew --local` does on the node: etcd-2's tree,
// read through its kubeadm manifest as check reads it (not through init's
// spec). probe then sees etcd-2 serve the new certificates on both ports
// without a restart, the other members serve what they served, served
// matches disk everywhere, and the cluster works on.
func TestRenewNodeTreeOnRunningCluster(t *testing.T) {
	cl, out := startLoopback(t, 3, portRenewNode)
	tree := distro.KubeadmNodes(t, out, "", false)[1]
	caFile := layout.OnDisk(layout.MemberDir(out, "etcd-1"), layout.Kubeadm.CertPath(pki.KindCA))
	before := probeClean(t, probeOptions(cl, out, caFile))

	m := loadNode(t, tree)
	if m.Name != "etcd-2" || m.NameFrom != "manifest" {
		t.Fatalf("read %s from %s, want etcd-2 from its manifest", m.Name, m.NameFrom)
	}
	res, err := lifecycle.RenewMember(m, lifecycle.RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	renewed := map[pki.Kind]string{}
	for _, is := range res.Issued {
		renewed[is.Kind] = is.Fingerprint
	}
	after := probeClean(t, probeOptions(cl, out, caFile))
	old := map[string]string{}
	for _, e := range before.Endpoints {
		if e.Served != nil {
			old[e.URL] = e.Served.Fingerprint
		}
	}
	for _, e := range after.Endpoints {
		if e.Served == nil {
			t.Errorf("%s served nothing", e.URL)
			continue
		}
		kind := pki.KindServer
		if e.Port == probe.PortPeer {
			kind = pki.KindPeer
		}
		switch {
		case e.Member == "etcd-2" && e.Served.Fingerprint != renewed[kind]:
			t.Errorf("%s serves %s, want the renewed %s", e.URL, e.Served.Fingerprint, renewed[kind])
		case e.Member != "etcd-2" && e.Served.Fingerprint != old[e.URL]:
			t.Errorf("%s (not renewed) serves another certificate than before", e.URL)
		}
		t.Logf("%s %-6s serial %s (was %s)", e.Member, e.Port, e.Served.Serial, shortSerial(before, e.URL))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
