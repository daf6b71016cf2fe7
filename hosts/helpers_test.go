package hosts

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testbin"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
)

// This package's tests use the subnets 198.18.10.0/24 to 198.18.19.0/24
// and 198.18.32.0/24 to 198.18.39.0/24 (subnet(22) and up), one per test,
// so that they can run alongside the demo (198.18.20.0/24 to
// 198.18.31.0/24) and cmd/etcdpki (198.18.40.0/24 and up) tests of hosts
// mode.
func subnet(i int) netip.Prefix { return netip.MustParsePrefix(fmt.Sprintf("198.18.%d.0/24", 10+i)) }

// TestMain removes the etcd binary the tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// requireHosts skips a test that builds networks when it cannot run
// here, saying why.
func requireHosts(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building network namespaces")
	}
	if err := Supported(); err != nil {
		t.Skip(err)
	}
}

// startCluster starts an n-member cluster on subnet(i), closed when the
// test ends; a test that fails leaves no network behind either.
func startCluster(t *testing.T, i, n int) *Cluster {
	t.Helper()
	requireHosts(t)
	etcd := testbin.Etcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := Start(ctx, Options{Etcd: []string{etcd}, Subnet: subnet(i), Members: n, Algorithm: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range cl.Problems() {
				t.Logf("etcd: %s", p)
			}
		}
		if err := cl.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		assertGone(t, cl.Network())
	})
	return cl
}

// assertGone fails unless nothing of n is left.
func assertGone(t *testing.T, n *Network) {
	t.Helper()
	r, err := n.Resources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Empty() {
		t.Errorf("left behind: %s", r)
	}
	if _, err := os.Stat(lockPath(n.ID)); err == nil {
		t.Errorf("lock file %s left behind", lockPath(n.ID))
	}
}

// probeCluster probes cl from the root namespace with etcd-1's
// healthcheck-client certificate, as `etcdpki probe` would with the
// etcdctl environment up prints.
func probeCluster(t *testing.T, cl *Cluster, timeout time.Duration) *probe.Report {
	t.Helper()
	l, _ := layout.ForName(cl.Spec().Layout)
	root := layout.MemberDir(cl.Dir(), "etcd-1")
	r, err := probe.Run(context.Background(), probe.Options{
		Endpoints: cl.Endpoints(),
		CACert:    layout.OnDisk(root, l.CertPath(pki.KindCA)),
		Cert:      layout.OnDisk(root, l.CertPath(pki.KindHealthcheckClient)),
		Key:       layout.OnDisk(root, l.KeyPath(pki.KindHealthcheckClient)),
		Timeout:   timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
