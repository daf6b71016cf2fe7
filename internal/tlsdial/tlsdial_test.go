package tlsdial_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/internal/tlsdial"
	"github.com/etcdpki/etcdpki/pki"
)

type creds struct {
	ca             *pki.CA
	server, client tls.Certificate
}

func newCreds(t *testing.T) creds {
	now := time.Now()
	ca := testca.NewCA(t, pki.ECDSAP256, now)
	pair := func(req pki.Request) tls.Certificate {
		key := testca.NewKey(t, pki.ECDSAP256)
		c := testca.Issue(t, ca, req, key, now)
		return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key, Leaf: c}
	}
	return creds{ca: ca, server: pair(pki.Request{Kind: pki.KindServer, CommonName: "s", IPs: []net.IP{net.ParseIP("127.0.0.1")}}),
		client: pair(pki.Request{Kind: pki.KindHealthcheckClient, CommonName: "c"})}
}

// serve runs a TLS 1.3 server that requires a client certificate of
// c.ca and answers GET /version as etcd does (or stays silent).
func serve(t *testing.T, c creds, silent bool) string {
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.Cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{c.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if silent {
			time.Sleep(5 * time.Second)
		}
		io.WriteString(w, `{"etcdserver":"3.7.3","etcdcluster":"3.7.0"}`)
	})
	go (&http.Server{Handler: h}).Serve(ln)
	return ln.Addr().String()
}

// TestDial: a client the server takes is accepted by its answer; one
// without a certificate is refused by the alert after the handshake (TLS
// 1.3), with the served chain kept; a silent server decides nothing; a
// closed port is no TCP.
func TestDial(t *testing.T) {
	c := newCreds(t)
	addr := serve(t, c, false)
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.Cert)
	ctx := context.Background()

	r := tlsdial.Dial(ctx, addr, tlsdial.Options{Config: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{c.client}}})
	if r.Verdict != tlsdial.Accepted || r.Status != 200 || !strings.Contains(r.Body, "etcdserver") || r.Handshake() != nil || r.Version != tls.VersionTLS13 {
		t.Errorf("with a client certificate: %+v", r)
	}

	r = tlsdial.Dial(ctx, addr, tlsdial.Options{Config: &tls.Config{RootCAs: pool}})
	if r.Verdict != tlsdial.Refused || !strings.Contains(r.Evidence, "certificate required") || len(r.Served) != 1 || r.Handshake() == nil {
		t.Errorf("without a client certificate: %+v", r)
	}

	r = tlsdial.Dial(ctx, addr, tlsdial.Options{Config: &tls.Config{ServerName: "10.0.0.11", RootCAs: pool, Certificates: []tls.Certificate{c.client}}})
	if r.Verdict != tlsdial.Unknown || r.HandshakeErr == nil || !strings.Contains(r.HandshakeErr.Error(), "not 10.0.0.11") || len(r.Served) != 1 {
		t.Errorf("a name the certificate lacks: %+v", r)
	}

	silent := serve(t, c, true)
	r = tlsdial.Dial(ctx, silent, tlsdial.Options{Timeout: 300 * time.Millisecond, Config: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{c.client}}})
	if r.Verdict != tlsdial.Unknown || !errors.Is(r.Err, tlsdial.ErrSilent) {
		t.Errorf("a silent server: %+v, want no verdict and ErrSilent", r)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	if r = tlsdial.Dial(ctx, closed, tlsdial.Options{}); r.TCPOpen || r.Verdict != tlsdial.Unknown || r.Err == nil {
		t.Errorf("a closed port: %+v", r)
	}

	r = tlsdial.Dial(ctx, addr, tlsdial.Options{HandshakeOnly: true, Config: &tls.Config{InsecureSkipVerify: true}})
	if r.HandshakeErr != nil || len(r.Served) != 1 || r.Verdict != tlsdial.Unknown {
		t.Errorf("handshake only: %+v", r)
	}
}
