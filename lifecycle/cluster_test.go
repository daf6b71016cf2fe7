package lifecycle_test

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
	"github.com/etcdpki/etcdpki/spec"
)

// Base ports of this package's clusters (client=base, peer=base+1,
// metrics=base+2, each member on its own 127.0.0.x). Every package has its
// own range below 32768, where Linux's ephemeral ports begin: lifecycle
// has 28000-29999.
const (
	portAddMember = 28379
	portRenew     = 28479
	portRotate    = 28579
)

// startLoopback writes an n-member loopback PKI with layout.Init and boots
// it; Close runs at the end of the test.
func startLoopback(t *testing.T, n, base int) (*local.Cluster, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots an etcd cluster")
	}
	c, err := spec.Loopback(n, base, base+1, base+2)
	if err != nil {
		t.Fatal(err)
	}
	c.Algorithm = pki.ECDSAP256
	out := t.TempDir()
	if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := local.StartFromDir(ctx, out, c, local.Options{ReadyTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, out
}

// probeOptions probes the cluster through etcd-1's client URL with its
// healthcheck-client credential, trusting caFile, and compares what is
// served with the files in out.
func probeOptions(cl *local.Cluster, out, caFile string) probe.Options {
	root := layout.MemberDir(out, "etcd-1")
	return probe.Options{
		Endpoints:  cl.Endpoints()[:1],
		CACert:     caFile,
		Cert:       layout.OnDisk(root, layout.Kubeadm.CertPath(pki.KindHealthcheckClient)),
		Key:        layout.OnDisk(root, layout.Kubeadm.KeyPath(pki.KindHealthcheckClient)),
		MemberDirs: []string{out},
		Timeout:    2 * time.Second,
	}
}

// probeClean runs probe and fails on any finding.
func probeClean(t *testing.T, opts probe.Options) *probe.Report {
	t.Helper()
	r, err := probe.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		t.Errorf("probe: %s", f.Error())
	}
	return r
}

// TestAddMemberToRunningCluster adds a fourth member to a running
// 3-member cluster as kubeadm joins a control-plane node: add-member
// issues its certificates from the cluster's CA, the cluster learns its
// peer URL as a learner (MemberAddAsLearner), the member starts with
// --initial-cluster-state=existing, and it is promoted once it has caught
// up. probe is clean over all four afterwards.
func TestAddMemberToRunningCluster(t *testing.T) {
	cl, out := startLoopback(t, 3, portAddMember)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	m := spec.Member{Name: "etcd-4", IPs: []string{"127.0.0.4"}}
	res, err := lifecycle.AddMember(out, m, lifecycle.AddMemberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, out)

	tlsCfg, err := cl.ClientTLS("etcd-1", pki.KindAPIServerClient)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := local.NewClient(cl.Endpoints(), tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "/before/join", "x"); err != nil {
		t.Fatal(err)
	}
	// etcd's --strict-reconfig-check (on by default) refuses a member
	// add until the member asked has been connected to a quorum of peers
	// for HealthInterval (5 s, mayAddMember: "etcdserver: unhealthy
	// cluster"): right after a boot, adding waits.
	peerURL := res.Spec.PeerURL(&res.Spec.Members[3])
	var added *clientv3.MemberAddResponse
	retry(t, 20*time.Second, "unhealthy cluster", func() error {
		added, err = cli.MemberAddAsLearner(ctx, []string{peerURL})
		return err
	})
	start := time.Now()
	if err := cl.AddMember(ctx, m); err != nil {
		t.Fatalf("starting etcd-4: %v", err)
	}
	t.Logf("etcd-4 ready as a learner after %s", time.Since(start).Round(time.Millisecond))

	// etcd refuses to promote a learner that has not caught up with the
	// leader ("can only promote a learner member which is in sync with
	// leader"); kubeadm retries, and so does this.
	retry(t, 30*time.Second, "in sync with leader", func() error {
		_, err := cli.MemberPromote(ctx, added.Member.ID)
		return err
	})
	t.Logf("etcd-4 promoted %s after it started", time.Since(start).Round(time.Millisecond))
	ml, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, mm := range ml.Members {
		if mm.IsLearner {
			t.Errorf("%s is still a learner", mm.Name)
		}
	}
	if len(ml.Members) != 4 {
		t.Fatalf("%d members, want 4", len(ml.Members))
	}

	// The new member serves reads and writes, with the certificates
	// add-member wrote for it.
	tls4, err := cl.ClientTLS("etcd-4", pki.KindAPIServerClient)
	if err != nil {
		t.Fatal(err)
	}
	cli4, err := local.NewClient([]string{cl.Config("etcd-4").AdvertiseClientURLs[0]}, tls4)
	if err != nil {
		t.Fatal(err)
	}
	defer cli4.Close()
	// The promotion is a raft configuration change that etcd-4 applies only
	// when the committed entry reaches it; until then its own server still
	// answers "etcdserver: rpc not supported for learner".
	retry(t, 10*time.Second, "rpc not supported for learner", func() error {
		_, err := cli4.Put(ctx, "/after/join", "y")
		return err
	})
	got, err := cli4.Get(ctx, "/before/join")
	if err != nil || len(got.Kvs) != 1 {
		t.Fatalf("reading through etcd-4: %v %v", got, err)
	}
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}

	r := probeClean(t, probeOptions(cl, out, layout.OnDisk(layout.MemberDir(out, "etcd-1"), layout.Kubeadm.CertPath(pki.KindCA))))
	if len(r.Members) != 4 || len(r.Endpoints) != 8 {
		t.Errorf("probe saw %d members and %d endpoints, want 4 and 8", len(r.Members), len(r.Endpoints))
	}
}

