package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Base ports of this package's tests (client=base, peer=base+1,
// metrics=base+2), far from 2379 and from other packages' tests, which may
// run in parallel with these. Every package's test ports stay below 32768,
// where Linux's ephemeral range (ip_local_port_range) begins: an outgoing
// connection's local port there can take a port a test wants to listen on.
// local 22xxx, cmd/etcdpki 23xxx-24xxx, probe 25xxx, demo 26xxx.
const (
	portCluster   = 22379
	portInUse     = 22479
	portSplit     = 22579
	portStart     = 22679
	portNotReady  = 22779
	portBenchmark = 22879
)

// initLoopback writes the PKI of an n-member loopback cluster to a temp
// dir with layout.Init, as `etcdpki init` does, and returns the spec and
// the dir.
func initLoopback(t testing.TB, n, base int, alg pki.Algorithm, split bool) (*spec.Cluster, string) {
	t.Helper()
	c, err := spec.Loopback(n, base, base+1, base+2)
	if err != nil {
		t.Fatal(err)
	}
	c.Algorithm = alg
	c.SplitCredentials = split
	out := t.TempDir()
	if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	return c, out
}

func startFromDir(t *testing.T, c *spec.Cluster, out string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := StartFromDir(ctx, out, c, Options{ReadyTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Close(); err != nil {
			t.Error(err)
		}
	})
	return cl
}

