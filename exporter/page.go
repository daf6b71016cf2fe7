package exporter

import (
	"bytes"
	"cmp"
	"html/template"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/expiry"
	"github.com/etcdpki/etcdpki/graph"
)

// page is what the exporter's page at / shows of one scan: the verdict,
// the findings by member, the expiry table and the trust graph. It is
// built at scan time; a request only renders it.
type page struct {
	Verdict  audit.Verdict
	State    string // "ok", "bad" (forms, connects or not, with errors) or "unknown": no verdict claimed
	Headline string
	Reasons  []string // why no verdict is claimed
	Members  []pageMember
	Expiry   *expiry.Report
	Graph    template.HTML // graph.WriteSVG's own escaped SVG
	Peers    []pagePeer
	Probe    []pageEndpoint
}

type pageMember struct {
	Name, Where string
	Findings    []audit.Finding
}

type pagePeer struct {
	URL, Age, Error string
	Fresh           bool
}

type pageEndpoint struct {
	Member, URL, Port string
	Reachable         bool
}

// buildPage makes the page of snapshot s, whose report, members and peers
// are set.
func buildPage(s *snapshot) *page {
	p := &page{}
	healthy := s.ok && s.members > 0
	if s.report != nil {
		p.Verdict = s.report.Verdict
	}
	switch {
	case s.members == 0:
		p.State, p.Headline = "unknown", "No verdict: the scan read no member."
	case !healthy:
		p.State, p.Headline = "unknown", "No verdict: the scan did not see the whole cluster. What it saw: "+p.Verdict.Summary
	case p.Verdict.ClusterForms && p.Verdict.ClientsConnect && p.Verdict.Errors == 0:
		// A cluster that forms with an error in it (a member rejected in
		// one direction) is not shown green.
		p.State, p.Headline = "ok", p.Verdict.Summary
	default:
		p.State, p.Headline = "bad", p.Verdict.Summary
	}
	if s.err != nil {
		for l := range strings.SplitSeq(s.err.Error(), "\n") {
			p.Reasons = append(p.Reasons, l)
		}
	}
	if s.report != nil {
		byName := map[string]*pageMember{}
		for _, m := range s.report.Members {
			where := m.Dir
			if m.Layout != "" {
				where += " (" + m.Layout + ")"
			}
			p.Members = append(p.Members, pageMember{Name: m.Name, Where: where})
		}
		for i := range p.Members {
			byName[p.Members[i].Name] = &p.Members[i]
		}
		var cluster []audit.Finding
		for _, f := range s.report.Findings {
			if m := byName[f.Member]; m != nil {
				m.Findings = append(m.Findings, f)
			} else {
				cluster = append(cluster, f)
			}
		}
		if len(cluster) > 0 {
			p.Members = append(p.Members, pageMember{Name: "the cluster as a whole", Findings: cluster})
		}
		for i := range p.Members {
			slices.SortStableFunc(p.Members[i].Findings, func(a, b audit.Finding) int { return cmp.Compare(b.Severity, a.Severity) })
		}
		p.Expiry = expiry.Scan(s.seen, s.at)
		var svg bytes.Buffer
		if graph.Build(s.seen, s.report).WriteSVG(&svg) == nil {
			p.Graph = template.HTML(svg.String()) // escaped by WriteSVG
		}
	}
	for _, ps := range s.peers {
		if ps.self {
			continue
		}
		pp := pagePeer{URL: ps.url, Fresh: ps.fresh}
		if !ps.collected.IsZero() {
			pp.Age = s.at.Sub(ps.collected).Round(time.Second).String()
		}
		if ps.err != nil {
			pp.Error = ps.err.Error()
		}
		p.Peers = append(p.Peers, pp)
	}
	if s.probe != nil {
		for _, ep := range s.probe.Endpoints {
			p.Probe = append(p.Probe, pageEndpoint{Member: ep.Member, URL: ep.URL, Port: ep.Port, Reachable: ep.Reachable})
		}
	}
	return p
}

// residualClass colours an expiry row: expired or within 7 days "bad",
// within 30 days "warn", as the deployed alerts do.
func residualClass(seconds int64) string {
	switch {
	case seconds < 7*86400:
		return "bad"
	case seconds < 30*86400:
		return "warn"
	}
	return ""
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"residualClass": residualClass,
	"lower":         strings.ToLower,
	"day":           func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>etcdpki: {{if .Page}}{{.Page.State}}{{else}}no scan yet{{end}}</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:1em;margin:1em 0 .3em}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.1em;font-weight:bold}
