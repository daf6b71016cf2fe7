package exporter_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/exporter"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
)

// scrape GETs url and parses it with Prometheus' own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return mfs
}

// value returns the value of the one series of name whose labels include
// want, failing unless exactly one matches.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	vals := values(mfs, name, want)
	if len(vals) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(vals))
	}
	return vals[0]
}

func values(mfs map[string]*dto.MetricFamily, name string, want map[string]string) []float64 {
	var out []float64
	mf := mfs[name]
	if mf == nil {
		return nil
	}
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			out = append(out, m.Gauge.GetValue())
		case m.Counter != nil:
			out = append(out, m.Counter.GetValue())
		}
	}
	return out
}

// serve runs e.Serve on a loopback port until the test ends and returns
// its base URL.
func serve(t *testing.T, e *exporter.Exporter, interval time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, ln, interval, func(err error) { t.Logf("scan: %v", err) }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not shut down")
		}
	})
	url := "http://" + ln.Addr().String()
	// Serve serves /bundle during its first scan; wait for the scan.
	waitBundle(t, url+"/bundle")
	return url
}

// waitBundle waits, for up to 4 s, until url (an exporter's /bundle)
// serves a bundle: its exporter's first scan is done.
func waitBundle(t testing.TB, url string) {
	t.Helper()
	for i := 0; ; i++ {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = errors.New(resp.Status)
		}
		if i == 200 {
			t.Fatalf("%s: no bundle: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// peerServer serves an exporter of member name's directory alone,
// scanned once, until the test ends.
func peerServer(t testing.TB, c *testca.Cluster, name string) *httptest.Server {
	t.Helper()
	p := exporter.New(exporter.Options{Dirs: []string{c.MemberDir(name)}, Now: func() time.Time { return c.Now }})
	if err := p.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(p.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// TestScrape: an expired certificate shows as expired=1, check's findings
// count by rule, and the scan is a success; over HTTP, parsed by
// Prometheus' text parser.
func TestScrape(t *testing.T) {
	c := testca.New(t, testca.Options{})
	now := c.Now
	expired := c.Reissue("cp2", pki.KindHealthcheckClient, testca.Validity(now.Add(-48*time.Hour), now.Add(-time.Hour)))
	c.UseCA(testca.NewCA(t, pki.ECDSAP256, now), "cp3")
	e := exporter.New(exporter.Options{Dirs: []string{c.Dir}, Now: func() time.Time { return now }})
	url := serve(t, e, time.Hour)
	mfs := scrape(t, url+"/metrics")

	if v := value(t, mfs, "x509_cert_expired", map[string]string{"member": "cp2", "kind": "healthcheck-client"}); v != 1 {
		t.Errorf("expired healthcheck-client: x509_cert_expired = %v, want 1", v)
	}
	// x509-certificate-exporter's labels: filename too, the serial in decimal.
	labels := map[string]string{"member": "cp2", "kind": "healthcheck-client", "filepath": c.CertPath("cp2", pki.KindHealthcheckClient),
		"filename": "healthcheck-client.crt", "subject_CN": pki.HealthcheckClientCommonName, "issuer_CN": "etcd-ca", "serial_number": expired.SerialNumber.String()}
	if v := value(t, mfs, "x509_cert_not_after", labels); v != float64(expired.NotAfter.Unix()) {
		t.Errorf("x509_cert_not_after = %v, want %d", v, expired.NotAfter.Unix())
	}
	if v := value(t, mfs, "x509_cert_expires_in_seconds", labels); v != -3600 {
		t.Errorf("x509_cert_expires_in_seconds = %v, want -3600", v)
	}
	if got := values(mfs, "x509_cert_expired", nil); len(got) != 3*4+3 {
		t.Errorf("%d certificate series, want 15 (4 leaves and a CA per member)", len(got))
	}
	sum := 0.0
	for _, v := range values(mfs, "x509_cert_expired", nil) {
		sum += v
	}
	if sum != 1 {
		t.Errorf("%v certificates expired, want 1", sum)
	}
	if v := value(t, mfs, "etcdpki_findings", map[string]string{"source": "check", "rule": string(audit.RuleExpired), "severity": "error"}); v != 1 {
		t.Errorf("etcdpki_findings VALID-EXPIRED = %v, want 1", v)
	}
	if v := value(t, mfs, "etcdpki_findings", map[string]string{"rule": string(audit.RuleCAMismatch)}); v != 1 {
		t.Errorf("etcdpki_findings R2-CA-MISMATCH = %v, want 1", v)
	}
	for name, want := range map[string]float64{
		"etcdpki_scan_errors_total": 0, "etcdpki_last_scan_success": 1, "etcdpki_members": 3,
		"etcdpki_check_cluster_forms": 1, "etcdpki_check_clients_connect": 0,
		"etcdpki_last_scan_timestamp_seconds": float64(now.Unix()),
	} {
		if v := value(t, mfs, name, nil); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	if mfs["etcdpki_probe_success"] != nil {
		t.Error("probe metrics without a probe")
	}
	if mfs["x509_cert_expired"].GetType() != dto.MetricType_GAUGE || mfs["etcdpki_scan_errors_total"].GetType() != dto.MetricType_COUNTER {
		t.Error("wrong metric types")
	}

	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `href="/metrics"`) || !strings.Contains(string(body), "3 members") {
		t.Errorf("index page:\n%s", body)
	}
	if resp, err := http.Get(url + "/nothing"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing: %v %v", resp.Status, err)
	}

	// Nothing of it leaks into the global registry.
	global, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range global {
		if strings.HasPrefix(mf.GetName(), "x509_") || strings.HasPrefix(mf.GetName(), "etcdpki_") {
			t.Errorf("%s is in the default registry", mf.GetName())
		}
	}
}

// TestRescan: Serve rescans on its interval; a repaired certificate stops
// counting, a vanished directory counts as a scan error.
func TestRescan(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	c.Reissue("cp1", pki.KindPeer, testca.Validity(c.Now.Add(-48*time.Hour), c.Now.Add(-time.Hour)))
	other := testca.New(t, testca.Options{Members: 1})
	e := exporter.New(exporter.Options{Dirs: []string{c.Dir, other.Dir}})
	url := serve(t, e, 50*time.Millisecond)
	if v := value(t, scrape(t, url+"/metrics"), "x509_cert_expired", map[string]string{"kind": "peer", "filepath": c.CertPath("cp1", pki.KindPeer)}); v != 1 {
		t.Fatalf("expired peer = %v", v)
	}
	c.Reissue("cp1", pki.KindPeer)
	if err := os.RemoveAll(other.Dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs := scrape(t, url+"/metrics")
		expired := values(mfs, "x509_cert_expired", map[string]string{"kind": "peer", "filepath": c.CertPath("cp1", pki.KindPeer)})
		errs := value(t, mfs, "etcdpki_scan_errors_total", nil)
		if len(expired) == 1 && expired[0] == 0 && errs >= 1 && value(t, mfs, "etcdpki_last_scan_success", nil) == 0 &&
			len(values(mfs, "x509_cert_expired", map[string]string{"filepath": other.CertPath("cp1", pki.KindPeer)})) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rescan: expired %v, scan errors %v", expired, errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWriteText: the text format parses and carries the same series.
func TestWriteText(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	e := exporter.New(exporter.Options{Dirs: []string{c.Dir, "/nonexistent"}})
	err := e.Scan(context.Background())
	var fe *layout.FileError
	if err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Errorf("Scan error %v, want one about /nonexistent", err)
	} else if !errors.As(err, &fe) {
		t.Errorf("Scan error %T, want a layout.FileError inside", err)
	}
	var b strings.Builder
	if err := e.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if v := value(t, mfs, "etcdpki_scan_errors_total", nil); v != 1 {
		t.Errorf("scan errors %v, want 1", v)
	}
	// A scan that could not read a directory judged part of the cluster:
	// its verdict is not a yes.
	for _, name := range []string{"etcdpki_check_clients_connect", "etcdpki_check_cluster_forms"} {
		if v := value(t, mfs, name, nil); v != 0 {
			t.Errorf("%s = %v after a failed scan, want 0", name, v)
		}
	}
	if got := len(values(mfs, "x509_cert_not_after", map[string]string{"member": "cp1"})); got != 5 {
		t.Errorf("%d series for cp1, want 5", got)
	}
}

// fakeEtcd is a TLS endpoint that requires client certs from the
// cluster's CA and answers GET /version as etcd does.
func fakeEtcd(t *testing.T, c *testca.Cluster) *httptest.Server {
	t.Helper()
	kp, err := layout.ReadKeyPair(c.CertPath("cp1", pki.KindServer), c.KeyPath("cp1", pki.KindServer))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.CA.Cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"etcdserver":"3.7.3","etcdcluster":"3.7.0"}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key}},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestProbe: with a probe, every endpoint's reachability and served
// certificate, and the probe's findings, are metrics too.
func TestProbe(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	srv := fakeEtcd(t, c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()
	po := &probe.Options{Endpoints: []string{srv.URL, closed}, NoDiscover: true, Timeout: time.Second,
		CACert: c.CertPath("cp1", pki.KindCA), Cert: c.CertPath("cp1", pki.KindHealthcheckClient), Key: c.KeyPath("cp1", pki.KindHealthcheckClient)}
	e := exporter.New(exporter.Options{Dirs: []string{c.Dir}, Probe: po})
	mfs := scrape(t, serve(t, e, time.Hour)+"/metrics")
	if v := value(t, mfs, "etcdpki_probe_success", nil); v != 1 {
		t.Errorf("etcdpki_probe_success = %v", v)
	}
	if v := value(t, mfs, "etcdpki_probe_endpoint_reachable", map[string]string{"url": srv.URL, "port": "client"}); v != 1 {
		t.Errorf("fake etcd reachable = %v, want 1", v)
	}
	if v := value(t, mfs, "etcdpki_probe_endpoint_reachable", map[string]string{"url": closed}); v != 0 {
		t.Errorf("closed port reachable = %v, want 0", v)
	}
	served, err := layout.ReadCert(c.CertPath("cp1", pki.KindServer))
	if err != nil {
		t.Fatal(err)
	}
	if v := value(t, mfs, "etcdpki_probe_served_cert_not_after", map[string]string{"url": srv.URL, "subject_CN": "cp1", "issuer_CN": "etcd-ca"}); v != float64(served.NotAfter.Unix()) {
		t.Errorf("served not after = %v, want %d", v, served.NotAfter.Unix())
	}
	if v := value(t, mfs, "etcdpki_findings", map[string]string{"source": "probe", "rule": string(audit.RuleProbeUnreachable)}); v != 1 {
		t.Errorf("probe findings PROBE-UNREACHABLE = %v, want 1", v)
	}

	// Unusable probe credentials are a scan error, not a crash.
	bad := *po
	bad.Key = "/nonexistent.key"
	e = exporter.New(exporter.Options{Dirs: []string{c.Dir}, Probe: &bad})
	if err := e.Scan(context.Background()); err == nil || !strings.Contains(err.Error(), "probe:") {
		t.Errorf("Scan with a missing key: %v", err)
	}
	var b strings.Builder
	_ = e.WriteText(&b)
	if !strings.Contains(b.String(), "etcdpki_probe_success 0") || !strings.Contains(b.String(), "etcdpki_scan_errors_total 1") {
		t.Errorf("metrics after a failed probe:\n%s", b.String())
	}
}

// TestNonUTF8Labels: a member directory whose name is not valid UTF-8
// (and so a filepath label that is not) neither panics the collector nor
// breaks the exposition: the series is exported with the bad bytes
// replaced.
func TestNonUTF8Labels(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	bad := filepath.Join(t.TempDir(), "node\xff\xfe")
	if err := os.Rename(c.MemberDir("cp1"), bad); err != nil {
		t.Skipf("rename to a non-UTF-8 name: %v", err)
	}
	e := exporter.New(exporter.Options{Dirs: []string{bad}})
	if err := e.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := e.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	if got := len(values(mfs, "x509_cert_not_after", nil)); got == 0 {
		t.Error("no certificate series exported")
	}
	if !strings.Contains(b.String(), "node\uFFFD/") {
		t.Errorf("want the bad bytes replaced by U+FFFD in the labels:\n%s", b.String())
	}
}

// TestEmptyScanIsNoVerdict: a scan that read no member claims no healthy
// cluster, whatever check makes of nothing.
func TestEmptyScanIsNoVerdict(t *testing.T) {
	e := exporter.New(exporter.Options{})
	if err := e.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := e.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"etcdpki_members 0\n", "etcdpki_check_cluster_forms 0\n", "etcdpki_check_clients_connect 0\n", "etcdpki_last_scan_success 1\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("an empty scan's metrics lack %q", want)
		}
	}
}

// TestBundleEndpoint: /bundle serves the scanned node's public facts,
// which check reads back as the node itself, and no private key.
func TestBundleEndpoint(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	dir := c.MemberDir("cp1")
	e := exporter.New(exporter.Options{Dirs: []string{dir}})
	url := serve(t, e, time.Hour)
	resp, err := http.Get(url + "/bundle")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/bundle: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if bytes.Contains(body, []byte("PRIVATE KEY")) {
		t.Fatal("/bundle serves a private key")
	}
	f := filepath.Join(t.TempDir(), "cp1.json")
	if err := os.WriteFile(f, body, 0o644); err != nil {
		t.Fatal(err)
	}
	fromBundle, err := audit.CheckDirs([]string{f}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := audit.CheckDirs([]string{dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if fromBundle.Verdict != fromDir.Verdict || len(fromBundle.Findings) != len(fromDir.Findings) || len(fromBundle.Members) != 1 {
		t.Errorf("check over /bundle: %+v (%d findings); over the directory: %+v (%d findings)", fromBundle.Verdict, len(fromBundle.Findings), fromDir.Verdict, len(fromDir.Findings))
	}
}

// TestBundleBeforeScan: before the first scan there is no bundle to serve.
func TestBundleBeforeScan(t *testing.T) {
	e := exporter.New(exporter.Options{})
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/bundle", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/bundle before a scan: %d, want 503", rec.Code)
	}
}

// findingCounts are check's findings of a report counted by rule,
// severity and member, as etcdpki_findings{source="check"} exports them.
func findingCounts(r *audit.Report) map[[3]string]float64 {
	out := map[[3]string]float64{}
	for _, f := range r.Findings {
		out[[3]string{string(f.Rule), f.Severity.String(), f.Member}]++
	}
	return out
}

// exportedCounts are etcdpki_findings{source="check"} of a scrape.
func exportedCounts(mfs map[string]*dto.MetricFamily) map[[3]string]float64 {
	out := map[[3]string]float64{}
	if mf := mfs["etcdpki_findings"]; mf != nil {
		for _, m := range mf.Metric {
			l := map[string]string{}
			for _, p := range m.Label {
				l[p.GetName()] = p.GetValue()
			}
			if l["source"] == "check" {
				out[[3]string{l["rule"], l["severity"], l["member"]}] += m.Gauge.GetValue()
			}
		}
	}
	return out
}

// gather scans e and parses its metrics with Prometheus' text parser.
func gather(t *testing.T, e *exporter.Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	var b bytes.Buffer
	if err := e.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(&b)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// TestPeers: three exporters, each reading one node's tree, cp3 with a CA
// of its own (R2: invisible from one node). cp1's, fetching cp2's and
// cp3's bundles, exports the findings check gives over the three trees,
// which its one-node view lacks; with cp3's exporter gone, cp3's
// freshness is 0, the scan failed, no verdict is claimed and cp3's last
// bundle is still judged.
func TestPeers(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	c.UseCA(testca.NewCA(t, pki.ECDSAP256, c.Now), "cp3")
	now := func() time.Time { return c.Now }
	p2, p3 := peerServer(t, c, "cp2"), peerServer(t, c, "cp3")
	peers, err := exporter.ParsePeers([]string{strings.TrimPrefix(p2.URL, "http://"), p3.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{p2.URL + "/bundle", p3.URL + "/bundle"}; strings.Join(peers, " ") != strings.Join(want, " ") {
		t.Fatalf("ParsePeers: %q, want %q", peers, want)
	}
	want, err := audit.CheckDirs([]string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if want.Verdict.ClientsConnect || len(want.Findings) == 0 {
		t.Fatalf("the fixture's fault is not one check sees: %+v", want.Verdict)
	}
	alone := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Now: now})
	if err := alone.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: peers, Now: now})
	if err := e.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	mfs := gather(t, e)
	if got, w := exportedCounts(mfs), findingCounts(want); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("with peers: findings %v, check over the three trees: %v", got, w)
	}
	if got := exportedCounts(gather(t, alone)); fmt.Sprint(got) == fmt.Sprint(findingCounts(want)) {
		t.Errorf("one node's view already gives check's findings over three (%v): the test proves nothing", got)
	}
	for _, p := range peers {
		if v := value(t, mfs, "etcdpki_peer_bundle_fresh", map[string]string{"peer": p}); v != 1 {
			t.Errorf("etcdpki_peer_bundle_fresh{peer=%q} = %v, want 1", p, v)
		}
	}
	if v := value(t, mfs, "etcdpki_members", nil); v != 3 {
		t.Errorf("etcdpki_members = %v, want 3", v)
	}
	for name, w := range map[string]bool{"etcdpki_check_cluster_forms": want.Verdict.ClusterForms, "etcdpki_check_clients_connect": want.Verdict.ClientsConnect} {
		if v := value(t, mfs, name, nil); v != map[bool]float64{true: 1}[w] {
			t.Errorf("with peers: %s = %v; check over the three trees says %v", name, v, w)
		}
	}
	if v := values(mfs, "x509_cert_not_after", map[string]string{"member": "cp2"}); len(v) != 0 {
		t.Errorf("cp1's exporter exports %d of cp2's certificate series; each node exports its own", len(v))
	}

	// cp3's exporter is cut off.
	p3.Close()
	if err := e.Scan(t.Context()); err == nil || !strings.Contains(err.Error(), "peer "+peers[1]) {
		t.Errorf("scan without cp3's exporter: %v, want an error naming %s", err, peers[1])
	}
	mfs = gather(t, e)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"etcdpki_peer_bundle_fresh", map[string]string{"peer": peers[0]}, 1},
		{"etcdpki_peer_bundle_fresh", map[string]string{"peer": peers[1]}, 0},
		{"etcdpki_check_cluster_forms", nil, 0},
		{"etcdpki_check_clients_connect", nil, 0},
		{"etcdpki_last_scan_success", nil, 0},
		{"etcdpki_members", nil, 3},
	} {
		if v := value(t, mfs, c.name, c.labels); v != c.want {
			t.Errorf("cp3 cut off: %s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if v := values(mfs, "etcdpki_peer_bundle_age_seconds", map[string]string{"peer": peers[1]}); len(v) != 1 || v[0] < 0 {
		t.Errorf("cp3 cut off: its bundle's age %v, want one value ≥ 0", v)
	}
	if got, w := exportedCounts(mfs), findingCounts(want); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("cp3 cut off: findings %v, want its last bundle still judged: %v", got, w)
	}
}

// TestPeersHealthy: a sound cluster seen through its peers is healthy,
// so the verdict the faulty case withholds is one the exporter gives.
func TestPeersHealthy(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	now := func() time.Time { return c.Now }
	peers := []string{peerServer(t, c, "cp2").URL + "/bundle", peerServer(t, c, "cp3").URL + "/bundle"}
	e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: peers, Now: now})
	if err := e.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	mfs := gather(t, e)
	if v := value(t, mfs, "etcdpki_check_cluster_forms", nil); v != 1 {
		t.Errorf("etcdpki_check_cluster_forms = %v, want 1", v)
	}
}

