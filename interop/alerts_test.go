package interop

import (
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestAlertExpressions proves that the PrometheusRule and the Grafana
// dashboard under deploy/ ask Prometheus for what the exporter serves:
//
//   - every alert expression and every dashboard query parses with
//     Prometheus's own PromQL parser (github.com/prometheus/prometheus
//     promql/parser);
//   - every metric they select, and every label they match on, is in the
//     output of the real exporter (etcdpki exporter --once, with --probe
//     against a running etcd and a warning window that makes findings, so
//     that every family is there);
//   - every {{ $labels.x }} of an alert is a label its expression's result
//     carries, from the series or from the scrape target (the labels the
//     Prometheus Operator gives a ServiceMonitor's targets, and the
//     ServiceMonitor's own relabelings); each alert has a severity, a
//     summary, a description and a runbook whose anchor exists;
//   - the leaf-expiry alerts are x509_cert_not_after{kind!="ca"} - time()
//     below 30 days (warning) and 7 days (critical), and there are alerts on
//     error findings, the probe, failed, stale and absent scans;
//   - the dashboard is valid JSON whose queries all use a data source
//     template variable.
func TestAlertExpressions(t *testing.T) {
	builds := deployBuilds(t)
	scrape := liveExporterScrape(t)
	target := targetLabels(t, builds[0])

	seen := map[string]bool{}
	for _, b := range builds {
		pr := b.one(t, "PrometheusRule")
		spec, _ := json.Marshal(pr.Object["spec"])
		if seen[string(spec)] {
			continue
		}
		seen[string(spec)] = true
		t.Run(strings.ReplaceAll(b.name, "/", "-"), func(t *testing.T) { checkRules(t, pr, scrape, target) })
	}
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, scrape, target) })
}

// liveExporterScrape runs cp1's exporter once over a two-member cluster
// of init's PKI, running, with the probe on, cp2's bundle (etcdpki
// collect) served as its peer's, and a 20-year warning window (every
// certificate is then a VALID-EXPIRING finding).
func liveExporterScrape(t *testing.T) *exporterScrape {
	t.Helper()
	p := initPKI(t, pkiOptions{members: 2})
	writeManifests(t, p)
	c := startCluster(t, p, "3.6")
	c.waitHealthy(t, 60*time.Second)
	bundle, code, stderr := runCode(t, "collect", p.tree("cp2"))
	if code != 0 {
		t.Fatalf("etcdpki collect: exit %d\n%s", code, stderr)
	}
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(bundle))
	}))
	t.Cleanup(peer.Close)
	s := exporterOnce(t, "exporter", "--warn-within", "20y", "--probe", "--timeout", "5s", "--endpoints", p.endpoints(),
		"--cacert", p.file("cp1", kubeadmCA), "--cert", p.file("cp1", kubeadmHealthCert), "--key", p.file("cp1", kubeadmHealthKey),
		"--peers", peer.URL, p.tree("cp1"))
	for _, name := range []string{"x509_cert_not_after", "etcdpki_findings", "etcdpki_probe_success", "etcdpki_probe_endpoint_reachable", "etcdpki_peer_bundle_fresh"} {
		if s.families[name] == nil {
			t.Fatalf("the exporter printed no %s: the comparison below would be vacuous", name)
		}
	}
	return s
}

// targetLabels are the labels Prometheus puts on every series it scrapes
// from the ServiceMonitor's targets: job and instance (Prometheus), those
// the Prometheus Operator adds to a ServiceMonitor's endpoints
// (github.com/prometheus-operator/prometheus-operator@v0.90.1
// pkg/prometheus/promcfg.go generateServiceMonitorConfig: namespace,
// service, pod, container, endpoint) and the targetLabels of the
// ServiceMonitor's own relabelings.
func targetLabels(t *testing.T, b *deployBuild) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, l := range []string{"job", "instance", "namespace", "service", "pod", "container", "endpoint"} {
		out[l] = true
	}
	eps, _, _ := unstructured.NestedSlice(b.one(t, "ServiceMonitor").Object, "spec", "endpoints")
	for _, ep := range eps {
		rls, _, _ := unstructured.NestedSlice(ep.(map[string]any), "relabelings")
		for _, r := range rls {
			if l, ok := r.(map[string]any)["targetLabel"].(string); ok {
				out[l] = true
			}
		}
	}
	return out
}

