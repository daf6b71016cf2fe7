package probe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
)

// blackHoledMembers starts a fake on ip whose MemberList names n members,
// each with a client URL that is a black hole on 127.0.4.1 and up, and
// returns the fake's URL.
func blackHoledMembers(tb testing.TB, c *testca.Cluster, ip string, n int) string {
	tb.Helper()
	var ms []*pb.Member
	for i := range n {
		hole := blackHole(tb, fmt.Sprintf("127.0.%d.%d:0", 4+i/250, 1+i%250))
		ms = append(ms, &pb.Member{ID: uint64(i + 1), Name: fmt.Sprintf("hole-%03d", i), ClientURLs: []string{hole}})
	}
	return fake{Addr: ip + ":0", Cert: servingCert(tb, c.CA, []string{ip}, c.Now), ClientCAs: pool(c.CA.Cert), Members: ms}.start(tb)
}

// TestProbeManyMembers has MemberList name 300 black-holed members: the
// probe dials MaxDiscovered of their URLs, says which it left out, and
// ends within its time limit (BenchmarkProbeDiscovered300Blackholes
// measures it).
func TestProbeManyMembers(t *testing.T) {
	c, opts := testPKI(t)
	opts.Timeout = 500 * time.Millisecond
	opts.NoDiscover = false
	opts.Endpoints = []string{blackHoledMembers(t, c, "127.0.0.130", 300)}
	began := time.Now()
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// The limit is Timeout+Slack; three timeouts leave room for a loaded
	// machine, not for a round of dials more.
	if d := time.Since(began); d > 3*opts.Timeout {
		t.Errorf("probe took %v, want at most %v (Timeout+Slack)", d, opts.Timeout+Slack)
	}
	// The given endpoint, and MaxDiscovered of the listed URLs.
	if len(r.Endpoints) != MaxDiscovered+1 {
		t.Errorf("probed %d endpoints, want %d", len(r.Endpoints), MaxDiscovered+1)
	}
	if len(r.Members) != 300 {
		t.Errorf("%d members in the report, want 300", len(r.Members))
	}
	skipped := fmt.Sprintf("%d were not probed", 300-MaxDiscovered)
	if !slices.ContainsFunc(r.Findings, func(f audit.Finding) bool { return strings.Contains(f.Detail, skipped) }) {
		t.Errorf("no finding says %q", skipped)
	}
}

// TestProbeTimeLimit probes six black holes one at a time: the probe
// stops at its time limit and says which endpoints it could not finish.
func TestProbeTimeLimit(t *testing.T) {
	_, opts := testPKI(t)
	opts.Timeout = 500 * time.Millisecond
	opts.Concurrency = 1
	for i := range 6 {
		opts.Endpoints = append(opts.Endpoints, blackHole(t, fmt.Sprintf("127.0.0.%d:0", 140+i)))
	}
	began := time.Now()
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 3*opts.Timeout {
		t.Errorf("probe took %v, want at most %v (Timeout+Slack)", d, opts.Timeout+Slack)
	}
	byURL := map[string]audit.Finding{}
	for _, f := range r.Findings {
		byURL[f.File] = f
	}
	cut := 0
	for _, u := range opts.Endpoints {
		f, ok := byURL[u]
		if !ok || f.Rule != audit.RuleProbeUnreachable {
			t.Errorf("%s: finding %+v, want %s", u, f, audit.RuleProbeUnreachable)
		}
		if strings.Contains(f.Detail, "time limit") {
			cut++
		}
	}
	// The first hole costs one timeout; the second starts and is cut at
	// the limit; the others never start.
	if cut < 4 {
		t.Errorf("%d findings mention the time limit, want at least 4: %v", cut, r.Findings)
	}
}

// TestProbeDirsMatchNoMember gives a member directory (cp1) that names no
// live member (the cluster has fake-1): the probe must say that nothing
// was compared.
func TestProbeDirsMatchNoMember(t *testing.T) {
	c, opts := testPKI(t)
	opts.NoDiscover = false
	opts.Endpoints = []string{fake{Cert: servingCert(t, c.CA, []string{"127.0.0.1"}, c.Now), ClientCAs: pool(c.CA.Cert)}.start(t)}
	dir := c.MemberDir("cp1")
	opts.MemberDirs = []string{dir}
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 {
		t.Fatalf("findings %v, want one %s", r.Findings, audit.RuleProbeDiskMismatch)
	}
	f := r.Findings[0]
	for _, want := range []string{"cp1", dir, "fake-1"} {
		if f.Rule != audit.RuleProbeDiskMismatch || !strings.Contains(f.Detail, want) {
			t.Errorf("finding %s %q, want %s naming %q", f.Rule, f.Detail, audit.RuleProbeDiskMismatch, want)
		}
	}
}

// TestProbeNoEtcdVerdict: MemberList fails and no endpoint answers as
// etcd; the verdict must not say the cluster forms.
func TestProbeNoEtcdVerdict(t *testing.T) {
	c, opts := testPKI(t)
	opts.NoDiscover = false
	opts.Timeout = 500 * time.Millisecond
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", 131+i)
		opts.Endpoints = append(opts.Endpoints, fake{Addr: ip + ":0", Cert: servingCert(t, c.CA, []string{ip}, c.Now), ClientCAs: pool(c.CA.Cert), NotEtcd: true}.start(t))
	}
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, string(f.Rule))
	}
	want := []string{"PROBE-DISCOVERY", "PROBE-NOT-ETCD", "PROBE-NOT-ETCD", "PROBE-NOT-ETCD"}
	if strings.Join(sorted(got), " ") != strings.Join(want, " ") {
		t.Errorf("rules %v, want %v", got, want)
	}
	v := r.Verdict
	if v.ClusterForms || v.ClientsConnect || strings.Contains(v.Summary, "will form") {
		t.Errorf("verdict %+v, want neither a cluster that forms nor clients that connect", v)
	}
	if !strings.Contains(v.Summary, "no endpoint answered as etcd") {
		t.Errorf("summary %q, want it to say no endpoint answered as etcd", v.Summary)
	}
}
