// Package tlsdial is the project's one TLS dial-and-judge helper: it
// dials an endpoint, completes a TLS handshake, and says from evidence
// whether the server accepted the client: the served chain and version,
// whether TCP was open, and what decided the verdict. probe, inspect,
// lifecycle's live checks and the cluster runners' verification use it,
// so "accepted" means one thing everywhere.
//
// Under TLS 1.3, which etcd and Go negotiate, the client's handshake
// completes before the server has judged the client's certificate
// (crypto/tls handshake_server_tls13.go reads the client's Certificate
// message after sending its Finished), so a refusal arrives as an alert
// on the client's first read. Dial therefore asks for GET /version, which
// etcd serves over HTTP/1.1 on its client and peer ports, and judges by
// the answer: any HTTP response means accepted, an alert or a close
// means refused, and silence until the timeout decides nothing. It never
// counts silence as acceptance, so the verdict does not depend on how
// fast a loaded server judges the certificate.
package tlsdial

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
	"syscall"
	"time"
)

// Verdict is how the server took the client.
type Verdict int

// The verdicts.
const (
	// Unknown: no evidence either way (the dial or the handshake failed
	// on the client's side, or the server stayed silent).
	Unknown Verdict = iota
	// Accepted: the server answered after the handshake.
	Accepted
	// Refused: the server sent an alert or closed the connection.
	Refused
)

func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Options configure Dial.
type Options struct {
	// Config is the client's TLS configuration; Dial clones it. Its own
	// VerifyConnection still runs.
	Config *tls.Config
	// Timeout bounds the dial, the handshake and the answer together
	// (default 2 s).
	Timeout time.Duration
	// DialContext dials TCP (default a net.Dialer): hosts mode dials from
	// inside a member's network namespace.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// HandshakeOnly stops after the handshake: no request, so the verdict
	// is Refused only for a refusal within the handshake (TLS 1.2) and
	// Unknown otherwise. inspect uses it to see what is served.
	HandshakeOnly bool
}

// Result is what one dial found.
type Result struct {
	// TCPOpen reports that the TCP connection was made: it tells a closed
	// port from one that accepts but never speaks TLS.
	TCPOpen bool
	// Served is the chain the server sent and Version the TLS version,
	// kept from before the client's own checks, so a chain the client
	// refused (or a server that refused the client) still shows; nil and
	// 0 when no ServerHello came.
	Served  []*x509.Certificate
	Version uint16
	// HandshakeErr is the handshake's error, if it failed: the client's
	// verification of the server, or the server's alert.
	HandshakeErr error
	Verdict      Verdict
	// Evidence says what decided the verdict, e.g. "answered GET /version:
	// 200 OK" or "remote error: tls: certificate required".
	Evidence string
	// Status and Body are the answer to GET /version (the body's first
	// 4 KiB), when one came.
	Status int
	Body   string
	// Err is what ended the dial before a verdict of Accepted: the dial
	// error, the handshake error, the refusal, or the silence.
	Err error
}

// ErrSilent is Result.Err when the server completed the handshake but
// answered nothing within the timeout.
var ErrSilent = errors.New("completed the TLS handshake but answered nothing")

// Dial dials addr (host:port) and judges the server's answer; see the
// package doc. It never returns nil.
func Dial(ctx context.Context, addr string, opts Options) *Result {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	r := &Result{}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		r.Err = err
		return r
	}
	r.TCPOpen = true
	defer raw.Close()
	cfg := &tls.Config{}
	if opts.Config != nil {
		cfg = opts.Config.Clone()
	}
	if cfg.ServerName == "" {
		if h, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = h
		}
	}
	// VerifyConnection runs before the client sends its certificate. The
	// served chain is kept there even when the client's own verification
	// then fails, so Dial verifies the server itself, as crypto/tls
	// would (handshake_client.go verifyServerCertificate: the chain
	// against RootCAs, the name against ServerName), with its wording.
	user, verify := cfg.VerifyConnection, !cfg.InsecureSkipVerify
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		r.Served, r.Version = cs.PeerCertificates, cs.Version
		if verify && len(cs.PeerCertificates) > 0 {
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			vo := x509.VerifyOptions{Roots: cfg.RootCAs, Intermediates: inter, DNSName: cfg.ServerName}
			if cfg.Time != nil {
				vo.CurrentTime = cfg.Time()
			}
			if _, err := cs.PeerCertificates[0].Verify(vo); err != nil {
				return fmt.Errorf("tls: failed to verify certificate: %w", err)
			}
		}
		if user != nil {
			return user(cs)
		}
		return nil
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		r.HandshakeErr, r.Err = err, err
		if isRefusal(err) || errors.Is(err, io.EOF) {
			// TLS 1.2: the server refuses within the handshake.
			r.Verdict, r.Evidence = Refused, err.Error()
		}
		return r
	}
	if opts.HandshakeOnly {
		return r
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A deadline in the past makes the blocked read return at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := fmt.Fprintf(conn, "GET /version HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr); err != nil {
		r.judge(err)
		return r
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		r.judge(err)
		return r
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	r.Verdict, r.Status, r.Body = Accepted, resp.StatusCode, string(body)
	r.Evidence = "answered GET /version: " + resp.Status
	return r
}

// judge records what a failed write or read after the handshake says.
func (r *Result) judge(err error) {
	switch {
	case isRefusal(err):
		r.Verdict, r.Evidence, r.Err = Refused, err.Error(), err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		r.Verdict, r.Evidence = Refused, "closed the connection without an answer"
		r.Err = errors.New("the server closed the connection without an answer")
	case errors.Is(err, os.ErrDeadlineExceeded):
		r.Evidence, r.Err = "no answer to GET /version before the timeout", ErrSilent
	default:
		r.Err = err
	}
}

// isRefusal reports whether err is the server refusing: a TLS alert it
// sent, or a reset.
func isRefusal(err error) bool {
	var oe *net.OpError
	return (errors.As(err, &oe) && oe.Op == "remote error") || errors.Is(err, syscall.ECONNRESET)
}

// Handshake is Dial's verdict as an error: nil when the server accepted
// the client, else why not. For callers that only need to know.
func (r *Result) Handshake() error {
	if r.Verdict == Accepted {
		return nil
	}
	if r.Err != nil {
		return r.Err
	}
	return errors.New("no verdict")
}