.verdict.ok{background:#e6f4ea;color:#1e7e34}.verdict.bad{background:#fdecea;color:#b00020}.verdict.unknown{background:#fff4e5;color:#8a4b00}
table{border-collapse:collapse;font-size:.9em;margin:.3em 0}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f5f5f5}
tr.bad td,td.bad,span.error{color:#b00020}tr.warn td,td.warn,span.warning{color:#8a4b00}span.info{color:#555}
code{font-size:.95em}.muted{color:#666}.graph{overflow:auto;border:1px solid #ddd;padding:.5em}
</style></head>
<body>
<h1>etcdpki exporter{{if .Host}} on {{.Host}}{{end}}</h1>
<p class="muted">The PKI of an etcd cluster, checked every {{.Interval}}: <a href="/metrics">metrics</a> for Prometheus, this node's public facts as a <a href="/bundle">bundle</a>.
{{if .Page}}Last scan {{.At}}, {{.Duration}}, {{.Scanned}} members.{{end}}</p>
{{with .Page}}
<div class="verdict {{.State}}" id="verdict">{{.Headline}}</div>
{{if .Reasons}}<ul id="errors">{{range .Reasons}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Peers}}<h2>Peers</h2>
<table id="peers"><tr><th>exporter</th><th>bundle</th><th>collected</th><th>error</th></tr>
{{range .Peers}}<tr{{if not .Fresh}} class="bad"{{end}}><td>{{.URL}}</td><td>{{if .Fresh}}fresh{{else}}stale{{end}}</td><td>{{if .Age}}{{.Age}} ago{{else}}never{{end}}</td><td>{{.Error}}</td></tr>
{{end}}</table>{{end}}
<h2>Findings by member</h2>
{{range .Members}}<h3 class="member">{{.Name}} <span class="muted">{{.Where}}</span></h3>
{{if .Findings}}<table class="findings"><tr><th>severity</th><th>rule</th><th>detail</th><th>fix</th></tr>
{{range .Findings}}<tr><td><span class="{{.Severity}}">{{.Severity}}</span></td><td><code>{{.Rule}}</code></td><td>{{.Detail}}{{if .File}}<br><span class="muted">{{.File}}</span>{{end}}</td><td>{{.Fix}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No findings.</p>{{end}}
{{end}}
{{if .Probe}}<h2>Live probe</h2>
<table id="probe"><tr><th>member</th><th>endpoint</th><th>port</th><th>TLS handshake</th></tr>
{{range .Probe}}<tr{{if not .Reachable}} class="bad"{{end}}><td>{{.Member}}</td><td>{{.URL}}</td><td>{{.Port}}</td><td>{{if .Reachable}}completed{{else}}failed{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .Expiry}}<h2>Expiry</h2>
<table id="expiry"><tr><th>member</th><th>certificate</th><th>file</th><th>subject</th><th>expires</th><th>residual</th><th>signed by</th></tr>
{{range .Certificates}}<tr class="{{if .Missing}}bad{{else}}{{residualClass .ResidualSeconds}}{{end}}"><td>{{.Member}}</td><td>{{.Name}}</td><td>{{.File}}</td><td>{{.Subject}}</td><td>{{if .Missing}}!MISSING!{{else}}{{day .NotAfter}}{{end}}</td><td>{{.Residual}}</td><td>{{.Authority}}{{if not .SignedByMemberCA}} (not the member's CA){{end}}</td></tr>
{{end}}</table>
<table id="authorities"><tr><th>certificate authority</th><th>members</th><th>expires</th><th>residual</th><th>key on</th></tr>
{{range .Authorities}}<tr class="{{residualClass .ResidualSeconds}}"><td>{{.Name}}</td><td>{{range $i, $m := .Members}}{{if $i}}, {{end}}{{$m}}{{end}}</td><td>{{day .NotAfter}}</td><td>{{.Residual}}</td><td>{{if .ExternallyManaged}}no member (external){{else}}{{range $i, $m := .KeyOn}}{{if $i}}, {{end}}{{$m}}{{end}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Graph}}<h2>Trust graph</h2>
<p class="muted">Dashed red edges are broken by an error, orange by a warning, labelled with the rule.</p>
<div class="graph" id="graph">{{.Graph}}</div>{{end}}
<p class="muted">Every rule, with why it breaks and how to fix it: docs/rules.md in etcdpki. Run <code>etcdpki check</code> on the members' trees for the full report, <code>etcdpki explain</code> on an error message.</p>
{{else}}<div class="verdict unknown" id="verdict">No scan yet.</div>{{end}}
</body></html>
`))

// index serves the page at /.
func (e *Exporter) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	e.mu.RLock()
	s := e.last
	e.mu.RUnlock()
	interval := e.interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	data := struct {
		Page                         *page
		Host, At, Duration, Interval string
		Scanned                      int
		Refresh                      int
	}{Interval: interval.String(), Refresh: int(max(interval, 5*time.Second).Seconds())}
	data.Host, _ = os.Hostname()
	if s != nil {
		data.Page, data.At, data.Duration, data.Scanned = s.page, s.at.UTC().Format(time.RFC3339), s.duration.Round(time.Millisecond).String(), s.members
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}