// TestClusterFromInitFiles boots a real 3-member cluster from the files
// init writes, writes and reads through every member with the
// apiserver-etcd-client certificate, and shows that both ports refuse a
// client without a certificate.
func TestClusterFromInitFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a 3-member etcd cluster")
	}
	c, out := initLoopback(t, 3, portCluster, pki.ECDSAP256, false)
	cl := startFromDir(t, c, out)

	if got, want := strings.Join(cl.Endpoints(), ","), "https://127.0.0.1:22379,https://127.0.0.2:22379,https://127.0.0.3:22379"; got != want {
		t.Errorf("Endpoints() = %s, want %s", got, want)
	}
	// The member really runs from init's files.
	if got, want := cl.Config("etcd-2").CertFile, layout.OnDisk(layout.MemberDir(out, "etcd-2"), "/etc/kubernetes/pki/etcd/server.crt"); got != want {
		t.Errorf("etcd-2 cert file = %s, want %s", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p := tlsProblems(cl.Problems()); len(p) > 0 {
		t.Errorf("etcd logged TLS problems in a healthy cluster:\n%s", strings.Join(p, "\n"))
	}

	// Every member serves the keys written through every other one.
	tlsCfg, err := cl.ClientTLS("etcd-3", pki.KindAPIServerClient)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range cl.Endpoints() {
		cli, err := NewClient([]string{ep}, tlsCfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cli.Get(ctx, VerifyPrefix, clientv3.WithPrefix())
		cli.Close()
		if err != nil {
			t.Fatalf("get through %s: %v", ep, err)
		}
		if len(resp.Kvs) != 3 {
			t.Errorf("get through %s: %d keys, want 3", ep, len(resp.Kvs))
		}
	}

	t.Run("etcdctl environment works", func(t *testing.T) {
		// up prints ETCDCTL_* with etcd-1's healthcheck-client
		// certificate (render.EtcdctlEnv); it must reach every member.
		hc, err := cl.ClientTLS("etcd-1", pki.KindHealthcheckClient)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := NewClient(cl.Endpoints(), hc)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		for _, ep := range cl.Endpoints() {
			if _, err := cli.Status(ctx, ep); err != nil {
				t.Errorf("status of %s with the healthcheck-client certificate: %v", ep, err)
			}
		}
	})

	t.Run("client without certificate is refused", func(t *testing.T) {
		noCert := tlsCfg.Clone()
		noCert.Certificates = nil
		for _, m := range cl.Members() {
			cfg := cl.Config(m)
			for _, ep := range []string{cfg.AdvertiseClientURLs[0], cfg.InitialAdvertisePeerURLs[0]} {
				err := firstRead(t, ep, noCert)
				// Go's TLS 1.3 client reads the alert etcd sends when a
				// client presents no certificate.
				if err == nil || !strings.Contains(err.Error(), "certificate required") {
					t.Errorf("%s without a client certificate: got %v, want remote error: tls: certificate required", ep, err)
				}
			}
		}
		// clientv3 retries the handshake and reports only the deadline.
		cli, err := NewClient(cl.Endpoints()[:1], noCert)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		sctx, scancel := context.WithTimeout(ctx, time.Second)
		defer scancel()
		if _, err := cli.Get(sctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("clientv3 without a certificate: got %v, want context deadline exceeded", err)
		}
		// And etcd logged why.
		if n := cl.Logs().FilterMessage("rejected connection on client endpoint").FilterFieldKey("error").Len(); n == 0 {
			t.Error("etcd logged no rejected connection on the client endpoint")
		}
		for _, e := range cl.Logs().FilterMessage("rejected connection on client endpoint").All() {
			t.Logf("etcd (%s): %s %v", e.LoggerName, e.Message, e.ContextMap()["error"])
			break
		}
	})

	t.Run("verified client accepted by raw handshake", func(t *testing.T) {
		if err := CheckHandshake(ctx, cl.Endpoints()[1], tlsCfg); err != nil {
			t.Errorf("handshake with the apiserver-etcd-client cert: %v", err)
		}
	})
}

// firstRead dials a member's TLS endpoint and reads once: with TLS 1.3 a
// rejected client certificate shows at the first read, not in Dial.
func firstRead(t *testing.T, endpoint string, cfg *tls.Config) error {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", u.Host, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	return err
}

// TestSplitCredentials boots a cluster whose serving certificates are
// serverAuth only and whose members authenticate with separate
// clientAuth-only credentials (--client-cert-file, --peer-client-cert-file,
// etcd 3.5+).
func TestSplitCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a 3-member etcd cluster")
	}
	c, out := initLoopback(t, 3, portSplit, pki.ECDSAP256, true)
	cl := startFromDir(t, c, out)
	rc := cl.Config("etcd-1")
	if rc.ClientCertFile == "" || rc.PeerClientCertFile == "" {
		t.Fatalf("split credentials not configured: %+v", rc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p := tlsProblems(cl.Problems()); len(p) > 0 {
		t.Errorf("etcd logged TLS problems:\n%s", strings.Join(p, "\n"))
	}
	// The serving certificates really are serverAuth only: the members
	// authenticated to each other with peer-client.crt.
	for _, f := range []string{rc.CertFile, rc.PeerCertFile} {
		cert, err := layout.ReadCert(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
			t.Errorf("%s: extended key usage %v, want serverAuth only", f, cert.ExtKeyUsage)
		}
	}
}

// TestPortInUse occupies one member's client port and expects a quick,
// clear error naming the address and the member.
func TestPortInUse(t *testing.T) {
	c, out := initLoopback(t, 3, portInUse, pki.ECDSAP256, false)
	l, err := net.Listen("tcp", "127.0.0.2:22479")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	_, err = StartFromDir(context.Background(), out, c, Options{ReadyTimeout: 10 * time.Second})
	var be *BindError
	if !errors.As(err, &be) || !be.InUse() {
		t.Fatalf("got %v, want a *BindError for an address in use", err)
	}
	if want := "127.0.0.2:22479 is already in use (client port of member etcd-2)"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s to report a port in use", d)
	}
}

// TestStart runs the whole of up in one call: a single-member cluster in a
// temp dir that Close removes.
func TestStart(t *testing.T) {
	if testing.Short() {
		t.Skip("boots etcd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := Start(ctx, Options{Members: 1, Algorithm: pki.ECDSAP256, ClientPort: portStart, PeerPort: portStart + 1, MetricsPort: portStart + 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := cl.Dir()
	if !cl.Temporary() || cl.InitResult() == nil || !cl.InitResult().CACreated {
		t.Errorf("Temporary() = %v, InitResult() = %+v", cl.Temporary(), cl.InitResult())
	}
	if err := cl.Verify(ctx); err != nil {
		t.Error(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := layout.ReadFile(layout.SpecFile(dir)); err == nil {
		t.Errorf("%s still exists after Close", dir)
	}
}

// TestNotReady gives etcd-3 a foreign CA: it rejects the other members'
// certificates and they never hear from it, so etcd-1 and etcd-2 form a
// quorum and etcd-3 never becomes ready. StartFromDir must give up after
// the timeout, name etcd-3, stop everything and free the ports.
func TestNotReady(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a readiness timeout")
	}
	c, out := initLoopback(t, 3, portNotReady, pki.ECDSAP256, false)
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := pki.NewCA(key, "foreign-ca", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caFile := layout.OnDisk(layout.MemberDir(out, "etcd-3"), layout.Kubeadm.CertPath(pki.KindCA))
	if err := layout.WriteFile(caFile, pki.EncodeCert(foreign.Cert), layout.CertPerm); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	timeout := 3 * time.Second
	_, err = StartFromDir(context.Background(), out, c, Options{ReadyTimeout: timeout})
	took := time.Since(start)
	var be *BootError
	if !errors.As(err, &be) {
		t.Fatalf("got %v, want a *BootError", err)
	}
	if got := strings.Join(be.NotReady, ","); got != "etcd-3" {
		t.Errorf("NotReady = %q, want etcd-3 (error: %v)", got, err)
	}
	if want := "member etcd-3 did not become ready within 3s"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if took > timeout+5*time.Second {
		t.Errorf("took %s to give up after a %s timeout", took, timeout)
	}
	// etcd logged the rejections that kept etcd-3 out.
	problems := strings.Join(be.Problems(), "\n")
	t.Logf("problems:\n%s", problems)
	if !strings.Contains(problems, "etcd-3: rejected connection on peer endpoint: tls: failed to verify certificate: x509: certificate signed by unknown authority") {
		t.Error("etcd-3's rejection of the other members' certificates is not among the problems")
	}
	// Nothing is left listening.
	if err := preflight(mustConfigs(t, c, out)); err != nil {
		t.Errorf("after the failed boot: %v", err)
	}
}

func mustConfigs(t testing.TB, c *spec.Cluster, out string) []*render.Config {
	t.Helper()
	configs, err := memberConfigs(out, c)
	if err != nil {
		t.Fatal(err)
	}
	return configs
}

// tlsProblems keeps the problems about TLS. A healthy new cluster has
// others: etcd warns "Failed to detect schema version: missing term
// information" while a member applies its first entries.
func tlsProblems(problems []string) []string {
	var out []string
	for _, p := range problems {
		if strings.Contains(p, "tls:") || strings.Contains(p, "x509:") {
			out = append(out, p)
		}
	}
	return out
}
