package hosts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testbin"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
)

// TestCluster boots three members, each a separate etcd process in its
// own namespace with exactly the flags `etcdpki flags` prints, proves it
// from the root namespace and from each member's own host, and probes it
// clean from the root namespace.
func TestCluster(t *testing.T) {
	cl := startCluster(t, 0, 3)
	etcd := testbin.Etcd(t)
	ctx := t.Context()

	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{self: "the test"}
	for _, name := range cl.Members() {
		pid := cl.PID(name)
		// A process of its own, with etcd's command line as `etcdpki
		// flags --root <member tree> --data-dir <data>` prints it…
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := render.ForMember(cl.Spec(), name, render.Options{Root: layout.MemberDir(cl.Dir(), name), DataDir: local.DataDir(cl.Dir(), name)})
		if err != nil {
			t.Fatal(err)
		}
		want := append([]string{etcd}, rc.Flags()...)
		if got := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00"); !slices.Equal(got, want) {
			t.Errorf("%s runs\n  %q\nwant\n  %q", name, got, want)
		}
		if !slices.Contains(rc.ListenClientURLs, "https://127.0.0.1:2379") {
			t.Errorf("%s does not listen on its own 127.0.0.1: %v", name, rc.ListenClientURLs)
		}
		// …in a network namespace of its own.
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			t.Fatal(err)
		}
		if other, ok := seen[ns]; ok {
			t.Errorf("%s shares network namespace %s with %s", name, ns, other)
		}
		seen[ns] = name
	}

	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	// Before the probe, whose deliberate refusals (no client cert, a
	// foreign CA, TLS 1.1) etcd logs too.
	if p := tlsProblems(cl.Problems()); len(p) > 0 {
		t.Errorf("etcd logged TLS problems: %q", p)
	}
	r := probeCluster(t, cl, 2*time.Second)
	if ids := r.RuleIDs(); len(ids) > 0 {
		t.Errorf("probe of the healthy cluster from the root namespace: %v", ids)
		for _, f := range r.Findings {
			t.Log(f.Error())
		}
	}
	for _, ep := range r.Endpoints {
		if !ep.Reachable || !strings.HasPrefix(ep.URL, "https://198.18.10.") {
			t.Errorf("probe: %s %s reachable=%v", ep.Member, ep.URL, ep.Reachable)
		}
	}
}

// TestLinkDown cuts a member off the network: probe reports it
// unreachable within its timeout while the other two keep quorum and
// serve; reconnected, it rejoins and catches up.
func TestLinkDown(t *testing.T) {
	cl := startCluster(t, 1, 3)
	ctx := t.Context()
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	put(t, cl, "etcd-1", "/etcdpki/before", "written before the cut")
	if err := cl.Disconnect(ctx, "etcd-3"); err != nil {
		t.Fatal(err)
	}
	// If etcd-3 led the cluster, the other two first elect a new leader
	// (an election timeout, 1 s by default); until then linearizable reads,
	// MemberList included, wait. Reading through both once they answer is
	// the quorum this test is about; the probe below then measures the
	// cut-off member alone.
	for _, m := range []string{"etcd-1", "etcd-2"} {
		if got := get(t, cl, m, "/etcdpki/before", 10*time.Second); got != "written before the cut" {
			t.Fatalf("%s read %q", m, got)
		}
	}

	const timeout = time.Second
	start := time.Now()
	r := probeCluster(t, cl, timeout)
	took := time.Since(start)
	t.Logf("probe took %s", took)
	// Discovery, then one handshake per endpoint, all at once: an
	// endpoint that black-holes costs one timeout.
	if took > 4*timeout {
		t.Errorf("probe took %s with a %s timeout", took, timeout)
	}
	var unreachable []string
	for _, f := range r.Findings {
		t.Log(f.Error())
		if f.Rule != audit.RuleProbeUnreachable || f.Member != "etcd-3" {
			t.Errorf("unexpected finding: %s", f.Error())
			continue
		}
		unreachable = append(unreachable, f.File)
	}
	slices.Sort(unreachable)
	if want := []string{"https://198.18.11.3:2379", "https://198.18.11.3:2380"}; !slices.Equal(unreachable, want) {
		t.Errorf("unreachable %v, want %v", unreachable, want)
	}

	// The other two are a quorum: a write through etcd-1 is read back
	// (linearizably, through the leader) through etcd-2.
	put(t, cl, "etcd-1", "/etcdpki/cut", "written while etcd-3 was cut off")
	if got := get(t, cl, "etcd-2", "/etcdpki/cut", 5*time.Second); got != "written while etcd-3 was cut off" {
		t.Errorf("etcd-2 read %q", got)
	}

	if err := cl.Reconnect(ctx, "etcd-3"); err != nil {
		t.Fatal(err)
	}
	// etcd-3 rejoins: a linearizable read through it returns the write it
	// missed once it has caught up with the leader.
	if got := get(t, cl, "etcd-3", "/etcdpki/cut", 30*time.Second); got != "written while etcd-3 was cut off" {
		t.Errorf("etcd-3 read %q after it rejoined", got)
	}
	if err := cl.Verify(ctx); err != nil {
		t.Errorf("after reconnecting: %v", err)
	}
	if ids := probeCluster(t, cl, timeout).RuleIDs(); len(ids) > 0 {
		t.Errorf("probe after reconnecting: %v", ids)
	}
}

// client is a client of member from the root namespace with its
// apiserver-etcd-client certificate, closed when the test ends.
func client(t *testing.T, cl *Cluster, member string) *clientv3.Client {
	t.Helper()
	cfg, err := cl.ClientTLS(member, pki.KindAPIServerClient)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := cl.NewClient("", cl.Config(member).AdvertiseClientURLs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// put writes key through member.
func put(t *testing.T, cl *Cluster, member, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := client(t, cl, member).Put(ctx, key, value); err != nil {
		t.Fatalf("put through %s: %v", member, err)
	}
}

// get reads key through member, retrying until it has a value or within
// passes.
func get(t *testing.T, cl *Cluster, member, key string, within time.Duration) string {
	t.Helper()
	cli := client(t, cl, member)
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		resp, err := cli.Get(ctx, key)
		cancel()
		if err == nil && len(resp.Kvs) == 1 {
			return string(resp.Kvs[0].Value)
		}
		if time.Now().After(deadline) {
			t.Fatalf("get %s through %s: %v (after %s)", key, member, err, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tlsProblems keeps the problems about TLS.
func tlsProblems(problems []string) []string {
	var out []string
	for _, p := range problems {
		if strings.Contains(p, "tls:") || strings.Contains(p, "x509:") {
			out = append(out, p)
		}
	}
	return out
}
