package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdpki/etcdpki/internal/testbin"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
)

// These tests start the real etcd server as a separate process (built from
// ./internal/etcdmain) with exactly what "etcdpki flags" prints, so the
// printed command line and config file are proven against etcd itself,
// not against our reading of its flags.
//
// Addresses and ports: 127.0.0.21-23, ports 23379-23381 (command line) and
// 23479-23481 (config file); other packages' tests use other ones.

// readyTimeout bounds how long a cluster may take to elect a leader.
const readyTimeout = 60 * time.Second

// etcdBinary builds ./internal/etcdmain once per test binary run, or skips
// the test under -short.
func etcdBinary(t *testing.T) string { return testbin.Etcd(t) }

// cleanupM removes the etcd binary after the tests; testscript.Main owns
// TestMain's exit.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	testbin.Cleanup()
	return code
}

// etcdpki runs the CLI in-process and returns its stdout.
func etcdpki(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("etcdpki %s: exit code %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

// etcdProcess is one running etcd server.
type etcdProcess struct {
	name string
	log  lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// startEtcd starts the etcd binary with args. The process is killed when
// the test ends, and its log shown if the test failed.
func startEtcd(t *testing.T, bin, name string, args ...string) *etcdProcess {
	t.Helper()
	p := &etcdProcess{name: name, done: make(chan struct{})}
	// t.Context is cancelled before the cleanups run, which kills etcd.
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("etcd %s (%s %s):\n%s", name, bin, strings.Join(args, " "), p.log.String())
		}
	})
	return p
}

// lockedBuffer is a bytes.Buffer that etcd's stdout and stderr can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// memberFile is a file of a member's tree in init's output.
func memberFile(out, member, nodePath string) string {
	return layout.OnDisk(layout.MemberDir(out, member), nodePath)
}

// apiserverTLS is kube-apiserver's TLS configuration for etcd: the
// apiserver-etcd-client credential and the etcd CA from member's tree.
func apiserverTLS(t *testing.T, out, member string) *tls.Config {
	t.Helper()
	l := layout.Kubeadm
	tlsInfo := transport.TLSInfo{
		CertFile:      memberFile(out, member, l.CertPath(pki.KindAPIServerClient)),
		KeyFile:       memberFile(out, member, l.KeyPath(pki.KindAPIServerClient)),
		TrustedCAFile: memberFile(out, member, l.CertPath(pki.KindCA)),
	}
	tlsConfig, err := tlsInfo.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return tlsConfig
}