// promRule is one rule of a PrometheusRule
// (monitoring.coreos.com/v1 Rule).
type promRule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

var templateLabelRe = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

// checkRules checks every rule of pr (see TestAlertExpressions).
func checkRules(t *testing.T, pr *unstructured.Unstructured, s *exporterScrape, target map[string]bool) {
	var spec struct {
		Groups []struct {
			Name  string     `json:"name"`
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	decodeInto(t, &unstructured.Unstructured{Object: map[string]any{"groups": pr.Object["spec"].(map[string]any)["groups"]}}, &spec)
	used := map[string]bool{}
	var absent bool
	expiry := map[float64]string{} // threshold in seconds → severity
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			name := g.Name + "/" + r.Alert + r.Record
			expr, err := parser.ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %q does not parse: %v", name, r.Expr, err)
				continue
			}
			for _, m := range checkSelectors(t, name, expr, s) {
				used[m] = true
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if c, ok := n.(*parser.Call); ok && c.Func.Name == "absent" {
					absent = true
				}
				if threshold, ok := leafExpiryThreshold(n); ok {
					expiry[threshold] = r.Labels["severity"]
				}
				return nil
			})
			if r.Alert == "" {
				continue
			}
			if _, err := model.ParseDuration(r.For); r.For != "" && err != nil {
				t.Errorf("%s: for %q: %v", name, r.For, err)
			}
			if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", name, sev)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", name, a)
				}
			}
			checkRunbook(t, name, r.Annotations["runbook_url"])
			have := resultLabels(expr, s)
			for _, text := range append(slices.Collect(maps.Values(r.Annotations)), slices.Collect(maps.Values(r.Labels))...) {
				for _, m := range templateLabelRe.FindAllStringSubmatch(text, -1) {
					if !have[m[1]] && !target[m[1]] {
						t.Errorf("%s: {{ $labels.%s }}: the expression's result has no label %s (it has %v, and the targets %v)", name, m[1], m[1], sortedKeys(have), sortedKeys(target))
					}
				}
			}
		}
	}
	for _, m := range []string{"x509_cert_not_after", "etcdpki_findings", "etcdpki_probe_success", "etcdpki_probe_endpoint_reachable",
		"etcdpki_last_scan_success", "etcdpki_last_scan_timestamp_seconds"} {
		if !used[m] {
			t.Errorf("no alert uses %s", m)
		}
	}
	if !absent {
		t.Error("no alert fires when no exporter is scraped (absent())")
	}
	if expiry[30*86400] != "warning" || expiry[7*86400] != "critical" {
		t.Errorf("leaf expiry alerts (x509_cert_not_after{kind!=\"ca\"} - time() < N) by threshold: %v; want 30 days warning, 7 days critical", expiry)
	}
}

// checkSelectors fails t for every metric expr selects that the exporter
// does not serve and every label it matches on that the metric lacks; it
// returns the metric names.
func checkSelectors(t *testing.T, what string, expr parser.Expr, s *exporterScrape) []string {
	t.Helper()
	var names []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name == "" {
			t.Errorf("%s: a selector without a metric name: %s", what, vs)
			return nil
		}
		names = append(names, vs.Name)
		have := familyLabels(s, vs.Name)
		if have == nil {
			t.Errorf("%s: the exporter serves no metric %s", what, vs.Name)
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != labels.MetricName && !have[m.Name] {
				t.Errorf("%s: %s has no label %s (it has %v)", what, vs.Name, m.Name, sortedKeys(have))
			}
		}
		return nil
	})
	return names
}

// familyLabels are the label names of the exporter's series of metric
// name, or nil if it served none.
func familyLabels(s *exporterScrape, name string) map[string]bool {
	f := s.families[name]
	if f == nil {
		return nil
	}
	out := map[string]bool{}
	for _, m := range f.Metric {
		for _, l := range m.Label {
			out[l.GetName()] = true
		}
	}
	return out
}

