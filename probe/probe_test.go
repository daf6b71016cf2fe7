package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

// Ports for this package's clusters; other packages' tests use others.
const basePort = 25379

// startCluster boots a healthy 3-member cluster and returns it with probe
// options that use etcd-1's healthcheck-client credential.
func startCluster(t testing.TB, port int) (*local.Cluster, Options) {
	t.Helper()
	cl, err := local.Start(context.Background(), local.Options{Dir: t.TempDir(), Members: 3, ClientPort: port, PeerPort: port + 1, MetricsPort: port + 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, optionsFor(cl, "etcd-1")
}

func optionsFor(cl *local.Cluster, member string) Options {
	l, _ := layout.ForName(cl.Spec().Layout)
	root := layout.MemberDir(cl.Dir(), member)
	return Options{
		Endpoints: cl.Endpoints()[:1],
		CACert:    layout.OnDisk(root, l.CertPath(pki.KindCA)),
		Cert:      layout.OnDisk(root, l.CertPath(pki.KindHealthcheckClient)),
		Key:       layout.OnDisk(root, l.KeyPath(pki.KindHealthcheckClient)),
		Timeout:   2 * time.Second,
	}
}

func TestProbeHealthyCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster")
	}
	cl, opts := startCluster(t, basePort)
	opts.MemberDirs = []string{cl.Dir()}
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		t.Errorf("unexpected finding: %v", f.Error())
	}
	if len(r.Members) != 3 {
		t.Errorf("discovered %d members, want 3", len(r.Members))
	}
	if len(r.Endpoints) != 6 {
		t.Fatalf("probed %d endpoints, want 6 (3 client + 3 peer)", len(r.Endpoints))
	}
	for _, e := range r.Endpoints {
		checks := map[string]*bool{"chain": e.ChainOK, "name": e.NameOK, "no-cert refused": e.NoCertRefused,
			"foreign CA refused": e.ForeignCARefused, "TLS 1.1 refused": e.OldTLSRefused, "read": e.ReadOK}
		for name, v := range checks {
			if v == nil || !*v {
				t.Errorf("%s %s: %s check did not pass (error %q)", e.Member, e.URL, name, e.Error)
			}
		}
		if e.TLSVersion != "TLS 1.3" {
			t.Errorf("%s: TLS version %q, want TLS 1.3", e.URL, e.TLSVersion)
		}
	}
	if !r.Verdict.ClusterForms || !r.Verdict.ClientsConnect {
		t.Errorf("verdict %+v, want a healthy cluster", r.Verdict)
	}
}

func TestProbeDiskMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster")
	}
	cl, opts := startCluster(t, basePort+100)
	// Re-issue etcd-2's leaves on disk: etcd serves them from the next
	// handshake on, but compare against a stale copy of the old tree.
	stale := t.TempDir()
	if err := copyTree(layout.MemberDir(cl.Dir(), "etcd-2"), stale); err != nil {
		t.Fatal(err)
	}
	if _, err := layout.Init(cl.Spec(), cl.Dir(), layout.InitOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	opts.MemberDirs = []string{stale}
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, string(f.Rule)+" "+f.Member+" "+f.File)
	}
	want := []string{"PROBE-DISK-MISMATCH etcd-2 https://127.0.0.2:25480", "PROBE-DISK-MISMATCH etcd-2 https://127.0.0.2:25479"}
	if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
