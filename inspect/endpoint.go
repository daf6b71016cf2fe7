package inspect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/internal/tlsdial"
	"github.com/etcdpki/etcdpki/layout"
)

// Endpoint is what a TLS handshake with a live endpoint showed.
type Endpoint struct {
	Address    string `json:"address"`
	TLSVersion string `json:"tlsVersion,omitempty"`
	// ClientCert is the CN of the client certificate presented, or empty.
	ClientCert string `json:"clientCert,omitempty"`
	// HandshakeError is set when the server served its certificate but
	// then ended the handshake, typically refusing the client certificate
	// (or the lack of one).
	HandshakeError string `json:"handshakeError,omitempty"`
	// ChainOK and NameOK are set when a CA was given: whether the served
	// chain verifies for serverAuth, and whether the leaf names the host.
	ChainOK     *bool  `json:"chainOK,omitempty"`
	ChainError  string `json:"chainError,omitempty"`
	NameOK      *bool  `json:"nameOK,omitempty"`
	VerifiedFor string `json:"verifiedFor,omitempty"`
}

// IsURL reports whether arg names an endpoint rather than a file:
// https://HOST:PORT.
func IsURL(arg string) bool { return strings.HasPrefix(arg, "https://") }

// URL handshakes with https://HOST:PORT and describes the chain it serves.
// It verifies nothing by itself, so that a chain that does not verify can
// still be looked at; with opts.CACert it says whether it verifies.
func URL(ctx context.Context, rawURL string, opts Options) (*Result, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Port() == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%q: want https://HOST:PORT, e.g. https://10.0.0.11:2379", rawURL)
	}
	host := u.Hostname()
	ep := &Endpoint{Address: u.Host}
	cfg := &tls.Config{
		InsecureSkipVerify: true, // verified below, against opts.CACert only
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
	}
	if opts.Cert != "" || opts.Key != "" {
		kp, err := layout.ReadKeyPair(opts.Cert, opts.Key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}}
		ep.ClientCert = kp.Cert.Subject.CommonName
	}
	var roots *x509.CertPool
	if opts.CACert != "" {
		cas, err := layout.ReadCerts(opts.CACert)
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		for _, c := range cas {
			roots.AddCert(c)
		}
	}
	// tlsdial keeps the served chain from before the client sends its
	// certificate: a server that refuses the client cert (or its absence)
	// over TLS 1.2 ends the handshake after that, and what it served is
	// still worth seeing.
	d := tlsdial.Dial(ctx, u.Host, tlsdial.Options{Config: cfg, Timeout: opts.Timeout, HandshakeOnly: true})
	if !d.TCPOpen {
		return nil, fmt.Errorf("%s: %w", rawURL, d.Err)
	}
	if d.HandshakeErr != nil {
		if len(d.Served) == 0 {
			return nil, fmt.Errorf("%s: TLS handshake: %w", rawURL, d.HandshakeErr)
		}
		ep.HandshakeError = d.HandshakeErr.Error()
	}
	served := &tls.ConnectionState{Version: d.Version, PeerCertificates: d.Served}
	ep.TLSVersion = tls.VersionName(served.Version)
	r := &Result{SchemaVersion: SchemaVersion, Source: rawURL, Kind: KindEndpoint, Endpoint: ep}
	for _, c := range served.PeerCertificates {
		r.Certs = append(r.Certs, Describe(c, opts.Now))
	}
	if roots != nil && len(served.PeerCertificates) > 0 {
		leaf := served.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range served.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, verr := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: opts.Now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		chainOK, nameOK := verr == nil, leaf.VerifyHostname(host) == nil
		ep.ChainOK, ep.NameOK, ep.VerifiedFor = &chainOK, &nameOK, host
		if verr != nil {
			ep.ChainError = verr.Error()
		}
	}
	return r, nil
}