// TestParsePeers: what --peers takes and refuses.
func TestParsePeers(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string // joined by spaces, or "error"
	}{
		{[]string{"10.0.0.12:9794"}, "http://10.0.0.12:9794/bundle"},
		{[]string{"https://cp2.example:9794/etcdpki/", "cp3:9794", "cp3:9794"}, "https://cp2.example:9794/etcdpki/bundle http://cp3:9794/bundle"},
		{[]string{"http://cp2:9794/bundle", " "}, "http://cp2:9794/bundle"},
		{[]string{"auto"}, "auto"},
		{[]string{"dns+http://etcdpki-exporter.etcdpki.svc:9794"}, "dns+http://etcdpki-exporter.etcdpki.svc:9794/bundle"},
		{[]string{"dns+http://etcdpki-exporter"}, "error"},
		{[]string{"auto", "cp2:9794"}, "error"},
		{[]string{"ftp://cp2"}, "error"},
		{[]string{"http://"}, "error"},
	} {
		got, err := exporter.ParsePeers(c.in)
		s := strings.Join(got, " ")
		if err != nil {
			s = "error"
		}
		if s != c.want {
			t.Errorf("ParsePeers(%q) = %q (%v), want %q", c.in, s, err, c.want)
		}
	}
}

// TestPeersListIncludesSelf: one peer list given to every node (as a
// DaemonSet's arguments are) names each exporter too; each knows itself
// there and judges the others, with no error.
func TestPeersListIncludesSelf(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	names := []string{"cp1", "cp2", "cp3"}
	var lns []net.Listener
	var list []string
	for range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		list = append(list, ln.Addr().String())
	}
	peers, err := exporter.ParsePeers(list)
	if err != nil {
		t.Fatal(err)
	}
	var es []*exporter.Exporter
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, name := range names {
		e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir(name)}, Peers: peers, Now: func() time.Time { return c.Now }})
		es = append(es, e)
		go e.Serve(ctx, lns[i], time.Hour, nil)
	}
	// Each exporter's first scan fetches the others, who may still be
	// in theirs: scan again once every one has a bundle to serve.
	for _, p := range peers {
		waitBundle(t, p)
	}
	for i, e := range es {
		if err := e.Scan(t.Context()); err != nil {
			t.Errorf("%s: %v", names[i], err)
		}
		mfs := gather(t, e)
		if v := values(mfs, "etcdpki_peer_bundle_fresh", nil); len(v) != 2 || v[0] != 1 || v[1] != 1 {
			t.Errorf("%s: peers' freshness %v, want two peers, both fresh (not itself)", names[i], v)
		}
		if v := value(t, mfs, "etcdpki_members", nil); v != 3 {
			t.Errorf("%s: %v members, want 3", names[i], v)
		}
		if v := value(t, mfs, "etcdpki_check_cluster_forms", nil); v != 1 {
			t.Errorf("%s: cluster_forms %v", names[i], v)
		}
	}
}

