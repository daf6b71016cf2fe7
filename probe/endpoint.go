package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

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
	var served *tls.ConnectionState
	cfg := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{p.client}, ServerName: host,
		VerifyConnection: func(cs tls.ConnectionState) error { served = &cs; return nil }}
	conn, tcpOpen, err := p.dialTLS(ctx, addr, cfg)
	var readErr error
	switch {
	case err != nil && (served == nil || !strings.Contains(err.Error(), "remote error: tls:")):
		ep.Error = err.Error()
		ep.TCPOpen = tcpOpen
		if ctx.Err() != nil {
			ep.cut = cutHandshake
		}
		return ep
	case err != nil:
		readErr = err
	default:
		st := conn.ConnectionState()
		served = &st
		// A refusal of our client cert shows on the first read over TLS
		// 1.3; /version answers on both etcd ports.
		readErr = httpVersion(ctx, conn, p.opts.Timeout, addr)
		conn.Close()
		ep.etcd = readErr == nil
	}
	ep.Reachable = true
	ep.TLSVersion = tls.VersionName(served.Version)
	if certs := served.PeerCertificates; len(certs) > 0 {
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

// dialTLS dials and handshakes within one timeout. tcpOpen reports
// whether the TCP connection was made: it tells a closed port from one
// that accepts but never speaks TLS, without a second dial.
func (p *prober) dialTLS(ctx context.Context, addr string, cfg *tls.Config) (conn *tls.Conn, tcpOpen bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, true, err
	}
	return c, true, nil
}

// refused reports whether the endpoint refuses a connection made with
// cfg: at the handshake or, over TLS 1.3, at the first read. It returns
// nil when ctx ended first: a connection cut short is no refusal.
func (p *prober) refused(ctx context.Context, addr string, cfg *tls.Config) *bool {
	conn, _, err := p.dialTLS(ctx, addr, cfg)
	if err == nil {
		defer conn.Close()
		err = httpVersion(ctx, conn, p.opts.Timeout, addr)
	}
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return boolp(err != nil)
}

// httpVersion sends GET /version over conn and reads the status line,
// within timeout or until ctx ends; it then returns ctx's cause.
func httpVersion(ctx context.Context, conn *tls.Conn, timeout time.Duration, host string) error {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	// A deadline in the past makes the blocked read return at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := fmt.Fprintf(conn, "GET /version HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("connection closed without a response")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return &notEtcdError{silent: timeout}
		}
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "etcd") {
		return &notEtcdError{status: resp.Status, body: string(body)}
	}
	return nil
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
