package exporter

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics, /bundle (the scanned node's public facts, as
// etcdpki collect writes them) and, at /, a page that links to them and
// says how the last scan went.
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{Registry: e.reg}))
	mux.HandleFunc("/bundle", e.serveBundle)
	mux.HandleFunc("/", e.index)
	return mux
}

// serveBundle serves the last scan's bundle (etcdpki collect's JSON:
// public facts only, never key material); 503 before the first scan.
func (e *Exporter) serveBundle(w http.ResponseWriter, r *http.Request) {
	e.mu.RLock()
	s := e.last
	e.mu.RUnlock()
	if s == nil || s.bundle == nil {
		http.Error(w, "no scan yet", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.bundle)
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><title>etcdpki exporter</title></head>
<body>
<h1>etcdpki exporter</h1>
<p>Certificate expiry, check findings{{if .Probe}} and live probe results{{end}} of an etcd cluster's PKI as <a href="/metrics">Prometheus metrics</a>; the node's public facts as a <a href="/bundle">bundle</a>.</p>
{{if .Scanned}}<p>Last scan {{.At}}: {{.Members}} members, {{.Verdict}}{{if .Err}}; errors: {{.Err}}{{end}}.</p>{{else}}<p>No scan yet.</p>{{end}}
</body></html>
`))

func (e *Exporter) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	e.mu.RLock()
	s := e.last
	e.mu.RUnlock()
	data := struct {
		Probe, Scanned bool
		At, Verdict    string
		Members        int
		Err            error
	}{Probe: e.opts.Probe != nil}
	if s != nil {
		data.Scanned, data.At, data.Members, data.Verdict, data.Err = true, s.at.UTC().Format(time.RFC3339), s.members, s.verdict.Summary, s.err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = indexPage.Execute(w, data)
}

// Serve scans, then serves Handler on ln and rescans every interval until
// ctx ends, when it shuts the server down gracefully (letting scrapes in
// flight finish, for up to five seconds). onError hears failed scans.
func (e *Exporter) Serve(ctx context.Context, ln net.Listener, interval time.Duration, onError func(error)) error {
	if err := e.Scan(ctx); err != nil && onError != nil {
		onError(err)
	}
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go e.Run(ctx, interval, onError)
	select {
	case err := <-served:
		return fmt.Errorf("serving metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