// TestPeersDNS: a dns+ peer is every address its name resolves to (a
// headless Service's pods), this exporter's own among them; a name that
// does not resolve is a scan error naming it, and no verdict.
func TestPeersDNS(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	names := []string{"cp1", "cp2", "cp3"}
	var lns []net.Listener
	for i := range names {
		ln, err := net.Listen("tcp", net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i+1), "0"))
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	// One port for all, as a Service's: listen again on the first's.
	_, port, _ := net.SplitHostPort(lns[0].Addr().String())
	for i := 1; i < len(lns); i++ {
		lns[i].Close()
		ln, err := net.Listen("tcp", net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i+1), port))
		if err != nil {
			t.Skipf("port %s on 127.0.0.%d: %v", port, i+1, err)
		}
		lns[i] = ln
	}
	lookup := func(_ context.Context, host string) ([]string, error) {
		if host != "etcdpki-exporter.etcdpki.svc" {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return []string{"127.0.0.3", "127.0.0.1", "127.0.0.2"}, nil
	}
	peers, err := exporter.ParsePeers([]string{"dns+http://etcdpki-exporter.etcdpki.svc:" + port})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var es []*exporter.Exporter
	for i, name := range names {
		e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir(name)}, Peers: peers, LookupHost: lookup, Now: func() time.Time { return c.Now }})
		es = append(es, e)
		go e.Serve(ctx, lns[i], time.Hour, nil)
	}
	for i := range names {
		waitBundle(t, fmt.Sprintf("http://127.0.0.%d:%s/bundle", i+1, port))
	}
	if err := es[0].Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	mfs := gather(t, es[0])
	for _, host := range []string{"127.0.0.2", "127.0.0.3"} {
		u := "http://" + net.JoinHostPort(host, port) + "/bundle"
		if v := value(t, mfs, "etcdpki_peer_bundle_fresh", map[string]string{"peer": u}); v != 1 {
			t.Errorf("%s: fresh %v", u, v)
		}
	}
	if v := values(mfs, "etcdpki_peer_bundle_fresh", nil); len(v) != 2 {
		t.Errorf("%d peers, want 2: cp1 itself is not one", len(v))
	}
	if v := value(t, mfs, "etcdpki_check_cluster_forms", nil); v != 1 {
		t.Errorf("cluster_forms %v", v)
	}

	bad, _ := exporter.ParsePeers([]string{"dns+http://nowhere.invalid:" + port})
	e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: bad, LookupHost: lookup})
	if err := e.Scan(t.Context()); err == nil || !strings.Contains(err.Error(), "resolving nowhere.invalid") {
		t.Errorf("an unresolvable name: %v", err)
	}
	if v := value(t, gather(t, e), "etcdpki_check_cluster_forms", nil); v != 0 {
		t.Errorf("an unresolvable name: cluster_forms %v", v)
	}
}

