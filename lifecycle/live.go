package lifecycle

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

// PortLive is what one running member's port served and accepted.
type PortLive struct {
	Member string `json:"member"`
	// Port is "client" or "peer"; URL the address dialed.
	Port string `json:"port"`
	URL  string `json:"url"`
	// Served says which CA signed the certificate the port served: "old",
	// "new", or its issuer and fingerprint.
	Served string `json:"served,omitempty"`
	// AcceptsOld and AcceptsNew say whether a client certificate of the
	// old or new CA was accepted: what the member's trust pool holds,
	// which etcd builds when it starts. AcceptsOld is false, untested,
	// once the old CA has left <out>/ca.
	AcceptsOld bool `json:"acceptsOld"`
	AcceptsNew bool `json:"acceptsNew"`
	// Error is set when the port could not be reached.
	Error string `json:"error,omitempty"`
}

// CheckLive handshakes with every member's client and peer URL (from the
// spec) and reports, per port, which CA signed the certificate it serves
// and whether a client certificate of the old and of the new CA is
// accepted. The client certificates are made for the occasion, signed by
// the CAs' keys in <out>/ca and <out>/ca-next, valid for a few minutes and
// never written anywhere. This is how to tell whether a member has been
// restarted since its ca.crt changed: the files cannot say. timeout bounds
// each handshake (zero: 2 s).
func CheckLive(ctx context.Context, out string, timeout time.Duration) ([]PortLive, error) {
	d, err := Open(out)
	if err != nil {
		return nil, err
	}
	return d.checkLive(ctx, timeout)
}

func (d *Dir) checkLive(ctx context.Context, timeout time.Duration) ([]PortLive, error) {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	st, err := d.status()
	if err != nil {
		return nil, err
	}
	cur, err := d.CA()
	if err != nil {
		return nil, err
	}
	next, err := d.NextCA()
	if err != nil {
		return nil, err
	}
	// Which client certificates to try: the old CA's while it still is
	// <out>/ca, the new CA's while it is in <out>/ca-next.
	var oldClient, newClient *tls.Certificate
	if st.old != nil {
		if oldClient, err = probeClientCert(cur); err != nil {
			return nil, err
		}
	}
	switch {
	case next != nil:
		newClient, err = probeClientCert(next)
	case st.old == nil:
		newClient, err = probeClientCert(cur)
	}
	if err != nil {
		return nil, err
	}
	var ports []PortLive
	for i := range d.Spec.Members {
		m := &d.Spec.Members[i]
		ports = append(ports,
			PortLive{Member: m.Name, Port: "client", URL: d.Spec.ClientURL(m)},
			PortLive{Member: m.Name, Port: "peer", URL: d.Spec.PeerURL(m)})
	}
	var wg sync.WaitGroup
	for i := range ports {
		wg.Add(1)
		go func(p *PortLive) {
			defer wg.Done()
			for _, try := range []struct {
				client *tls.Certificate
				ok     *bool
			}{{oldClient, &p.AcceptsOld}, {newClient, &p.AcceptsNew}} {
				if try.client == nil {
					continue
				}
				served, accepted, err := handshake(ctx, p.URL, try.client, timeout)
				if err != nil {
					p.Error = err.Error()
					return
				}
				*try.ok = accepted
				if served != nil {
					p.Served = st.label(served)
				}
			}
		}(&ports[i])
	}
	wg.Wait()
	return ports, nil
}

// label names the CA that signed a served certificate.
func (s *RotationStatus) label(c *x509.Certificate) string {
	switch {
	case s.old != nil && pki.SignedBy(c, s.old) == nil:
		return "old"
	case s.new != nil && pki.SignedBy(c, s.new) == nil:
		return "new"
	}
	return fmt.Sprintf("issuer %q", c.Issuer.CommonName)
}

// probeClientCert makes a short-lived healthcheck-client certificate of
// ca, held in memory only.
func probeClientCert(ca *pki.CA) (*tls.Certificate, error) {
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue(pki.Request{Kind: pki.KindHealthcheckClient, Validity: 10 * time.Minute}, key.Public(), time.Now())
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// handshake dials rawURL with client and reports the certificate served
// and whether the client certificate was accepted. With TLS 1.3 (which
// etcd and Go speak) the client's handshake completes before the server
// has judged the client certificate; a refusal arrives as an alert after
// it. So handshake then asks for /version, which etcd serves over HTTP/1.1
// on both ports: any answer means the certificate was accepted, an alert
// (or the connection closed unanswered) that it was refused. Waiting for
// an answer, rather than for a moment of silence, does not depend on how
// fast a loaded server judges the certificate.
func handshake(ctx context.Context, rawURL string, client *tls.Certificate, timeout time.Duration) (*x509.Certificate, bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{
		// The served chain is judged against each CA afterwards: the
		// handshake must complete whichever CA signed it.
		InsecureSkipVerify: true,
		Certificates:       []tls.Certificate{*client},
		MinVersion:         tls.VersionTLS12,
	}}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		if refused(err) {
			// TLS 1.2: the refusal comes within the handshake.
			return nil, false, nil
		}
		return nil, false, err
	}
	defer conn.Close()
	tc := conn.(*tls.Conn)
	served := tc.ConnectionState().PeerCertificates[0]
	if deadline, ok := ctx.Deadline(); ok {
		tc.SetDeadline(deadline)
	}
	if _, err := fmt.Fprintf(tc, "GET /version HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", u.Host); err != nil {
		if refused(err) {
			return served, false, nil
		}
		return served, false, err
	}
	_, err = tc.Read(make([]byte, 1))
	switch {
	case err == nil:
		return served, true, nil
	case refused(err):
		return served, false, nil
	}
	return served, false, fmt.Errorf("no answer after the TLS handshake: %w", err)
}

// refused reports whether err is the server refusing the connection after
// the TCP connect: a TLS alert, or the connection closed or reset.
func refused(err error) bool {
	var oe *net.OpError
	return (errors.As(err, &oe) && oe.Op == "remote error") || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// refuseLive is the live gate of Reissue and Finalize: every port must
// accept a client certificate of the new CA (the member was restarted
// after Stage) and, for Finalize, serve a certificate of the new CA.
func refuseLive(op string, ports []PortLive, mustServeNew bool) error {
	var bad bytes.Buffer
	for _, p := range ports {
		var why string
		switch {
		case p.Error != "":
			why = "unreachable: " + p.Error
		case !p.AcceptsNew:
			why = "does not accept a client certificate of the new CA (restart the member: etcd reads its trusted CA file only at start)"
		case mustServeNew && p.Served != "new":
			why = "serves a certificate of the " + p.Served + " CA"
		default:
			continue
		}
		fmt.Fprintf(&bad, "; %s %s port (%s) %s", p.Member, p.Port, p.URL, why)
	}
	if bad.Len() == 0 {
		return nil
	}
	return &RefusedError{Op: op, Detail: "the running cluster is not ready" + bad.String(),
		Hint: "etcdpki rotate-ca status --live shows what each member's ports accept and serve"}
}
