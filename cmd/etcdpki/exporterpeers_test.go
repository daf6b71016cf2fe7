package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/internal/testbin"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/pki"
)

// TestExporterPeersHosts runs three exporters, each the etcdpki binary in
// its member's network namespace reading only its own node's tree (cp3's
// with a CA of its own, which no one node can see). cp1's, with --peers
// listing the other two, exports the findings check gives over the three
// trees and their verdict; so does cp2's, whose --peers is a dns+ name
// that its host's /etc/hosts resolves to all three addresses (as a
// headless Service's name does), its own among them. With cp3's link down, cp3's bundle is stale
// (etcdpki_peer_bundle_fresh 0), no verdict is claimed, and cp3's last
// bundle is still judged; with the link up again, it is fresh again.
func TestExporterPeersHosts(t *testing.T) {
	requireHosts(t)
	c := testca.New(t, testca.Options{Manifests: true})
	c.UseCA(testca.NewCA(t, pki.ECDSAP256, time.Now()), "cp3")
	names := []string{"cp1", "cp2", "cp3"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := hosts.NewNetwork(ctx, netip.MustParsePrefix("198.18.47.0/24"), names)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	bin := testbin.Etcdpki(t)
	addr := func(name string) string { return n.Host(name).Addr.String() + ":9794" }
	for _, name := range names {
		args := []string{"exporter", "--listen", addr(name), "--interval", "300ms", "--peer-timeout", "500ms"}
		switch name {
		case "cp1":
			args = append(args, "--peers", addr("cp2")+","+addr("cp3"))
		case "cp2":
			var hostsFile strings.Builder
			for _, m := range names {
				fmt.Fprintf(&hostsFile, "%s etcdpki-exporters\n", n.Host(m).Addr)
			}
			if err := n.WriteHosts(name, hostsFile.String()); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--peers", "dns+http://etcdpki-exporters:9794")
		}
		cmd, err := n.Command(ctx, name, bin, append(args, c.MemberDir(name))...)
		if err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s's exporter:\n%s", name, log.String())
			}
		})
	}
	want, err := audit.CheckDirs([]string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantFindings := map[string]float64{}
	for _, f := range want.Findings {
		wantFindings[string(f.Rule)+"/"+f.Severity.String()+"/"+f.Member]++
	}
	peer3 := "http://" + addr("cp3") + "/bundle"
	peer2 := "http://" + addr("cp2") + "/bundle"
	// The root namespace reaches the members' addresses through the
	// bridge, which has the subnet's last address.
	url := "http://" + addr("cp1") + "/metrics"
	scrapeUntil := func(what string, ok func(m metrics) bool) metrics {
		t.Helper()
		var last metrics
		for ctx.Err() == nil {
			if m, err := scrapeURL(ctx, url); err == nil {
				if last = m; ok(m) {
					return m
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("cp1's exporter never showed %s; last scrape: %v", what, last)
		return nil
	}
	fresh := func(m metrics, peer string) float64 { return m.get("etcdpki_peer_bundle_fresh", "peer", peer) }
	m := scrapeUntil("both peers fresh", func(m metrics) bool { return fresh(m, peer2) == 1 && fresh(m, peer3) == 1 })
	if got := m.findings(); fmt.Sprint(got) != fmt.Sprint(wantFindings) {
		t.Errorf("cp1's exporter with peers: findings %v; check over the three trees: %v", got, wantFindings)
	}
	if got, w := m.get("etcdpki_check_clients_connect"), want.Verdict.ClientsConnect; got != map[bool]float64{true: 1}[w] || m.get("etcdpki_members") != 3 {
		t.Errorf("clients_connect %v (check: %v), members %v", got, w, m.get("etcdpki_members"))
	}
	// cp2's, through the name.
	peer1 := "http://" + addr("cp1") + "/bundle"
	for seen := false; !seen; {
		if ctx.Err() != nil {
			t.Fatal("cp2's exporter never saw cp1's and cp3's bundles through dns+http://etcdpki-exporters:9794")
		}
		m2, err := scrapeURL(ctx, "http://"+addr("cp2")+"/metrics")
		if err == nil && fresh(m2, peer1) == 1 && fresh(m2, peer3) == 1 {
			if got := m2.findings(); fmt.Sprint(got) != fmt.Sprint(wantFindings) {
				t.Errorf("cp2's exporter through dns+: findings %v, want %v", got, wantFindings)
			}
			if fresh(m2, peer2) != -1 || m2.get("etcdpki_members") != 3 {
				t.Errorf("cp2's exporter through dns+: itself a peer (%v), %v members", fresh(m2, peer2), m2.get("etcdpki_members"))
			}
			seen = true
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := n.SetLink(ctx, "cp3", false); err != nil {
		t.Fatal(err)
	}
	m = scrapeUntil("cp3 stale", func(m metrics) bool { return fresh(m, peer3) == 0 })
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"fresh{cp2}", fresh(m, peer2), 1},
		{"etcdpki_check_cluster_forms", m.get("etcdpki_check_cluster_forms"), 0},
		{"etcdpki_check_clients_connect", m.get("etcdpki_check_clients_connect"), 0},
		{"etcdpki_last_scan_success", m.get("etcdpki_last_scan_success"), 0},
		{"etcdpki_members", m.get("etcdpki_members"), 3},
	} {
		if c.got != c.want {
			t.Errorf("cp3 cut off: %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := m.findings(); fmt.Sprint(got) != fmt.Sprint(wantFindings) {
		t.Errorf("cp3 cut off: findings %v, want its last bundle judged: %v", got, wantFindings)
	}
	if err := n.SetLink(ctx, "cp3", true); err != nil {
		t.Fatal(err)
	}
	scrapeUntil("cp3 fresh again", func(m metrics) bool { return fresh(m, peer3) == 1 && m.get("etcdpki_last_scan_success") == 1 })
}

// metrics is a scrape parsed by Prometheus' text parser.
type metrics map[string]*dto.MetricFamily

// scrapeURL GETs url and parses it.
func scrapeURL(ctx context.Context, url string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// get is the value of the first series of name whose labels include the
// label/value pairs kv, or -1.
func (m metrics) get(name string, kv ...string) float64 {
	mf := m[name]
	if mf == nil {
		return -1
	}
next:
	for _, s := range mf.Metric {
		l := map[string]string{}
		for _, p := range s.Label {
			l[p.GetName()] = p.GetValue()
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if l[kv[i]] != kv[i+1] {
				continue next
			}
		}
		switch {
		case s.Gauge != nil:
			return s.Gauge.GetValue()
		case s.Counter != nil:
			return s.Counter.GetValue()
		}
	}
	return -1
}

// findings are etcdpki_findings{source="check"} by rule/severity/member.
func (m metrics) findings() map[string]float64 {
	out := map[string]float64{}
	if mf := m["etcdpki_findings"]; mf != nil {
		for _, s := range mf.Metric {
			l := map[string]string{}
			for _, p := range s.Label {
				l[p.GetName()] = p.GetValue()
			}
			if l["source"] == "check" {
				out[l["rule"]+"/"+l["severity"]+"/"+l["member"]] += s.Gauge.GetValue()
			}
		}
	}
	return out
}