// TestStripPrefix: the filepath label names the path on the node when
// the node's / is mounted under a prefix (a pod's /host); the file name
// and everything else are unchanged.
func TestStripPrefix(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	root := c.MemberDir("cp1")
	for _, prefix := range []string{root, root + "/"} {
		e := exporter.New(exporter.Options{Dirs: []string{root}, StripPrefix: prefix, Now: func() time.Time { return c.Now }})
		if err := e.Scan(t.Context()); err != nil {
			t.Fatal(err)
		}
		mfs := gather(t, e)
		if v := values(mfs, "x509_cert_not_after", map[string]string{"kind": "server", "filename": "server.crt", "filepath": "/etc/kubernetes/pki/etcd/server.crt"}); len(v) != 1 {
			t.Errorf("--strip-prefix %s: no server.crt series with the node's path", prefix)
		}
	}
	e := exporter.New(exporter.Options{Dirs: []string{root}, StripPrefix: root + "x", Now: func() time.Time { return c.Now }})
	if err := e.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := values(gather(t, e), "x509_cert_not_after", map[string]string{"kind": "server", "filepath": c.CertPath("cp1", pki.KindServer)}); len(v) != 1 {
		t.Errorf("a prefix that is not a directory of the path (%sx) took a part of it", root)
	}
}

