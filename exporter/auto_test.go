package exporter_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/exporter"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
)

// Ports of the exporter package's cluster tests.
const (
	autoClusterPort  = 29679 // client; +1 peer, +2 metrics
	autoExporterPort = 29699 // every member's exporter, on its own 127.0.0.x
)

// TestPeersAuto: a real 3-member etcd cluster on 127.0.0.1-3 (embed), an
// exporter on each member's address reading its own tree, and etcd-1's
// with --probe and --peers auto: it finds etcd-2's and etcd-3's exporters
// from the cluster's member list (each peer URL's host, at the peer
// port) and judges the three members.
func TestPeersAuto(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not booting a cluster")
	}
	t.Parallel()
	cl, err := local.Start(context.Background(), local.Options{Dir: t.TempDir(), Members: 3, ClientPort: autoClusterPort, PeerPort: autoClusterPort + 1, MetricsPort: autoClusterPort + 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	l, _ := layout.ForName(cl.Spec().Layout)
	dir := func(m string) string { return layout.MemberDir(cl.Dir(), m) }
	port := strconv.Itoa(autoExporterPort)
	for i, m := range []string{"etcd-2", "etcd-3"} {
		e := exporter.New(exporter.Options{Dirs: []string{dir(m)}})
		if err := e.Scan(t.Context()); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0."+strconv.Itoa(i+2), port))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: e.Handler()}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	root := dir("etcd-1")
	po := &probe.Options{
		Endpoints: cl.Endpoints()[:1],
		CACert:    layout.OnDisk(root, l.CertPath(pki.KindCA)),
		Cert:      layout.OnDisk(root, l.CertPath(pki.KindHealthcheckClient)),
		Key:       layout.OnDisk(root, l.KeyPath(pki.KindHealthcheckClient)),
		Timeout:   2 * time.Second,
	}
	e := exporter.New(exporter.Options{Dirs: []string{root}, Probe: po, Peers: []string{exporter.PeersAuto}, PeerPort: port})
	if err := e.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	mfs := gather(t, e)
	for _, host := range []string{"127.0.0.2", "127.0.0.3"} {
		u := "http://" + net.JoinHostPort(host, port) + "/bundle"
		if v := value(t, mfs, "etcdpki_peer_bundle_fresh", map[string]string{"peer": u}); v != 1 {
			t.Errorf("discovered peer %s: fresh %v", u, v)
		}
	}
	if v := values(mfs, "etcdpki_peer_bundle_fresh", nil); len(v) != 2 {
		t.Errorf("%d peers discovered, want 2 (not etcd-1 itself)", len(v))
	}
	for name, want := range map[string]float64{"etcdpki_members": 3, "etcdpki_check_cluster_forms": 1, "etcdpki_check_clients_connect": 1, "etcdpki_probe_success": 1} {
		if v := value(t, mfs, name, nil); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}

	// A peer list that misses etcd-3, which the member list names: not
	// the whole cluster, so no verdict.
	e = exporter.New(exporter.Options{Dirs: []string{root}, Probe: po, Peers: []string{"http://" + net.JoinHostPort("127.0.0.2", port) + "/bundle"}})
	if err := e.Scan(t.Context()); err == nil || !strings.Contains(err.Error(), "no bundle holds member etcd-3 of the cluster's member list") {
		t.Errorf("etcd-3 unseen: %v", err)
	}
	if v := value(t, gather(t, e), "etcdpki_check_cluster_forms", nil); v != 0 {
		t.Errorf("etcd-3 unseen: cluster_forms %v", v)
	}

	// Without the probe's member list, auto cannot find anyone: a scan
	// error, no verdict.
	e = exporter.New(exporter.Options{Dirs: []string{root}, Peers: []string{exporter.PeersAuto}})
	if err := e.Scan(t.Context()); err == nil {
		t.Error("--peers auto without a probe: no scan error")
	}
	if v := value(t, gather(t, e), "etcdpki_check_cluster_forms", nil); v != 0 {
		t.Errorf("--peers auto without a probe: cluster_forms %v", v)
	}
}