// resultLabels are the labels every sample of expr's result carries, as
// far as PromQL's rules say (prometheus/promql engine.go: aggregations
// keep their grouping, vector-scalar operations and filters keep the
// vector's labels, one-to-one matching with on() keeps only those for
// arithmetic, absent() the equality matchers of its selector).
func resultLabels(e parser.Expr, s *exporterScrape) map[string]bool {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return familyLabels(s, n.Name)
	case *parser.MatrixSelector:
		return resultLabels(n.VectorSelector, s)
	case *parser.ParenExpr:
		return resultLabels(n.Expr, s)
	case *parser.UnaryExpr:
		return resultLabels(n.Expr, s)
	case *parser.StepInvariantExpr:
		return resultLabels(n.Expr, s)
	case *parser.SubqueryExpr:
		return resultLabels(n.Expr, s)
	case *parser.AggregateExpr:
		inner := resultLabels(n.Expr, s)
		out := map[string]bool{}
		if n.Without {
			for l := range inner {
				if !slices.Contains(n.Grouping, l) {
					out[l] = true
				}
			}
			return out
		}
		for _, l := range n.Grouping {
			out[l] = true
		}
		return out
	case *parser.Call:
		switch n.Func.Name {
		case "absent", "absent_over_time":
			out := map[string]bool{}
			parser.Inspect(n.Args[0], func(c parser.Node, _ []parser.Node) error {
				if vs, ok := c.(*parser.VectorSelector); ok {
					for _, m := range vs.LabelMatchers {
						if m.Type == labels.MatchEqual && m.Name != labels.MetricName {
							out[m.Name] = true
						}
					}
				}
				return nil
			})
			return out
		case "time", "vector", "scalar", "pi":
			return map[string]bool{}
		}
		for _, a := range n.Args {
			if a.Type() == parser.ValueTypeVector || a.Type() == parser.ValueTypeMatrix {
				return resultLabels(a, s)
			}
		}
		return map[string]bool{}
	case *parser.BinaryExpr:
		lhs, rhs := resultLabels(n.LHS, s), resultLabels(n.RHS, s)
		switch {
		case n.LHS.Type() != parser.ValueTypeVector:
			return rhs
		case n.RHS.Type() != parser.ValueTypeVector:
			return lhs
		case n.Op == parser.LOR:
			out := map[string]bool{}
			for l := range lhs {
				if rhs[l] {
					out[l] = true
				}
			}
			return out
		case n.VectorMatching != nil && n.VectorMatching.On && !n.Op.IsSetOperator() && !(n.Op.IsComparisonOperator() && !n.ReturnBool):
			out := map[string]bool{}
			for _, l := range n.VectorMatching.MatchingLabels {
				out[l] = true
			}
			return out
		}
		return lhs
	}
	return map[string]bool{}
}

// leafExpiryThreshold recognises `x509_cert_not_after{kind!="ca"} - time()
// < N` and returns N.
func leafExpiryThreshold(n parser.Node) (float64, bool) {
	cmp, ok := n.(*parser.BinaryExpr)
	if !ok || cmp.Op != parser.LSS {
		return 0, false
	}
	sub, ok := unparen(cmp.LHS).(*parser.BinaryExpr)
	if !ok || sub.Op != parser.SUB {
		return 0, false
	}
	vs, ok := unparen(sub.LHS).(*parser.VectorSelector)
	call, ok2 := unparen(sub.RHS).(*parser.Call)
	if !ok || !ok2 || vs.Name != "x509_cert_not_after" || call.Func.Name != "time" {
		return 0, false
	}
	if !slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
		return m.Name == "kind" && m.Type == labels.MatchNotEqual && m.Value == "ca"
	}) {
		return 0, false
	}
	return constant(cmp.RHS)
}

func unparen(e parser.Expr) parser.Expr {
	for {
		switch n := e.(type) {
		case *parser.ParenExpr:
			e = n.Expr
		case *parser.StepInvariantExpr:
			e = n.Expr
		default:
			return e
		}
	}
}

// constant evaluates a number literal or arithmetic of them.
func constant(e parser.Expr) (float64, bool) {
	switch n := unparen(e).(type) {
	case *parser.NumberLiteral:
		return n.Val, true
	case *parser.BinaryExpr:
		a, ok1 := constant(n.LHS)
		b, ok2 := constant(n.RHS)
		if !ok1 || !ok2 {
			return 0, false
		}
		switch n.Op {
		case parser.MUL:
			return a * b, true
		case parser.ADD:
			return a + b, true
		case parser.SUB:
			return a - b, true
		case parser.DIV:
			return a / b, true
		case parser.POW:
			return math.Pow(a, b), true
		}
	}
	return 0, false
}