// TestPeersGone: a dns+ peer whose address no longer resolves (its pod
// deleted) is not forgotten while no one else holds its member: it stays,
// stale, an error, its last bundle judged, and no verdict is claimed.
// When its member answers again from a new address (the pod replaced),
// the old address is forgotten and the verdict is back.
func TestPeersGone(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	// cp2 on 127.0.0.2, cp3 on 127.0.0.3 and, replaced, on 127.0.0.4:
	// one port for all, as a Service's.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	at := func(name, host string, ln net.Listener) {
		if ln == nil {
			var err error
			if ln, err = net.Listen("tcp", net.JoinHostPort(host, port)); err != nil {
				t.Skipf("%s:%s: %v", host, port, err)
			}
		}
		ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: peerServer(t, c, name).Config.Handler}}
		ts.Start()
		t.Cleanup(ts.Close)
	}
	at("cp2", "127.0.0.2", ln)
	at("cp3", "127.0.0.3", nil)
	at("cp3", "127.0.0.4", nil)
	var answer []string
	lookup := func(context.Context, string) ([]string, error) { return answer, nil }
	e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: []string{"dns+http://exporters:" + port + "/bundle"}, LookupHost: lookup, Now: func() time.Time { return c.Now }})
	peer := func(host string) string { return "http://" + net.JoinHostPort(host, port) + "/bundle" }
	scan := func(ok bool, what string) map[string]*dto.MetricFamily {
		t.Helper()
		if err := e.Scan(t.Context()); (err == nil) != ok {
			t.Errorf("%s: scan error %v", what, err)
		}
		return gather(t, e)
	}
	answer = []string{"127.0.0.2", "127.0.0.3"}
	mfs := scan(true, "both answer")
	if v := value(t, mfs, "etcdpki_check_cluster_forms", nil); v != 1 {
		t.Fatalf("both answer: cluster_forms %v", v)
	}
	answer = []string{"127.0.0.2"}
	mfs = scan(false, "cp3 no longer resolved")
	if v := value(t, mfs, "etcdpki_peer_bundle_fresh", map[string]string{"peer": peer("127.0.0.3")}); v != 0 {
		t.Errorf("cp3 no longer resolved: fresh %v, want 0", v)
	}
	if v, m := value(t, mfs, "etcdpki_check_cluster_forms", nil), value(t, mfs, "etcdpki_members", nil); v != 0 || m != 3 {
		t.Errorf("cp3 no longer resolved: cluster_forms %v (want 0), members %v (want 3: its last bundle)", v, m)
	}
	answer = []string{"127.0.0.2", "127.0.0.4"}
	mfs = scan(true, "cp3 at a new address")
	if v := values(mfs, "etcdpki_peer_bundle_fresh", map[string]string{"peer": peer("127.0.0.3")}); len(v) != 0 {
		t.Errorf("cp3 at a new address: the old one is still a peer (%v)", v)
	}
	if v, m := value(t, mfs, "etcdpki_check_cluster_forms", nil), value(t, mfs, "etcdpki_members", nil); v != 1 || m != 3 {
		t.Errorf("cp3 at a new address: cluster_forms %v, members %v", v, m)
	}
}

