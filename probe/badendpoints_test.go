package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/pki"
)

// TestBadEndpoints probes, in one run, endpoints that are wrong in one way
// each and checks that every one becomes exactly the expected findings,
// within about one timeout, never a hang or a panic. Each endpoint listens
// on its own 127.0.0.x, so it is a member of its own (named by its host).
func TestBadEndpoints(t *testing.T) {
	c, opts := testPKI(t)
	opts.Timeout = 500 * time.Millisecond
	now := c.Now
	clusterCAs := pool(c.CA.Cert)
	otherCA := testca.NewCA(t, pki.ECDSAP256, now)
	otherCAs := pool(otherCA.Cert)

	// etcd is an etcd-ish endpoint at ip that differs from a healthy
	// member as f says: by default it serves a cert from the cluster CA
	// naming ip and verifies clients against the cluster CA.
	etcd := func(f fake) func(ip string) string {
		return func(ip string) string {
			f.Addr = ip + ":0"
			if f.Cert.Leaf == nil {
				f.Cert = servingCert(t, c.CA, []string{ip}, now)
			}
			if f.ClientCAs == nil && !f.AnyClient {
				f.ClientCAs = clusterCAs
			}
			return f.start(t)
		}
	}
	url := func(u string) func(string) string { return func(string) string { return u } }
	const (
		unreachable = audit.RuleProbeUnreachable
		notTLS      = audit.RuleProbeNotTLS
		notEtcd     = audit.RuleProbeNotEtcd
	)
	cases := []struct {
		name  string
		start func(ip string) string
		want  []audit.RuleID
		// detail is a substring of one finding's detail.
		detail string
	}{
		{name: "healthy", start: etcd(fake{})},
		{name: "closed port", start: url("https://127.0.0.61:25601"), want: []audit.RuleID{unreachable}, detail: "connection refused"},
		{name: "black hole", start: func(ip string) string { return blackHole(t, ip+":0") }, want: []audit.RuleID{unreachable},
			detail: "client port accepted TCP but did not complete a TLS handshake within 500ms"},
		{name: "plain HTTP", start: func(string) string { return "https://" + plainHTTP(t) }, want: []audit.RuleID{notTLS}, detail: "first record does not look like a TLS handshake"},
		{name: "plain HTTP, http:// URL", start: func(string) string { return "http://" + plainHTTP(t) + "/" }, want: []audit.RuleID{notTLS}},
		{name: "TLS, not etcd", start: etcd(fake{NotEtcd: true}), want: []audit.RuleID{notEtcd}, detail: `GET /version answered 404 Not Found`},
		{name: "TLS, silent", start: etcd(fake{Silent: true}), want: []audit.RuleID{notEtcd}, detail: "did not answer GET /version within 500ms"},
		{name: "any client accepted", start: etcd(fake{AnyClient: true}), want: []audit.RuleID{audit.RuleProbeNoClientAuth, audit.RuleProbeForeignCA}},
		{name: "client certs from another CA", start: etcd(fake{ClientCAs: otherCAs}), want: []audit.RuleID{audit.RuleProbeClientRefused},
			detail: `with the probe's client cert ("kube-etcd-healthcheck-client"): remote error: tls: `},
		// Over TLS 1.2 the refusal ends the handshake, after the server
		// has shown its certificate: still a refusal, not unreachable.
		{name: "client certs from another CA, TLS 1.2", start: etcd(fake{ClientCAs: otherCAs, MaxVersion: tls.VersionTLS12}),
			want: []audit.RuleID{audit.RuleProbeClientRefused}, detail: `with the probe's client cert ("kube-etcd-healthcheck-client"): remote error: tls: `},
		{name: "TLS 1.0 allowed", start: etcd(fake{MinVersion: tls.VersionTLS10}), want: []audit.RuleID{audit.RuleProbeOldTLS}},
		{name: "TLS 1.1 only", start: etcd(fake{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}), want: []audit.RuleID{unreachable},
			detail: "client port accepted TCP but the TLS handshake failed: remote error: tls: protocol version not supported"},
		{name: "cert lacks the dialed IP", start: func(ip string) string {
			return etcd(fake{Cert: servingCert(t, c.CA, []string{"127.0.0.1", "localhost"}, now)})(ip)
		}, want: []audit.RuleID{audit.RuleServerSAN}, detail: "does not name the dialed host 127.0.0."},
		{name: "expired cert", start: func(ip string) string {
			return etcd(fake{Cert: servingCert(t, c.CA, []string{ip}, now, testca.Validity(now.Add(-48*time.Hour), now.Add(-time.Hour)))})(ip)
		}, want: []audit.RuleID{audit.RuleExpired}, detail: "expired"},
		{name: "cert from a foreign CA", start: func(ip string) string {
			return etcd(fake{Cert: servingCert(t, otherCA, []string{ip}, now)})(ip)
		}, want: []audit.RuleID{audit.RuleServerCA}, detail: "is not signed by the CA given"},
		// A member with a CA of its own serves a cert the cluster CA does
		// not verify and refuses the cluster's clients: R2, not R1, and
		// the refusal.
		{name: "a CA of its own", start: func(ip string) string {
			return etcd(fake{Cert: servingCert(t, otherCA, []string{ip}, now), ClientCAs: otherCAs})(ip)
		}, want: []audit.RuleID{audit.RuleCAMismatch, audit.RuleProbeClientRefused}, detail: "holds a CA of its own"},
		{name: "a CA of its own, TLS 1.2", start: func(ip string) string {
			return etcd(fake{Cert: servingCert(t, otherCA, []string{ip}, now), ClientCAs: otherCAs, MaxVersion: tls.VersionTLS12})(ip)
		}, want: []audit.RuleID{audit.RuleCAMismatch, audit.RuleProbeClientRefused}, detail: "holds a CA of its own"},
		{name: "no port", start: url("https://127.0.0.62"), want: []audit.RuleID{unreachable}, detail: "no port"},
		{name: "unix socket", start: url("unix:///run/etcd.sock"), want: []audit.RuleID{unreachable}, detail: `URL scheme "unix"`},
		{name: "bad host", start: url("https://[::1:2379"), want: []audit.RuleID{unreachable}, detail: "missing ']'"},
		{name: "port out of range", start: url("https://127.0.0.63:99999"), want: []audit.RuleID{unreachable}, detail: "invalid port"},
		// etcdctl takes a bare host:port; so does probe, over TLS.
		{name: "bare host:port", start: url("127.0.0.61:25602"), want: []audit.RuleID{unreachable}, detail: "connection refused"},
	}
	urls := make([]string, len(cases))
	for i, tc := range cases {
		urls[i] = tc.start(fmt.Sprintf("127.0.0.%d", 100+i))
	}
	opts.Endpoints = urls
	began := time.Now()
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(began)
	// The slowest endpoints (black hole, silent) cost one or two
	// timeouts; they run concurrently with the rest. The bounds here and
	// below leave room for a loaded machine, not for a timeout more.
	if elapsed > 4*opts.Timeout {
		t.Errorf("probe took %v, want about 2 timeouts (%v) at most", elapsed, 2*opts.Timeout)
	}
	byURL := map[string][]audit.Finding{}
	for _, f := range r.Findings {
		byURL[f.File] = append(byURL[f.File], f)
	}
	eps := map[string]Endpoint{}
	for _, e := range r.Endpoints {
		eps[e.URL] = e
	}
	if len(eps) != len(cases) {
		t.Errorf("%d endpoints in the report, want %d", len(eps), len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := urls[i]
			fs := byURL[u]
			var got []audit.RuleID
			for _, f := range fs {
				got = append(got, f.Rule)
				if f.Member != hostOf(u) {
					t.Errorf("%s: member %q, want %q", f.Rule, f.Member, hostOf(u))
				}
			}
			if strings.Join(sorted(got), " ") != strings.Join(sorted(tc.want), " ") {
				t.Errorf("%s: rules %v, want %v; endpoint %+v", u, got, tc.want, eps[u])
			}
			if tc.detail != "" && !slices.ContainsFunc(fs, func(f audit.Finding) bool { return strings.Contains(f.Detail, tc.detail) }) {
				t.Errorf("%s: want a detail containing %q, got %v", u, tc.detail, fs)
			}
		})
	}

	// The cheap failures wait for no timeout; a black hole for one.
	for _, name := range []string{"closed port", "plain HTTP", "TLS, not etcd", "TLS 1.1 only", "no port"} {
		for i, tc := range cases {
			if tc.name == name {
				if ms := eps[urls[i]].Millis; ms >= opts.Timeout.Milliseconds() {
					t.Errorf("%s took %d ms, want less than the timeout", name, ms)
				}
			}
		}
	}
	for i, tc := range cases {
		if tc.name != "black hole" {
			continue
		}
		e := eps[urls[i]]
		if !e.TCPOpen || e.Reachable {
			t.Errorf("black hole: TCPOpen %v, Reachable %v; want true, false", e.TCPOpen, e.Reachable)
		}
		if d := time.Duration(e.Millis) * time.Millisecond; d < opts.Timeout || d > 2*opts.Timeout {
			t.Errorf("black hole took %v, want one timeout (%v), two at most", d, opts.Timeout)
		}
	}
}