// runbookRe splits a runbook URL into the repository file and anchor it
// names (https://github.com/etcdpki/etcdpki/blob/main/FILE#ANCHOR).
var runbookRe = regexp.MustCompile(`^https://github\.com/etcdpki/etcdpki/blob/main/([^#]+)#(.+)$`)

// checkRunbook fails t unless url names a file of this repository and,
// unless the anchor is a template, a heading of it.
func checkRunbook(t *testing.T, what, url string) {
	t.Helper()
	m := runbookRe.FindStringSubmatch(url)
	if m == nil {
		t.Errorf("%s: runbook_url %q is not a file of this repository", what, url)
		return
	}
	doc, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(m[1])))
	if err != nil {
		t.Errorf("%s: runbook_url %q: %v", what, url, err)
		return
	}
	if strings.Contains(m[2], "{{") {
		return
	}
	for _, line := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok && githubAnchor(strings.TrimLeft(h, "# ")) == m[2] {
			return
		}
	}
	t.Errorf("%s: runbook_url %q: %s has no heading #%s", what, url, m[1], m[2])
}

// githubAnchor is the anchor GitHub gives a Markdown heading: lower case,
// spaces to hyphens, punctuation other than - and _ dropped.
func githubAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// grafanaVarRe matches a Grafana template variable in a query: $name or
// ${name} (with an optional :format).
var grafanaVarRe = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// checkDashboard checks deploy/grafana/etcdpki-dashboard.json (see
// TestAlertExpressions).
func checkDashboard(t *testing.T, s *exporterScrape, target map[string]bool) {
	data, err := os.ReadFile(filepath.Join(deployDir, "grafana", "etcdpki-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct{ Type, UID string }
	type panel struct {
		ID         int         `json:"id"`
		Type       string      `json:"type"`
		Title      string      `json:"title"`
		Datasource *datasource `json:"datasource"`
		Targets    []struct {
			Expr         string      `json:"expr"`
			LegendFormat string      `json:"legendFormat"`
			Datasource   *datasource `json:"datasource"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct{ Name, Type, Query string } `json:"list"`
		} `json:"templating"`
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("etcdpki-dashboard.json is not valid JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("the dashboard has no uid or title")
	}
	dsVar := ""
	for _, v := range dash.Templating.List {
		if v.Type == "datasource" && v.Query == "prometheus" {
			dsVar = v.Name
		}
	}
	if dsVar == "" {
		t.Fatal("the dashboard has no Prometheus data source variable")
	}
	wantDS := "${" + dsVar + "}"
	ids := map[int]bool{}
	queries := 0
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("panel %s: %v", r, err)
			}
			if ids[p.ID] {
				t.Errorf("panel id %d is used twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != wantDS {
				t.Errorf("panel %q: data source %+v, want uid %s", p.Title, p.Datasource, wantDS)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				queries++
				what := "panel " + strconv.Quote(p.Title)
				if q.Datasource == nil || q.Datasource.UID != wantDS {
					t.Errorf("%s: query data source %+v, want uid %s", what, q.Datasource, wantDS)
				}
				expr := grafanaVarRe.ReplaceAllStringFunc(q.Expr, func(v string) string {
					switch strings.Trim(v, "${}") {
					case "__rate_interval", "__interval", "__range":
						return "5m"
					}
					t.Errorf("%s: %q uses the variable %s, which the dashboard does not define", what, q.Expr, v)
					return v
				})
				e, err := parser.ParseExpr(expr)
				if err != nil {
					t.Errorf("%s: %q does not parse: %v", what, q.Expr, err)
					continue
				}
				checkSelectors(t, what, e, s)
				have := resultLabels(e, s)
				for _, m := range regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`).FindAllStringSubmatch(q.LegendFormat, -1) {
					if !have[m[1]] && !target[m[1]] {
						t.Errorf("%s: legend {{%s}}: the query's result has no such label (%v)", what, m[1], sortedKeys(have))
					}
				}
			}
		}
	}
	walk(dash.Panels)
	if queries == 0 {
		t.Error("the dashboard has no queries")
	}
	t.Logf("%d panels, %d queries parsed", len(ids), queries)
}
