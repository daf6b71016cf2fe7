package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/etcdpki/etcdpki/internal/tlsdial"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// probe runs every check against one URL. Each network step has its own
// deadline (Timeout). An endpoint that does not complete a handshake stops
// after the first step (a black hole costs one timeout), and one that
// does not answer /version as etcd after the second; otherwise the KV read
// and the three refusal checks run concurrently, so that an endpoint costs
// at most four timeouts: handshake, /version, then a refusal check's
// handshake and read. Whatever ctx ends (the probe's time limit) is
// recorded in ep.cut, and the checks it interrupted stay nil.
func (p *prober) probe(ctx context.Context, t target) (ep Endpoint) {
	start := time.Now()
	ep = Endpoint{Member: t.member, URL: t.url, Port: t.port}
	defer func() { ep.Millis = time.Since(start).Milliseconds() }()
	addr, err := hostPort(t.url)
	if err != nil {
		ep.Error = err.Error()
		ep.badURL = true
		return ep
	}
	host := hostOf(t.url)
	// The main handshake, with our client cert; verification is done
	// below so each failure gets its own finding. The served certificate
	// is kept from VerifyConnection, which runs before the client sends its
	// certificate: over TLS 1.2 a server that refuses our cert ends the
	// handshake, and what it served still counts.
	// tlsdial, the one dial-and-judge helper: a refusal of our client
	// cert shows on the first read over TLS 1.3, so it asks for /version,
	// which answers on both etcd ports.
	cfg := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{p.client}, ServerName: host}
	r := tlsdial.Dial(ctx, addr, tlsdial.Options{Config: cfg, Timeout: p.opts.Timeout})
	var readErr error
	switch {
	case r.HandshakeErr != nil && (len(r.Served) == 0 || !strings.Contains(r.HandshakeErr.Error(), "remote error: tls:")):
		ep.Error = r.HandshakeErr.Error()
		ep.TCPOpen = r.TCPOpen
		if ctx.Err() != nil {
			ep.cut = cutHandshake
		}
		return ep
	case !r.TCPOpen:
		ep.Error = r.Err.Error()
		if ctx.Err() != nil {
			ep.cut = cutHandshake
		}
		return ep
	case r.HandshakeErr != nil:
		readErr = r.HandshakeErr
	default:
		readErr = versionAnswer(ctx, r, p.opts.Timeout)
		ep.etcd = readErr == nil
	}
	ep.Reachable = true
	ep.TLSVersion = tls.VersionName(r.Version)
	if certs := r.Served; len(certs) > 0 {
		leaf := certs[0]
		ep.Served = describe(leaf)
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, verr := leaf.Verify(x509.VerifyOptions{Roots: p.roots, Intermediates: inter, CurrentTime: p.opts.Now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		ep.ChainOK = boolp(verr == nil)
		if verr != nil {
			ep.Error = verr.Error()
		}
		ep.NameOK = boolp(leaf.VerifyHostname(host) == nil)
	}
	var notEtcd *notEtcdError
	if ctx.Err() != nil {
		ep.cut = cutChecks
		return ep
	}
	if errors.As(readErr, &notEtcd) {
		// Not etcd (or silent): whether it refuses other clients says
		// nothing about the cluster.
		ep.ReadOK = boolp(false)
		ep.Error = joinErr(ep.Error, readErr.Error())
		return ep
	}

	var wg sync.WaitGroup
	var kvErr error
	switch {
	case readErr != nil:
		ep.ReadOK = boolp(false)
		ep.Error = joinErr(ep.Error, clientCertPrefix+readErr.Error())
	case t.port == PortClient:
		// /version proved the TLS side; a KV read proves etcd serves.
		wg.Go(func() { kvErr = p.kvRead(ctx, addr) })
	default:
		ep.ReadOK = boolp(true)
	}
	// What must be refused.
	noCert := &tls.Config{InsecureSkipVerify: true, ServerName: host}
	foreign := &tls.Config{InsecureSkipVerify: true, ServerName: host,
		// Send the foreign cert even though it is not from a CA the
		// server lists; crypto/tls would otherwise send nothing.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &p.foreign, nil }}
	old := &tls.Config{InsecureSkipVerify: true, ServerName: host, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
		Certificates: []tls.Certificate{p.client}}
	wg.Go(func() { ep.NoCertRefused = p.refused(ctx, addr, noCert) })
	wg.Go(func() { ep.ForeignCARefused = p.refused(ctx, addr, foreign) })
	wg.Go(func() { ep.OldTLSRefused = p.refused(ctx, addr, old) })
	wg.Wait()
	if ctx.Err() != nil && (ep.NoCertRefused == nil || ep.ForeignCARefused == nil || ep.OldTLSRefused == nil || kvErr != nil) {
		// A read cut short proves nothing either way.
		ep.cut = cutChecks
		if kvErr != nil {
			return ep
		}
	}
	if readErr == nil && t.port == PortClient {
		ep.ReadOK = boolp(kvErr == nil)
		if kvErr != nil {
			ep.Error = joinErr(ep.Error, "a read through this endpoint failed: "+kvErr.Error())
		}
	}
	return ep
}

// clientCertPrefix marks, in Endpoint.Error, the error of the connection
// made with the probe's client cert.
const clientCertPrefix = "with the client cert: "

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// refused reports whether the endpoint refuses a connection made with
// cfg: at the handshake or, over TLS 1.3, at the first read. Any answer
// to GET /version is acceptance; an alert, a close or silence counts as a
// refusal. It returns nil when ctx ended first: a connection cut short is
// no refusal.
func (p *prober) refused(ctx context.Context, addr string, cfg *tls.Config) *bool {
	r := tlsdial.Dial(ctx, addr, tlsdial.Options{Config: cfg, Timeout: p.opts.Timeout})
	if r.Verdict != tlsdial.Accepted && ctx.Err() != nil {
		return nil
	}
	return boolp(r.Verdict != tlsdial.Accepted)
}

// versionAnswer judges the answer to GET /version: nil for etcd's, a
// *notEtcdError for another server's or for silence, the refusal
// otherwise; ctx's cause when ctx ended first.
func versionAnswer(ctx context.Context, r *tlsdial.Result, timeout time.Duration) error {
	switch {
	case r.Verdict == tlsdial.Accepted:
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "etcd") {
			return &notEtcdError{status: fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status)), body: r.Body}
		}
		return nil
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case errors.Is(r.Err, tlsdial.ErrSilent):
		return &notEtcdError{silent: timeout}
	}
	return r.Err
}

// notEtcdError is a TLS endpoint that answers HTTP but not as etcd, or
// does not answer at all (silent is then the time it was given).
type notEtcdError struct {
	status, body string
	silent       time.Duration
}

func (e *notEtcdError) Error() string {
	if e.silent > 0 {
		return fmt.Sprintf("not an etcd endpoint: completed a TLS handshake but did not answer GET /version within %s", e.silent)
	}
	b := e.body
	if len(b) > 80 {
		b = b[:80] + "…"
	}
	return fmt.Sprintf("not an etcd endpoint: GET /version answered %s %q", e.status, b)
}

// kvRead does a serializable Get through this one endpoint, given as
// host:port so that clientv3 dials TLS whatever the URL's scheme.
func (p *prober) kvRead(ctx context.Context, addr string) error {
	// The served cert was judged already; the read only asks whether the
	// member accepts our client cert and serves.
	cfg := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{p.client}}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, TLS: cfg, DialTimeout: p.opts.Timeout, Logger: zap.NewNop(), Context: ctx})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	_, err = cli.Get(ctx, "etcdpki-probe", clientv3.WithSerializable())
	return err
}