// newClient is a clientv3 client of endpoints, closed when the test ends.
func newClient(t *testing.T, tlsConfig *tls.Config, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsConfig,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// waitReady waits until every endpoint answers Status, with a leader, over
// mutual TLS; it fails at once if an etcd process exits.
func waitReady(t *testing.T, cli *clientv3.Client, endpoints []string, procs ...*etcdProcess) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for _, ep := range endpoints {
		for {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			st, err := cli.Status(ctx, ep)
			cancel()
			if err == nil && st.Leader != 0 {
				break
			}
			if err == nil {
				err = errors.New("no leader yet")
			}
			for _, p := range procs {
				select {
				case <-p.done:
					t.Fatalf("etcd %s exited before the cluster was ready: %v", p.name, p.err)
				default:
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready after %s: %v", ep, readyTimeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// putGet writes through the first endpoint and reads back through each
// one on its own.
func putGet(t *testing.T, tlsConfig *tls.Config, endpoints []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	key, val := "/etcdpki/process-test", "written with apiserver-etcd-client"
	if _, err := newClient(t, tlsConfig, endpoints[0]).Put(ctx, key, val); err != nil {
		t.Fatalf("put through %s: %v", endpoints[0], err)
	}
	for _, ep := range endpoints {
		resp, err := newClient(t, tlsConfig, ep).Get(ctx, key)
		if err != nil {
			t.Fatalf("get through %s: %v", ep, err)
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != val {
			t.Fatalf("get through %s: %v, want %q", ep, resp.Kvs, val)
		}
	}
}

// refused dials addr with TLS, trusting the cluster CA and presenting cert
// (nil: none, or a foreign CA's), and returns the error that ends the
// connection. With TLS 1.3 the client's handshake completes before the
// server has checked the client's certificate, so the server's verdict
// arrives as an alert on the first read.
func refused(t *testing.T, addr, caFile string, cert *tls.Certificate) error {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s: no certificates", caFile)
	}
	host, _, _ := net.SplitHostPort(addr)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{
		RootCAs: pool, ServerName: host,
		// Certificates would be sent only if issued by one of the CAs the
		// server lists in its CertificateRequest (etcd lists its trusted
		// CA), so a foreign certificate would silently not be sent at all.
		// Present it regardless, as a misconfigured client would.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			return cert, nil
		},
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	// HTTP/1.1 is enough to make the server answer if it did accept us.
	if _, err := conn.Write([]byte("GET /version HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err == nil {
		t.Fatalf("%s accepted a client without a certificate from its CA and answered %q", addr, buf[:n])
	}
	return err
}

// foreignClientCert is a clientAuth certificate from a CA that is not the
// cluster's.
func foreignClientCert(t *testing.T) tls.Certificate {
	t.Helper()
	now := time.Now()
	keys, err := pki.GenerateKeys(pki.ECDSAP256, 2)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(keys[0], "not-the-etcd-ca", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueKeyPair(pki.Request{Kind: pki.KindAPIServerClient, CommonName: pki.APIServerClientCommonName, Validity: time.Hour}, keys[1], now)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}
}

// checkRefusals shows that the client and peer ports of a member refuse a
// client without a certificate and one with a foreign CA's certificate.
func checkRefusals(t *testing.T, out, member string, clientAddr, peerAddr string) {
	t.Helper()
	caFile := memberFile(out, member, layout.Kubeadm.CertPath(pki.KindCA))
	foreign := foreignClientCert(t)
	// The alerts a TLS 1.3 server sends (crypto/tls): no certificate is
	// "certificate required", an unverifiable one "unknown certificate
	// authority"; etcd logs the server side of each.
	for _, c := range []struct {
		what, addr string
		cert       *tls.Certificate
		want       string
	}{
		{"client port, no certificate", clientAddr, nil, "tls: certificate required"},
		{"client port, foreign CA", clientAddr, &foreign, "tls: unknown certificate authority"},
		{"peer port, no certificate", peerAddr, nil, "tls: certificate required"},
		{"peer port, foreign CA", peerAddr, &foreign, "tls: unknown certificate authority"},
	} {
		err := refused(t, c.addr, caFile, c.cert)
		t.Logf("%s: refused: %v", c.what, err)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.what, err, c.want)
		}
	}
}

// TestEtcdProcessFlags starts a three-member cluster of separate etcd
// processes, each with exactly the command line "etcdpki flags" prints for
// it, and uses it as kube-apiserver would.
func TestEtcdProcessFlags(t *testing.T) {
	bin := etcdBinary(t)
	t.Parallel()
	out, data := t.TempDir(), t.TempDir()
	members := []string{"etcd-p1=127.0.0.21", "etcd-p2=127.0.0.22", "etcd-p3=127.0.0.23"}
	args := []string{"init", "--out", out, "--algo", "ecdsa-p256", "--name", "etcdpki-process-test",
		"--client-port", "23379", "--peer-port", "23380", "--metrics-port", "23381"}
	for _, m := range members {
		args = append(args, "--member", m)
	}
	etcdpki(t, args...)

	var procs []*etcdProcess
	var endpoints []string
	for _, m := range members {
		name, ip, _ := strings.Cut(m, "=")
		cmdline := etcdpki(t, "flags", "--dir", out, "--member", name,
			"--root", layout.MemberDir(out, name), "--data-dir", filepath.Join(data, name))
		flags, err := render.ParseCommandLine(cmdline)
		if err != nil {
			t.Fatalf("etcdpki flags printed what ParseCommandLine cannot read: %v\n%s", err, cmdline)
		}
		for _, want := range []string{"--client-cert-auth=true", "--peer-client-cert-auth=true", "--listen-metrics-urls=http://" + ip + ":23381"} {
			if !slices.Contains(flags, want) {
				t.Fatalf("%s: flags lack %s:\n%s", name, want, cmdline)
			}
		}
		procs = append(procs, startEtcd(t, bin, name, flags...))
		endpoints = append(endpoints, "https://"+ip+":23379")
	}

	tlsConfig := apiserverTLS(t, out, "etcd-p1")
	cli := newClient(t, tlsConfig, endpoints...)
	waitReady(t, cli, endpoints, procs...)
	putGet(t, tlsConfig, endpoints)
	checkRefusals(t, out, "etcd-p1", "127.0.0.21:23379", "127.0.0.21:23380")

	// The cluster formed over the peer port: all three are members.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ml, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != len(members) {
		t.Errorf("member list has %d members, want %d: %v", len(ml.Members), len(members), ml.Members)
	}
}

// TestEtcdProcessConfigFile starts an etcd process from the --config-file
// that "etcdpki flags --format config" prints.
func TestEtcdProcessConfigFile(t *testing.T) {
	bin := etcdBinary(t)
	t.Parallel()
	out, data := t.TempDir(), t.TempDir()
	// ed25519, which etcd loads; --force because kubeadm does not, and
	// init refuses it for kubeadm's layout otherwise.
	etcdpki(t, "init", "--out", out, "--algo", "ed25519", "--force", "--member", "etcd-c1=127.0.0.21",
		"--client-port", "23479", "--peer-port", "23480", "--metrics-port", "23481")
	cfg := etcdpki(t, "flags", "--dir", out, "--member", "etcd-c1", "--format", "config",
		"--root", layout.MemberDir(out, "etcd-c1"), "--data-dir", filepath.Join(data, "etcd-c1"))
	cfgFile := filepath.Join(data, "etcd.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startEtcd(t, bin, "etcd-c1", "--config-file", cfgFile)

	endpoints := []string{"https://127.0.0.21:23479"}
	tlsConfig := apiserverTLS(t, out, "etcd-c1")
	waitReady(t, newClient(t, tlsConfig, endpoints...), endpoints, p)
	putGet(t, tlsConfig, endpoints)
	checkRefusals(t, out, "etcd-c1", "127.0.0.21:23479", "127.0.0.21:23480")
}
