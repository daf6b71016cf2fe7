package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/pki"
)

// Endpoints that are not healthy etcd members, for the bad-endpoint tests
// and the black-hole benchmark. They listen on 127.0.0.x; a fixed port,
// where one is needed, lies in 25600-25999 (this package's range, below
// Linux's ephemeral ports).

// testPKI writes a clean PKI (layout.Init, through testca) and returns it
// with probe options that use cp1's CA and healthcheck-client credential,
// as a node's etcdctl would.
func testPKI(t testing.TB) (*testca.Cluster, Options) {
	t.Helper()
	c := testca.New(t, testca.Options{Members: 1})
	return c, Options{
		CACert:     c.CertPath("cp1", pki.KindCA),
		Cert:       c.CertPath("cp1", pki.KindHealthcheckClient),
		Key:        c.KeyPath("cp1", pki.KindHealthcheckClient),
		NoDiscover: true,
	}
}

// pool is a cert pool of certs.
func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// servingCert issues a server certificate from ca naming names (IPs or
// DNS names), with the tweaks applied.
func servingCert(t testing.TB, ca *pki.CA, names []string, now time.Time, tweaks ...testca.Tweak) tls.Certificate {
	t.Helper()
	key := testca.NewKey(t, pki.ECDSAP256)
	tweaks = append([]testca.Tweak{testca.SANs(names...)}, tweaks...)
	cert := testca.Issue(t, ca, pki.Request{Kind: pki.KindServer, CommonName: "fake-etcd"}, key, now, tweaks...)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// fake describes a TLS endpoint that speaks just enough etcd for the
// probe, or deliberately does not.
type fake struct {
	// Addr is where to listen; default 127.0.0.1:0.
	Addr string
	// Cert is the served certificate.
	Cert tls.Certificate
	// ClientCAs verify client certificates (etcd's --trusted-ca-file).
	ClientCAs *x509.CertPool
	// AnyClient serves every client, with or without a certificate (etcd
	// without --client-cert-auth and --trusted-ca-file).
	AnyClient bool
	// MinVersion and MaxVersion bound the TLS versions served; zero
	// means TLS 1.2 and up, etcd's default.
	MinVersion, MaxVersion uint16
	// NotEtcd answers 404 to everything, as a web server on the wrong
	// port would.
	NotEtcd bool
	// Silent completes TLS handshakes and never answers a request, as a
	// TLS proxy whose backend hangs.
	Silent bool
	// Members, when set, is the MemberList answer; by default one member,
	// fake-1, whose client URL is the fake's own.
	Members []*pb.Member
}

// start serves f until the test ends and returns its https:// URL. An
// etcd-ish fake answers GET /version as etcd does and serves the gRPC calls
// the probe makes (KV.Range, Cluster.MemberList) on the same port over
// HTTP/2, as etcd multiplexes its client port.
func (f fake) start(t testing.TB) string {
	t.Helper()
	addr := f.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	u := "https://" + ln.Addr().String()
	gs := grpc.NewServer()
	pb.RegisterKVServer(gs, fakeKV{})
	pb.RegisterClusterServer(gs, fakeCluster{url: u, members: f.Members})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case f.Silent:
			<-r.Context().Done()
		case f.NotEtcd:
			http.NotFound(w, r)
		case r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc"):
			gs.ServeHTTP(w, r)
		case r.URL.Path == "/version":
			w.Write([]byte(`{"etcdserver":"3.7.3","etcdcluster":"3.7.0"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = quietLog
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{f.Cert}, MinVersion: f.MinVersion, MaxVersion: f.MaxVersion}
	if f.MinVersion == 0 {
		srv.TLS.MinVersion = tls.VersionTLS12
	}
	if !f.AnyClient {
		srv.TLS.ClientCAs = f.ClientCAs
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(func() {
		gs.Stop()
		srv.Close()
	})
	return u
}

type fakeKV struct{ pb.UnimplementedKVServer }

func (fakeKV) Range(context.Context, *pb.RangeRequest) (*pb.RangeResponse, error) {
	return &pb.RangeResponse{Header: &pb.ResponseHeader{}}, nil
}

type fakeCluster struct {
	pb.UnimplementedClusterServer
	url     string
	members []*pb.Member
}

func (c fakeCluster) MemberList(context.Context, *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	ms := c.members
	if ms == nil {
		ms = []*pb.Member{{ID: 1, Name: "fake-1", ClientURLs: []string{c.url}}}
	}
	return &pb.MemberListResponse{Header: &pb.ResponseHeader{}, Members: ms}, nil
}

// blackHole accepts TCP connections and never speaks: a hung process, or
// a proxy whose backend is gone. It returns the https:// URL.
func blackHole(t testing.TB, addr string) string {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "https://" + ln.Addr().String()
}

// plainHTTP serves HTTP without TLS, as a member started without
// --cert-file does, and returns its host:port.
func plainHTTP(t testing.TB) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"etcdserver":"3.7.3","etcdcluster":"3.7.0"}`))
	}))
	srv.Config.ErrorLog = quietLog
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// quietLog drops the fakes' server logs ("TLS handshake error …"), which
// the probe provokes on purpose.
var quietLog = log.New(io.Discard, "", 0)