// TestRenewOnRunningCluster renews every leaf on disk while the cluster
// runs and shows that new connections are served the new certificates
// without a restart: etcd's GetCertificate callback reads the files on
// every handshake (transport.TLSInfo.baseConfig calls tlsutil.NewCert).
func TestRenewOnRunningCluster(t *testing.T) {
	cl, out := startLoopback(t, 3, portRenew)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	caFile := layout.OnDisk(layout.MemberDir(out, "etcd-1"), layout.Kubeadm.CertPath(pki.KindCA))
	before := probeClean(t, probeOptions(cl, out, caFile))

	res, err := lifecycle.Renew(out, lifecycle.RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fingerprints := map[string]string{} // member/kind -> new fingerprint
	for _, is := range res.Issued {
		fingerprints[is.Member+"/"+string(is.Kind)] = is.Fingerprint
	}
	after := probeClean(t, probeOptions(cl, out, caFile))
	old := map[string]string{}
	for _, e := range before.Endpoints {
		old[e.URL] = e.Served.Fingerprint
	}
	for _, e := range after.Endpoints {
		kind := pki.KindServer
		if e.Port == probe.PortPeer {
			kind = pki.KindPeer
		}
		if e.Served == nil {
			t.Errorf("%s served nothing", e.URL)
			continue
		}
		if want := fingerprints[e.Member+"/"+string(kind)]; e.Served.Fingerprint != want {
			t.Errorf("%s serves %s, want the renewed %s %s", e.URL, e.Served.Fingerprint, kind, want)
		}
		if e.Served.Fingerprint == old[e.URL] {
			t.Errorf("%s still serves the old certificate", e.URL)
		}
		t.Logf("%s %-6s serial %s (was %s)", e.Member, e.Port, e.Served.Serial, shortSerial(before, e.URL))
	}
	// The cluster works on, with the renewed client certificates too.
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func shortSerial(r *probe.Report, url string) string {
	for _, e := range r.Endpoints {
		if e.URL == url && e.Served != nil {
			return e.Served.Serial
		}
	}
	return "?"
}

// retry calls f until it succeeds, failing the test on an error that does
// not contain transient or once timeout has passed.
func retry(t *testing.T, timeout time.Duration, transient string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), transient) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
