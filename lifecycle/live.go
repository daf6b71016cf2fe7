package lifecycle

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/etcdpki/etcdpki/internal/tlsdial"
	"github.com/etcdpki/etcdpki/pki"
)

// PortLive is what one running member's port served and accepted.
type PortLive struct {
	Member string `json:"member"`
	// Port is "client" or "peer"; URL the address dialed.
	Port string `json:"port"`
	URL  string `json:"url"`
	// Served says which CA signed the certificate the port served: "old",
	// "new", or its issuer and fingerprint (see AcceptsOld for which CAs
	// these are).
	Served string `json:"served,omitempty"`
	// AcceptsOld and AcceptsNew say whether a client certificate of the
	// old or new CA was accepted: what the member's trust pool holds,
	// which etcd builds when it starts. During a rotation the old CA is
	// <out>/ca and the new one <out>/ca-next; once the new CA is <out>/ca,
	// the old one is the CA the rotation retired (<out>/ca-retired, see
	// [RetiredCADir]) while it is kept, and with none kept AcceptsOld is
	// false, untested.
	AcceptsOld bool `json:"acceptsOld"`
	AcceptsNew bool `json:"acceptsNew"`
	// Error is set when the port could not be reached.
	Error string `json:"error,omitempty"`
}

// CheckLive handshakes with every member's client and peer URL (from the
// spec) and reports, per port, which CA signed the certificate it serves
// and whether a client certificate of the old and of the new CA is
// accepted (see [PortLive]). The client certificates are made for the
// occasion, signed by the CAs' keys in <out>/ca, <out>/ca-next and
// <out>/ca-retired, valid for a few minutes and never written anywhere.
// This is how to tell whether a member has been restarted since its
// ca.crt changed: the files cannot say. timeout bounds each handshake
// (zero: 2 s). [StatusLive] judges the result member by member.
func CheckLive(ctx context.Context, out string, timeout time.Duration) ([]PortLive, error) {
	d, err := Open(out)
	if err != nil {
		return nil, err
	}
	st, err := d.status()
	if err != nil {
		return nil, err
	}
	return d.checkLive(ctx, st, timeout)
}

// liveCAs are the two CAs a live check tells apart (see [PortLive]); old
// is nil when there is none to tell apart from.
func (d *Dir) liveCAs(st *RotationStatus) (old, new *pki.CA, err error) {
	if st.InProgress && !st.Promoted {
		if old, err = d.CA(); err != nil {
			return nil, nil, err
		}
		new, err = d.NextCA()
		return old, new, err
	}
	if new, err = d.CA(); err != nil {
		return nil, nil, err
	}
	old, err = d.retiredCA()
	return old, new, err
}

func (d *Dir) checkLive(ctx context.Context, st *RotationStatus, timeout time.Duration) ([]PortLive, error) {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	oldCA, newCA, err := d.liveCAs(st)
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
	if err := dialPorts(ctx, ports, oldCA, newCA, timeout); err != nil {
		return nil, err
	}
	return ports, nil
}

// dialPorts handshakes with every port that has a URL, with a client
// certificate of oldCA (when not nil) and of newCA made for the occasion,
// and records in each what it served and accepted (see [PortLive]).
func dialPorts(ctx context.Context, ports []PortLive, oldCA, newCA *pki.CA, timeout time.Duration) error {
	var oldClient, newClient *tls.Certificate
	var err error
	if oldCA != nil {
		if oldClient, err = probeClientCert(oldCA); err != nil {
			return err
		}
	}
	if newClient, err = probeClientCert(newCA); err != nil {
		return err
	}
	label := func(c *x509.Certificate) string {
		switch {
		case oldCA != nil && pki.SignedBy(c, oldCA.Cert) == nil:
			return "old"
		case pki.SignedBy(c, newCA.Cert) == nil:
			return "new"
		}
		return fmt.Sprintf("issuer %q", c.Issuer.CommonName)
	}
	var wg sync.WaitGroup
	for i := range ports {
		if ports[i].URL == "" {
			continue
		}
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
					p.Error = reachError(err, timeout)
					return
				}
				*try.ok = accepted
				if served != nil {
					p.Served = label(served)
				}
			}
		}(&ports[i])
	}
	wg.Wait()
	return nil
}

// reachError says briefly why a port could not be reached: "connection
// refused" rather than the whole "dial tcp 10.0.0.13:2379: connect:
// connection refused", whose address the report names already.
func reachError(err error, timeout time.Duration) string {
	var oe *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.As(err, &oe):
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err.Error()
		}
		return oe.Err.Error()
	}
	return err.Error()
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
// and whether the client certificate was accepted, by the evidence of
// tlsdial.Dial (the one dial-and-judge helper): an answer to GET
// /version after the handshake is acceptance, an alert or a close is a
// refusal, and silence is an error, not a verdict.
func handshake(ctx context.Context, rawURL string, client *tls.Certificate, timeout time.Duration) (*x509.Certificate, bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, false, err
	}
	r := tlsdial.Dial(ctx, u.Host, tlsdial.Options{Timeout: timeout, Config: &tls.Config{
		// The served chain is judged against each CA afterwards: the
		// handshake must complete whichever CA signed it.
		InsecureSkipVerify: true,
		Certificates:       []tls.Certificate{*client},
		MinVersion:         tls.VersionTLS12,
	}})
	var served *x509.Certificate
	if len(r.Served) > 0 {
		served = r.Served[0]
	}
	switch r.Verdict {
	case tlsdial.Accepted:
		return served, true, nil
	case tlsdial.Refused:
		return served, false, nil
	}
	if r.TCPOpen && r.Err != nil && errors.Is(r.Err, tlsdial.ErrSilent) {
		return served, false, fmt.Errorf("no answer after the TLS handshake: %w", os.ErrDeadlineExceeded)
	}
	return served, false, r.Err
}