// TestPeersOnceKnowsItself: an exporter that serves nothing (--once) and
// finds its own node's bundle in its peer list, served by the node's
// running exporter, skips it by its members' certificates.
func TestPeersOnceKnowsItself(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	self, cp2 := peerServer(t, c, "cp1"), peerServer(t, c, "cp2")
	e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: []string{self.URL + "/bundle", cp2.URL + "/bundle"}, Now: func() time.Time { return c.Now }})
	if err := e.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	mfs := gather(t, e)
	if v := values(mfs, "etcdpki_peer_bundle_fresh", nil); len(v) != 1 {
		t.Errorf("%d peers, want 1: its own node's bundle is not a peer's", len(v))
	}
	if v := value(t, mfs, "etcdpki_members", nil); v != 2 {
		t.Errorf("%v members, want 2 (cp1 once)", v)
	}
}

// TestPeerAnswersBadly: a peer whose answer is not a bundle (too large,
// an HTML page, an error status) is a scan error that says which peer
// and what it answered, and no verdict.
func TestPeerAnswersBadly(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	for _, p := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"too large", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(bytes.Repeat([]byte(" "), 2<<20))
		}, "the bundle is larger than 1048576 bytes"},
		{"a page", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html></html>")
		}, "answered text/html, not a bundle: is this an etcdpki exporter's /bundle?"},
		{"an error", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no scan yet", http.StatusServiceUnavailable)
		}, "answered 503 Service Unavailable: no scan yet"},
	} {
		t.Run(p.name, func(t *testing.T) {
			ts := httptest.NewServer(p.handler)
			defer ts.Close()
			e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: []string{ts.URL + "/bundle"}, Now: func() time.Time { return c.Now }})
			err := e.Scan(t.Context())
			if want := "peer " + ts.URL + "/bundle: " + p.want; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("scan error %v, want %q", err, want)
			}
			if v := value(t, gather(t, e), "etcdpki_check_cluster_forms", nil); v != 0 {
				t.Errorf("cluster_forms %v, want 0", v)
			}
		})
	}
}
