package probe

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDiscoveryPastBlackHoles gives two black holes before a working
// endpoint: MemberList is asked through all at once, so discovery costs
// no timeout and the whole probe about one (the black holes' own probes).
func TestDiscoveryPastBlackHoles(t *testing.T) {
	c, opts := testPKI(t)
	opts.Timeout = 500 * time.Millisecond
	opts.NoDiscover = false
	good := fake{Addr: "127.0.0.122:0", Cert: servingCert(t, c.CA, []string{"127.0.0.122"}, c.Now), ClientCAs: pool(c.CA.Cert)}.start(t)
	opts.Endpoints = []string{blackHole(t, "127.0.0.120:0"), blackHole(t, "127.0.0.121:0"), good}
	began := time.Now()
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Asked in turn, the two holes would cost a timeout each before the
	// probes start.
	if d := time.Since(began); d > 2*opts.Timeout {
		t.Errorf("probe took %v, want about one timeout (%v)", d, opts.Timeout)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, string(f.Rule)+" "+f.Member)
	}
	want := []string{"PROBE-UNREACHABLE 127.0.0.120", "PROBE-UNREACHABLE 127.0.0.121"}
	if strings.Join(sorted(got), "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(r.Members) != 1 || r.Members[0].Name != "fake-1" || r.Members[0].NameFrom != "member list" {
		t.Errorf("members %+v, want fake-1 from the member list", r.Members)
	}
}

// TestProbeAliases gives the cluster's one endpoint twice more: as a bare
// host:port, which is the listed URL and is probed once, and by the name
// localhost, which MemberList does not list: that one is named after the
// member whose key it serves, not taken for a second member serving the
// same key (R3).
func TestProbeAliases(t *testing.T) {
	c, opts := testPKI(t)
	opts.NoDiscover = false
	u := fake{Cert: servingCert(t, c.CA, []string{"127.0.0.1", "localhost"}, c.Now), ClientCAs: pool(c.CA.Cert)}.start(t)
	port := u[strings.LastIndex(u, ":")+1:]
	opts.Endpoints = []string{"127.0.0.1:" + port, "https://localhost:" + port}
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		t.Errorf("unexpected finding: %v", f.Error())
	}
	var got []string
	for _, e := range r.Endpoints {
		got = append(got, e.Member+" "+e.URL)
	}
	want := []string{"fake-1 " + u, "fake-1 https://localhost:" + port}
	if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Errorf("endpoints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
