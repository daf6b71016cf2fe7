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
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// probe runs every check against one URL. Each network step has its own
// deadline; an unreachable endpoint stops after the first.
func (p *prober) probe(ctx context.Context, t target) (ep Endpoint) {
	start := time.Now()
	ep = Endpoint{Member: t.member, URL: t.url, Port: t.port}
	defer func() { ep.Millis = time.Since(start).Milliseconds() }()
	addr, err := hostPort(t.url)
	if err != nil {
		ep.Error = err.Error()
		return ep
	}
	// The main handshake, with our client cert; verification is done
	// below so each failure gets its own finding.
	cfg := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{p.client}, ServerName: hostOf(t.url)}
	conn, err := p.dialTLS(ctx, addr, cfg)
	if err != nil {
		ep.Error = err.Error()
		ep.TCPOpen = p.tcpOpen(ctx, addr)
		return ep
	}
	st := conn.ConnectionState()
	ep.Reachable = true
	ep.TLSVersion = tls.VersionName(st.Version)
	// A refusal of our own client cert shows on the first read over TLS
	// 1.3; /version answers on both etcd ports.
	readErr := httpVersion(conn, p.opts.Timeout, addr)
	conn.Close()
	if len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		ep.Served = describe(leaf)
		inter := x509.NewCertPool()
		for _, c := range st.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, verr := leaf.Verify(x509.VerifyOptions{Roots: p.roots, Intermediates: inter, CurrentTime: p.opts.Now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		ep.ChainOK = boolp(verr == nil)
		if verr != nil {
			ep.Error = verr.Error()
		}
		ep.NameOK = boolp(leaf.VerifyHostname(hostOf(t.url)) == nil)
	}
	if readErr != nil {
		ep.ReadOK = boolp(false)
		ep.Error = joinErr(ep.Error, "with the client cert: "+readErr.Error())
	} else if t.port == PortClient {
		// /version proved the TLS side; a KV read proves etcd serves.
		err := p.kvRead(ctx, t.url)
		ep.ReadOK = boolp(err == nil)
		if err != nil {
			ep.Error = joinErr(ep.Error, "a read through this endpoint failed: "+err.Error())
		}
	} else {
		ep.ReadOK = boolp(true)
	}

	// What must be refused.
	noCert := &tls.Config{InsecureSkipVerify: true, ServerName: hostOf(t.url)}
	ep.NoCertRefused = boolp(p.refused(ctx, addr, noCert))
	foreign := &tls.Config{InsecureSkipVerify: true, ServerName: hostOf(t.url),
		// Send the foreign cert even though it is not from a CA the
		// server lists; crypto/tls would otherwise send nothing.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &p.foreign, nil }}
	ep.ForeignCARefused = boolp(p.refused(ctx, addr, foreign))
	old := &tls.Config{InsecureSkipVerify: true, ServerName: hostOf(t.url), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
		Certificates: []tls.Certificate{p.client}}
	ep.OldTLSRefused = boolp(p.refused(ctx, addr, old))
	return ep
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// tcpOpen reports whether addr accepts a TCP connection: it tells a port
// that is closed from one that accepts but never speaks TLS.
func (p *prober) tcpOpen(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// dialTLS dials and handshakes within one timeout.
func (p *prober) dialTLS(ctx context.Context, addr string, cfg *tls.Config) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// refused reports whether the endpoint refuses a connection made with
// cfg: at the handshake or, over TLS 1.3, at the first read.
func (p *prober) refused(ctx context.Context, addr string, cfg *tls.Config) bool {
	conn, err := p.dialTLS(ctx, addr, cfg)
	if err != nil {
		return true
	}
	defer conn.Close()
	return httpVersion(conn, p.opts.Timeout, addr) != nil
}

// httpVersion sends GET /version over conn and reads the status line.
func httpVersion(conn *tls.Conn, timeout time.Duration, host string) error {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(conn, "GET /version HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("connection closed without a response")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("no response within %s", timeout)
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

// notEtcdError is a TLS endpoint that answers HTTP but not as etcd.
type notEtcdError struct{ status, body string }

func (e *notEtcdError) Error() string {
	b := e.body
	if len(b) > 80 {
		b = b[:80] + "…"
	}
	return fmt.Sprintf("not an etcd endpoint: GET /version answered %s %q", e.status, b)
}

// kvRead does a serializable Get through this one endpoint.
func (p *prober) kvRead(ctx context.Context, u string) error {
	// The served cert was judged already; the read only asks whether the
	// member accepts our client cert and serves.
	cfg := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{p.client}}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{u}, TLS: cfg, DialTimeout: p.opts.Timeout, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	_, err = cli.Get(ctx, "etcdpki-probe", clientv3.WithSerializable())
	return err
}
