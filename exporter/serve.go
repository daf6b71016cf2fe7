package exporter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics, /bundle (the scanned node's public facts, as
// etcdpki collect writes them) and, at /, the page of the last scan: the
// verdict, the findings by member with their fixes, the expiry table and
// the trust graph, in plain HTML with no external assets.
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
	// Even before a scan, an exporter knows itself in its peer list.
	w.Header().Set(instanceHeader, e.instance)
	if s == nil || s.bundle == nil {
		http.Error(w, "no scan yet", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.bundle)
}

// Serve serves Handler on ln, scans at once and then every interval until
// ctx ends, when it shuts the server down gracefully (letting scrapes in
// flight finish, for up to five seconds). onError hears failed scans.
// It serves during the first scan, so that an exporter whose peer list
// names itself (one list for every node) knows itself there.
func (e *Exporter) Serve(ctx context.Context, ln net.Listener, interval time.Duration, onError func(error)) error {
	e.interval = interval
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go func() {
		if err := e.Scan(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		e.Run(ctx, interval, onError)
	}()
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
