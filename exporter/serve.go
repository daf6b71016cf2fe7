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
	mux.Handle("/metrics", e.afterFirstScan(promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{Registry: e.reg})))
	mux.HandleFunc("/bundle", e.serveBundle)
	mux.Handle("/", e.afterFirstScan(http.HandlerFunc(e.index)))
	return mux
}

// afterFirstScan holds requests to h until Serve's first scan is done, so
// that a scrape right after the start sees the files and not an empty
// exporter; /bundle answers at once (503 until then), for the peers.
func (e *Exporter) afterFirstScan(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := e.firstScan; c != nil {
			select {
			case <-c:
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	})
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
// It serves /bundle during the first scan, so that an exporter whose peer
// list names itself (one list for every node) knows itself there; the
// metrics and the page wait for that scan.
func (e *Exporter) Serve(ctx context.Context, ln net.Listener, interval time.Duration, onError func(error)) error {
	// The scans end with Serve, also when serving fails.
	ctx, cancelScans := context.WithCancel(ctx)
	defer cancelScans()
	e.interval = interval
	firstScan := make(chan struct{})
	e.firstScan = firstScan
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go func() {
		err := e.Scan(ctx)
		close(firstScan)
		if err != nil && onError != nil && ctx.Err() == nil {
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
