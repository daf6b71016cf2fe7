package interop

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestKubeAPIServer runs a real kube-apiserver v1.34.4 as etcd's client,
// with the --etcd-* flags `etcdpki flags --format apiserver` prints:
//
//   - good: against a 3-member etcd 3.6 cluster of init's PKI (kubeadm
//     layout, members on 127.0.0.1-3) it becomes ready, stores a ConfigMap
//     and reads it back, and etcdctl finds the object under --etcd-prefix;
//     check, given a kube-apiserver manifest with those flags, finds
//     nothing;
//   - foreign-client-cert: the same cluster, with --etcd-certfile and
//     --etcd-keyfile of another init's PKI (another CA): check predicts
//     APISERVER-ETCD, kube-apiserver never becomes ready and logs the
//     handshake failure, and etcd logs the rejected connection;
//   - server-cert-without-loopback (root: a network namespace): a
//     1-member cluster on 198.19.N.1 whose server.crt lacks 127.0.0.1,
//     kube-apiserver on the member's own host dialing
//     https://127.0.0.1:2379 as kubeadm's stacked control plane does:
//     check predicts R4-SERVER-LOOPBACK, kube-apiserver fails with
//     "x509: certificate is valid for …, not 127.0.0.1".
//
// The three run in parallel; a failing kube-apiserver is killed as soon
// as its log shows the TLS error (it would retry etcd for its client's
// 20 s dial timeout, then exit).
func TestKubeAPIServer(t *testing.T) {
	bin := binary(t, "kube-apiserver")
	binary(t, "etcd-3.6")
	binary(t, "etcdctl-3.6")
	kc := newKubeCreds(t)

	// The stacked cluster the good case and the foreign client
	// certificate share: the latter only adds refused connections.
	p := initPKI(t, pkiOptions{})
	c := startCluster(t, p, "3.6")

	t.Run("good", func(t *testing.T) {
		t.Parallel()
		testAPIServerGood(t, bin, kc, p, c)
	})
	t.Run("foreign-client-cert", func(t *testing.T) {
		t.Parallel()
		testAPIServerForeignClient(t, bin, kc, p, c)
	})
	t.Run("server-cert-without-loopback", func(t *testing.T) {
		t.Parallel()
		testAPIServerNoLoopback(t, bin, kc)
	})
}

// testAPIServerGood proves that the flags etcdpki prints are enough for
// kube-apiserver to use the cluster: /readyz answers 200 (its etcd
// readiness check included), a ConfigMap round-trips through the API,
// and the object is in etcd under the test's --etcd-prefix.
func testAPIServerGood(t *testing.T, bin string, kc *kubeCreds, p *testPKI, c *procCluster) {
	nodeFlags := apiserverFlags(t, p, "cp1", "")
	rooted := apiserverFlags(t, p, "cp1", p.tree("cp1"))
	// --root maps the node's paths into the tree and nothing else, so the
	// manifest check reads below is what this kube-apiserver runs.
	if want := flagsUnderRoot(nodeFlags, p.tree("cp1")); !slices.Equal(rooted, want) {
		t.Fatalf("flags --format apiserver --root differs from the node's flags under the root:\n got %q\nwant %q", rooted, want)
	}
	if !slices.Contains(rooted, "--etcd-servers="+p.endpoints()) {
		t.Fatalf("flags --format apiserver: --etcd-servers is not every member's client URL (%s): %q", p.endpoints(), rooted)
	}

	checkDir := copyPKI(t, p)
	writeAPIServerManifest(t, filepath.Join(checkDir, "cp1"), nodeFlags)
	rep, code := checkJSON(t, checkDir)
	if code != 0 || len(rep.Findings) != 0 {
		t.Fatalf("check with kube-apiserver's manifest: exit %d, findings %+v; want exit 0 and none", code, rep.Findings)
	}

	c.waitHealthy(t, 60*time.Second)
	prefix := etcdPrefix("good")
	a := startKubeAPIServer(t, bin, kc, apiserverOptions{etcdFlags: rooted, prefix: prefix})
	a.waitReady(t, kc, 3*time.Minute)
	hc := kc.httpClient(t)
	defer hc.CloseIdleConnections()
	// Its own etcd checks passed (k8s.io/apiserver@v0.34.4
	// pkg/server/options/etcd.go addEtcdHealthEndpoint).
	if v := readyzVerbose(hc, a.url); !strings.Contains(v, "[+]etcd ok") || !strings.Contains(v, "[+]etcd-readiness ok") {
		t.Fatalf("/readyz?verbose: want [+]etcd ok and [+]etcd-readiness ok:\n%s", v)
	}
	token := randomHex(8)
	name := "etcdpki-interop"
	created := a.createConfigMap(t, hc, name, token, 60*time.Second)
	got := a.getConfigMap(t, hc, name)
	if got.Data["proof"] != token || got.Metadata.UID != created.Metadata.UID {
		t.Fatalf("GET configmap %s: data %v uid %s; created with proof %s uid %s", name, got.Data, got.Metadata.UID, token, created.Metadata.UID)
	}

	// kube-apiserver stores a resource at <prefix>/<resource>/<namespace>/<name>
	// (k8s.io/apiserver@v0.34.4 pkg/registry/generic/registry/store.go
	// NamespaceKeyFunc, under storagebackend.Config.Prefix), as protobuf
	// whose string fields are the raw bytes: the token is in the value.
	key := prefix + "/configmaps/default/" + name
	out, err := c.etcdctl(t, kubeadmHealthCert, kubeadmHealthKey, "get", "--prefix", key)
	if err != nil {
		t.Fatalf("etcdctl get --prefix %s: %v\n%s", key, err, out)
	}
	if !strings.Contains(out, key) || !strings.Contains(out, token) {
		t.Fatalf("etcdctl get --prefix %s: want the key and the ConfigMap's token %s, got:\n%q", key, token, out)
	}
	t.Logf("ConfigMap %s (uid %s) is in etcd at %s", name, created.Metadata.UID, key)
}

// testAPIServerForeignClient gives kube-apiserver an etcd client
// certificate of another CA, as a node whose apiserver-etcd-client.crt
// came from another cluster has it. check must report APISERVER-ETCD,
// and the real processes must fail the way the rule says.
func testAPIServerForeignClient(t *testing.T, bin string, kc *kubeCreds, p *testPKI, c *procCluster) {
	other := filepath.Join(t.TempDir(), "other-pki")
	run(t, "init", "--out", other, "--algo", "ecdsa-p256", "--member", "cp1=127.0.0.1", "--name", "other")

	// A copy of the cluster's trees, cp1's with the other PKI's
	// credential at its own path and a kube-apiserver manifest naming it:
	// check reads the manifest, kube-apiserver runs its flags.
	checkDir := copyPKI(t, p)
	tree := filepath.Join(checkDir, "cp1")
	const foreignCert, foreignKey = "/etc/kubernetes/pki/other-ca/apiserver-etcd-client.crt", "/etc/kubernetes/pki/other-ca/apiserver-etcd-client.key"
	copyFile(t, filepath.Join(other, "cp1", filepath.FromSlash(kubeadmAPIEtcdCert)), filepath.Join(tree, filepath.FromSlash(foreignCert)))
	copyFile(t, filepath.Join(other, "cp1", filepath.FromSlash(kubeadmAPIEtcdKey)), filepath.Join(tree, filepath.FromSlash(foreignKey)))
	nodeFlags := replaceFlags(apiserverFlags(t, p, "cp1", ""), map[string]string{"--etcd-certfile": foreignCert, "--etcd-keyfile": foreignKey})
	writeAPIServerManifest(t, tree, nodeFlags)

	rep, code := checkJSON(t, checkDir)
	f := rep.find("APISERVER-ETCD", "cp1")
	if code != 1 || f == nil || !strings.HasSuffix(filepath.ToSlash(f.File), foreignCert) {
		t.Fatalf("check with a foreign --etcd-certfile: exit %d, findings %+v; want exit 1 and APISERVER-ETCD on cp1's %s", code, rep.Findings, foreignCert)
	}
	t.Logf("check predicted: %s %s: %s", f.Rule, f.File, f.Detail)

	c.waitHealthy(t, 60*time.Second)
	a := startKubeAPIServer(t, bin, kc, apiserverOptions{etcdFlags: flagsUnderRoot(nodeFlags, tree), prefix: etcdPrefix("foreign")})
	// etcd verifies the client certificate after the TLS 1.3 client has
	// finished its handshake, so grpc sees etcd's alert on its first
	// read: "error reading server preface: remote error: tls: unknown
	// certificate authority" (Go's crypto/tls sends alertUnknownCA for an
	// x509.UnknownAuthorityError, crypto/tls/handshake_server.go
	// processCertsFromClient; grpc's "transport: authentication handshake
	// failed" is only for errors inside the handshake,
	// google.golang.org/grpc@v1.72.1 internal/transport/http2_client.go
	// newHTTP2Client and reader). kube-apiserver logs grpc's warnings at
	// every verbosity (k8s.io/apiserver@v0.34.4 pkg/storage/etcd3/logger.go
	// klogWrapper). It retries until its etcd client's 20 s dial timeout
	// and then exits with `"command failed" err="context deadline
	// exceeded"` (k8s.io/apiserver@v0.34.4
	// pkg/storage/storagebackend/factory/etcd3.go dialTimeout,
	// k8s.io/component-base@v0.34.4 cli/run.go); the alert comes within a
	// second, and the test stops there.
	line := a.waitLog(t, regexp.MustCompile(`remote error: tls: unknown certificate authority`), 90*time.Second)
	a.requireNotReady(t, kc)
	a.kill()
	t.Logf("kube-apiserver: %s", line)
	explainLine(t, line, "APISERVER-ETCD")

	// etcd's side: embed's TLSInfo.HandshakeFailure logs each refused
	// client (go.etcd.io/etcd/server/v3@v3.6.5 embed/config_logging.go,
	// "rejected connection on client endpoint").
	etcdLine := c.waitMemberLog(t, regexp.MustCompile(`rejected connection on client endpoint.*unknown authority`), 20*time.Second)
	t.Logf("etcd: %s", etcdLine)
	explainLine(t, etcdLine, "APISERVER-ETCD", "R1-CLIENT-CA")
}

// testAPIServerNoLoopback is kubeadm's stacked control plane on a host of
// its own: etcd on the node's address and its own 127.0.0.1, and
// kube-apiserver on that node dialing https://127.0.0.1:2379, which its
// server.crt does not name.
func testAPIServerNoLoopback(t *testing.T, bin string, kc *kubeCreds) {
	ns := newNetns(t)
	p := &testPKI{dir: filepath.Join(t.TempDir(), "pki"), names: []string{"cp1"}, ports: ports{2379, 2380, 2381},
		addrs: []string{ns.addr}, netns: ns.name}
	run(t, "init", "--out", p.dir, "--algo", "ecdsa-p256", "--member", "cp1="+ns.addr, "--name", "interop-netns")
	srv := p.file("cp1", "/etc/kubernetes/pki/etcd/server.crt")
	reissueWithoutIP(t, srv, p.file("cp1", "/etc/kubernetes/pki/etcd/ca.crt"), p.file("cp1", "/etc/kubernetes/pki/etcd/ca.key"), "127.0.0.1")

	nodeFlags := apiserverFlags(t, p, "cp1", "")
	// A member with an address of its own: kube-apiserver on its node
	// dials the local member (kubeadm's stacked etcd,
	// k8s.io/kubernetes@v1.34.4 cmd/kubeadm/app/phases/controlplane/manifests.go
	// getAPIServerCommand: --etcd-servers=https://127.0.0.1:2379).
	if !slices.Contains(nodeFlags, "--etcd-servers=https://127.0.0.1:2379") {
		t.Fatalf("flags --format apiserver for a member on %s: want --etcd-servers=https://127.0.0.1:2379, got %q", ns.addr, nodeFlags)
	}
	writeAPIServerManifest(t, p.tree("cp1"), nodeFlags)
	rep, code := checkJSON(t, p.dir)
	f := rep.find("R4-SERVER-LOOPBACK", "cp1")
	if code != 1 || f == nil || !strings.HasSuffix(filepath.ToSlash(f.File), "/etc/kubernetes/pki/etcd/server.crt") {
		t.Fatalf("check on a server.crt without 127.0.0.1: exit %d, findings %+v; want exit 1 and R4-SERVER-LOOPBACK on cp1's server.crt", code, rep.Findings)
	}
	t.Logf("check predicted: %s %s: %s", f.Rule, f.File, f.Detail)

	c := startCluster(t, p, "3.6")
	// Through the veth, at the address server.crt names: the member runs.
	c.waitHealthy(t, 60*time.Second)
	a := startKubeAPIServer(t, bin, kc, apiserverOptions{etcdFlags: apiserverFlags(t, p, "cp1", p.tree("cp1")),
		prefix: etcdPrefix("noloopback"), netns: ns.name, port: 6443})
	// grpc dials 127.0.0.1:2379 with ServerName 127.0.0.1 and Go's
	// verifier rejects the chain (crypto/x509 HostnameError: "x509:
	// certificate is valid for …, not 127.0.0.1"); grpc logs it as
	// "transport: authentication handshake failed: tls: failed to verify
	// certificate: …" (google.golang.org/grpc@v1.72.1
	// internal/transport/http2_client.go newHTTP2Client).
	line := a.waitLog(t, regexp.MustCompile(`certificate is valid for [^"\\]*, not 127\.0\.0\.1`), 90*time.Second)
	a.kill()
	t.Logf("kube-apiserver: %s", line)
	explainLine(t, line, "R4-SERVER-LOOPBACK")

	// The client aborts the handshake with alertBadCertificate, which
	// etcd logs as "remote error: tls: bad certificate" from 127.0.0.1.
	etcdLine := c.waitMemberLog(t, regexp.MustCompile(`rejected connection on client endpoint.*"remote-addr":"127\.0\.0\.1:.*bad certificate`), 20*time.Second)
	t.Logf("etcd: %s", etcdLine)
	explainLine(t, etcdLine, "R4-SERVER-LOOPBACK")
}

// kubeCreds are what kube-apiserver needs besides etcd, made once per
// test with ECDSA P-256 keys (fast; no RSA per test): a CA for its
// serving certificate and for client certificates (--client-ca-file),
// the serving certificate for 127.0.0.1, a client certificate in
// system:masters for the test's requests, and the service account key.
type kubeCreds struct {
	caFile               string
	certFile, keyFile    string // serving
	clientCertFile       string
	clientKeyFile        string
	saKeyFile, saPubFile string
	pool                 *x509.CertPool
}

// newKubeCreds writes kubeCreds into a t.TempDir().
func newKubeCreds(t *testing.T) *kubeCreds {
	t.Helper()
	dir := t.TempDir()
	k := &kubeCreds{}
	caKey := newECKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: randomSerial(t), Subject: pkix.Name{CommonName: "etcdpki-interop-kube-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	k.caFile = writePEM(t, dir, "ca.crt", "CERTIFICATE", caDER)
	k.pool = x509.NewCertPool()
	k.pool.AddCert(ca)
	issue := func(name string, tmpl *x509.Certificate) (certFile, keyFile string) {
		key := newECKey(t)
		tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = randomSerial(t), now.Add(-time.Hour), now.Add(24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".crt", "CERTIFICATE", der), writeECKey(t, dir, name+".key", key)
	}
	k.certFile, k.keyFile = issue("serving", &x509.Certificate{
		Subject: pkix.Name{CommonName: "kube-apiserver"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	// x509 client certificate authentication maps the CN to the user and
	// O to groups (k8s.io/apiserver@v0.34.4 pkg/authentication/request/x509
	// CommonNameUserConversion).
	k.clientCertFile, k.clientKeyFile = issue("admin", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "etcdpki-interop", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	sa := newECKey(t)
	k.saKeyFile = writeECKey(t, dir, "sa.key", sa)
	pub, err := x509.MarshalPKIXPublicKey(sa.Public())
	if err != nil {
		t.Fatal(err)
	}
	k.saPubFile = writePEM(t, dir, "sa.pub", "PUBLIC KEY", pub)
	return k
}

// flags are kube-apiserver's flags for these credentials.
func (k *kubeCreds) flags() []string {
	return []string{
		"--tls-cert-file=" + k.certFile, "--tls-private-key-file=" + k.keyFile,
		"--client-ca-file=" + k.caFile,
		// Required (k8s.io/kubernetes@v1.34.4
		// pkg/controlplane/apiserver/options/validation.go: "--service-account-signing-key-file
		// and --service-account-issuer are required flags"); an ECDSA
		// key signs ES256 (pkg/serviceaccount/jwt.go).
		"--service-account-key-file=" + k.saPubFile,
		"--service-account-signing-key-file=" + k.saKeyFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
	}
}

// httpClient is a client with the system:masters certificate that trusts
// kube-apiserver's serving CA.
func (k *kubeCreds) httpClient(t testing.TB) *http.Client {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(k.clientCertFile, k.clientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: k.pool, Certificates: []tls.Certificate{pair}},
	}}
}

// apiserverOptions say how startKubeAPIServer runs kube-apiserver.
type apiserverOptions struct {
	etcdFlags []string // the --etcd-* flags
	prefix    string   // --etcd-prefix
	netns     string   // run it in this network namespace (ip netns exec)
	port      int      // --secure-port; default: allocated on 127.0.0.1
	extraArgs []string // more flags, after the others
}

// kubeAPIServer is one kube-apiserver process.
type kubeAPIServer struct {
	url  string // https://127.0.0.1:PORT (inside netns, if one)
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error
}

// startKubeAPIServer starts kube-apiserver with o's etcd flags and the
// minimum it needs to serve (kc's credentials, loopback only), and kills
// it when t ends, logging its output if t failed.
func startKubeAPIServer(t *testing.T, bin string, kc *kubeCreds, o apiserverOptions) *kubeAPIServer {
	t.Helper()
	if o.port == 0 {
		o.port = allocPorts(t, 1).client
	}
	args := append(slices.Clone(o.etcdFlags), "--etcd-prefix="+o.prefix)
	args = append(args, kc.flags()...)
	args = append(args,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(o.port),
		// Without it kube-apiserver takes the address of the interface
		// with the default route (k8s.io/apiserver@v0.34.4
		// pkg/server/options/server_run_options.go DefaultAdvertiseAddress,
		// k8s.io/apimachinery@v0.34.4 pkg/util/net/interface.go
		// ResolveBindAddress), which a namespace without one lacks.
		"--advertise-address=127.0.0.1",
		// No Endpoints for the kubernetes Service: their validation
		// refuses a loopback address (k8s.io/kubernetes@v1.34.4
		// pkg/apis/core/validation/validation.go ValidateEndpointIP),
		// and nothing here needs them.
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.96.0.0/12",
		"--authorization-mode=AlwaysAllow",
		"--profiling=false",
	)
	args = append(args, o.extraArgs...)
	a := &kubeAPIServer{url: "https://127.0.0.1:" + strconv.Itoa(o.port), log: &syncBuffer{}, done: make(chan struct{})}
	if o.netns != "" {
		// ip netns exec execs the program in the namespace: the process
		// is kube-apiserver itself, and signals reach it.
		a.cmd = exec.Command("ip", append([]string{"netns", "exec", o.netns, bin}, args...)...)
	} else {
		a.cmd = exec.Command(bin, args...)
	}
	a.cmd.Dir = t.TempDir()
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	go func() { a.err = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("kube-apiserver %s log (last 6000 bytes):\n%s", strings.Join(args, " "), tail(a.log.Bytes(), 6000))
		}
	})
	return a
}

// stop ends kube-apiserver: SIGTERM, then SIGKILL after 10 s (its
// graceful shutdown waits for requests in flight).
func (a *kubeAPIServer) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.kill()
	}
}

// kill ends kube-apiserver at once and waits for it.
func (a *kubeAPIServer) kill() {
	a.cmd.Process.Kill()
	<-a.done
}

// waitReady waits until /readyz answers 200, or fails t with
// /readyz?verbose and the log.
func (a *kubeAPIServer) waitReady(t *testing.T, kc *kubeCreds, timeout time.Duration) {
	t.Helper()
	hc := kc.httpClient(t)
	defer hc.CloseIdleConnections()
	start := time.Now()
	for {
		resp, err := hc.Get(a.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("kube-apiserver ready after %s", time.Since(start).Round(100*time.Millisecond))
				return
			}
		}
		select {
		case <-a.done:
			t.Fatalf("kube-apiserver exited (%v) before it was ready:\n%s", a.err, tail(a.log.Bytes(), 4000))
		default:
		}
		if time.Since(start) > timeout {
			t.Fatalf("kube-apiserver not ready after %s: %s", timeout, readyzVerbose(hc, a.url))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// requireNotReady fails t if kube-apiserver answers /readyz with 200.
// Until its etcd client connects it does not serve at all: it opens the
// secure port's listener while it reads its options (k8s.io/apiserver@v0.34.4
// pkg/server/options/serving.go ApplyTo), so connections are accepted,
// but builds its storage, whose etcd client dials with grpc.WithBlock
// (pkg/storage/storagebackend/factory/etcd3.go newETCD3Client), before
// it serves; a request times out.
func (a *kubeAPIServer) requireNotReady(t *testing.T, kc *kubeCreds) {
	t.Helper()
	hc := kc.httpClient(t)
	hc.Timeout = 2 * time.Second
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(a.url + "/readyz")
	if err != nil {
		t.Logf("kube-apiserver /readyz: %v (not serving)", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("kube-apiserver is ready with a client certificate etcd refuses")
	}
	t.Logf("kube-apiserver /readyz: %s", readyzVerbose(hc, a.url))
}

// readyzVerbose is kube-apiserver's /readyz?verbose, or the error
// getting it.
func readyzVerbose(hc *http.Client, url string) string {
	resp, err := hc.Get(url + "/readyz?verbose")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
	return resp.Status + "\n" + string(b)
}

// waitLog waits until kube-apiserver's log matches re, and returns the
// log line with the first match; it fails t when kube-apiserver exits or
// timeout passes first.
func (a *kubeAPIServer) waitLog(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if line, ok := matchLine(a.log.Bytes(), re); ok {
			return line
		}
		select {
		case <-a.done:
			t.Fatalf("kube-apiserver exited (%v) before logging %q:\n%s", a.err, re, tail(a.log.Bytes(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver logged nothing matching %q in %s:\n%s", re, timeout, tail(a.log.Bytes(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMemberLog waits until some member's log matches re and returns that
// line.
func (c *procCluster) waitMemberLog(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, m := range c.members {
			if line, ok := matchLine(m.log.Bytes(), re); ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no etcd member logged anything matching %q in %s", re, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// matchLine returns the line of b holding re's first match.
func matchLine(b []byte, re *regexp.Regexp) (string, bool) {
	loc := re.FindIndex(b)
	if loc == nil {
		return "", false
	}
	start := bytes.LastIndexByte(b[:loc[0]], '\n') + 1
	end := bytes.IndexByte(b[loc[0]:], '\n')
	if end < 0 {
		end = len(b)
	} else {
		end += loc[0]
	}
	return string(bytes.TrimSpace(b[start:end])), true
}

// configMap is the part of a v1 ConfigMap the test reads back.
type configMap struct {
	Metadata struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
}

// createConfigMap POSTs ConfigMap name in namespace default with
// data.proof=token. It retries while the namespace does not exist yet:
// kube-apiserver creates "default" in a controller of its own after it
// starts (k8s.io/kubernetes@v1.34.4 pkg/controlplane/controller/systemnamespaces),
// and the NamespaceLifecycle admission plugin refuses objects in a
// namespace it has not seen.
func (a *kubeAPIServer) createConfigMap(t *testing.T, hc *http.Client, name, token string, timeout time.Duration) *configMap {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]string{"name": name},
		"data":     map[string]string{"proof": token},
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Post(a.url+"/api/v1/namespaces/default/configmaps", "application/json", bytes.NewReader(body))
		var out []byte
		if err == nil {
			out, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				var cm configMap
				if err := json.Unmarshal(out, &cm); err != nil {
					t.Fatalf("POST configmap: %v: %s", err, out)
				}
				return &cm
			}
			err = fmt.Errorf("%s: %s", resp.Status, out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST configmap %s for %s: %v", name, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// getConfigMap GETs ConfigMap name in namespace default.
func (a *kubeAPIServer) getConfigMap(t *testing.T, hc *http.Client, name string) *configMap {
	t.Helper()
	resp, err := hc.Get(a.url + "/api/v1/namespaces/default/configmaps/" + name)
	if err != nil {
		t.Fatalf("GET configmap %s: %v", name, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET configmap %s: %s: %s", name, resp.Status, out)
	}
	var cm configMap
	if err := json.Unmarshal(out, &cm); err != nil {
		t.Fatalf("GET configmap %s: %v: %s", name, err, out)
	}
	return &cm
}

// apiserverFlags returns `etcdpki flags --format apiserver` for member
// name, one flag per element; paths under root when root is not "".
func apiserverFlags(t testing.TB, p *testPKI, name, root string) []string {
	t.Helper()
	args := []string{"flags", "--dir", p.dir, "--member", name, "--format", "apiserver"}
	if root != "" {
		args = append(args, "--root", root)
	}
	out := run(t, args...)
	flags := strings.Fields(out)
	for _, want := range []string{"--etcd-cafile=", "--etcd-certfile=", "--etcd-keyfile=", "--etcd-servers="} {
		if !slices.ContainsFunc(flags, func(f string) bool { return strings.HasPrefix(f, want) }) {
			t.Fatalf("flags --format apiserver printed no %s…:\n%s", want, out)
		}
	}
	return flags
}

// apiserverFileFlags are kube-apiserver's flags whose values are files.
var apiserverFileFlags = []string{"--etcd-cafile", "--etcd-certfile", "--etcd-keyfile"}

// flagsUnderRoot maps the file flags' node paths under root, as
// `flags --root` prints them.
func flagsUnderRoot(flags []string, root string) []string {
	out := slices.Clone(flags)
	for i, f := range out {
		k, v, ok := strings.Cut(f, "=")
		if ok && slices.Contains(apiserverFileFlags, k) {
			out[i] = k + "=" + filepath.Join(root, filepath.FromSlash(v))
		}
	}
	return out
}

// replaceFlags sets the values of the flags in set.
func replaceFlags(flags []string, set map[string]string) []string {
	out := slices.Clone(flags)
	for i, f := range out {
		k, _, _ := strings.Cut(f, "=")
		if v, ok := set[k]; ok {
			out[i] = k + "=" + v
		}
	}
	return out
}

// writeAPIServerManifest writes kube-apiserver's static pod into tree, as
// kubeadm does (/etc/kubernetes/manifests/kube-apiserver.yaml, its PKI
// directory mounted at the same path:
// k8s.io/kubernetes@v1.34.4 cmd/kubeadm/app/phases/controlplane/volumes.go),
// with etcdFlags as node paths.
func writeAPIServerManifest(t testing.TB, tree string, etcdFlags []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\n" +
		"spec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.34.4\n    command:\n    - kube-apiserver\n")
	for _, f := range etcdFlags {
		fmt.Fprintf(&b, "    - %s\n", f)
	}
	b.WriteString("    volumeMounts:\n    - mountPath: /etc/kubernetes/pki\n      name: k8s-certs\n      readOnly: true\n" +
		"  hostNetwork: true\n  volumes:\n  - hostPath:\n      path: /etc/kubernetes/pki\n      type: DirectoryOrCreate\n    name: k8s-certs\n")
	dir := filepath.Join(tree, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kube-apiserver.yaml"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkJSON runs etcdpki check -o json on dirs and returns its report and
// exit code.
func checkJSON(t testing.TB, dirs ...string) (*auditReport, int) {
	t.Helper()
	r := auditJSON(t, append([]string{"check", "-o", "json"}, dirs...)...)
	return r, r.code
}

// explainLine runs etcdpki explain on an error line kube-apiserver or
// etcd logged under a fault: its primary cause must be one of rules (the
// fault's rule, or the rule that the line alone can tell: etcd's line of
// a refused client certificate cannot say the client is kube-apiserver).
func explainLine(t testing.TB, line string, rules ...string) {
	t.Helper()
	out, code, stderr := runCode(t, "explain", "-o", "json", line)
	var doc struct {
		Causes []struct {
			Rule     string   `json:"rule"`
			Evidence []string `json:"evidence"`
		} `json:"causes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Errorf("etcdpki explain -o json %q: exit %d, %v\n%s%s", line, code, err, out, stderr)
		return
	}
	var ranked []string
	for _, c := range doc.Causes {
		ranked = append(ranked, c.Rule)
	}
	if len(ranked) == 0 || !slices.Contains(rules, ranked[0]) {
		t.Errorf("etcdpki explain %q ranks %v, want one of %v first", line, ranked, rules)
		return
	}
	t.Logf("etcdpki explain ranks %s first (%s), then %v", ranked[0], strings.Join(doc.Causes[0].Evidence, "; "), ranked[1:])
}

// copyPKI copies init's output p.dir (spec and every tree, modes kept)
// into a new directory, for a check of changed trees that leaves p's alone.
func copyPKI(t testing.TB, p *testPKI) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "pki")
	copyTree(t, p.dir, dst)
	return dst
}

// copyFile copies a file, keeping its mode, making dst's directory 0700.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	info, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// reissueWithoutIP re-signs certFile with the CA in caCert/caKey for the
// same key, subject, validity, usages and names, less the IP SAN drop (as
// a node whose server.crt was made by hand without the loopback address
// has it).
func reissueWithoutIP(t testing.TB, certFile, caCert, caKey, drop string) {
	t.Helper()
	leaf := readCert(t, certFile)
	ca := readCert(t, caCert)
	keyPEM, err := os.ReadFile(caKey)
	if err != nil {
		t.Fatal(err)
	}
	signer := parseSigner(t, caKey, keyPEM)
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(t), Subject: leaf.Subject,
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
		KeyUsage: leaf.KeyUsage, ExtKeyUsage: leaf.ExtKeyUsage, BasicConstraintsValid: true,
		DNSNames: leaf.DNSNames, SubjectKeyId: leaf.SubjectKeyId,
	}
	for _, ip := range leaf.IPAddresses {
		if ip.String() != drop {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	if len(tmpl.IPAddresses) == len(leaf.IPAddresses) {
		t.Fatalf("%s names no IP %s: %v", certFile, drop, leaf.IPAddresses)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, leaf.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(certFile)
	if err != nil {
		t.Fatal(err)
	}
	tmp := certFile + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), info.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, certFile); err != nil {
		t.Fatal(err)
	}
}

func readCert(t testing.TB, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("%s: no certificate", file)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

// parseSigner reads a PKCS#8, SEC 1 (EC) or PKCS#1 (RSA) private key.
func parseSigner(t testing.TB, file string, data []byte) crypto.Signer {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s
		}
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k
	}
	t.Fatalf("%s: not a private key this test reads (%s)", file, b.Type)
	return nil
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func randomSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// writePEM writes one PEM block to dir/name (0600) and returns its path.
func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeECKey writes k as an "EC PRIVATE KEY" (SEC 1) to dir/name.
func writeECKey(t testing.TB, dir, name string, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "EC PRIVATE KEY", der)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// etcdPrefix is a --etcd-prefix of its own for one kube-apiserver.
func etcdPrefix(name string) string { return "/etcdpki-interop-" + name + "-" + randomHex(4) }

// netnsHost is a network namespace the test made: a host of its own with
// lo up (its own 127.0.0.1) and addr on its eth0, a veth to the root
// namespace's end rootAddr in a /24 of 198.19.0.0/16 (inside RFC 2544's
// 198.18.0.0/15, never routed, as etcdpki's hosts mode uses). It has no
// default route: nothing sent in it leaves the veth.
type netnsHost struct {
	name, veth     string
	addr, rootAddr string
}

var netnsSeq atomic.Int32

// newNetns makes a netnsHost and removes it when t ends. It needs root and
// iproute2: without them the test skips, saying why (in CI, where tests
// run as root, it fails).
func newNetns(t *testing.T) *netnsHost {
	t.Helper()
	skip := t.Skipf
	if inCI {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("needs root: kube-apiserver on the member's own host runs in a network namespace (ip netns add); run as root (CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip("needs iproute2's ip for a network namespace: %v", err)
	}
	n := int(netnsSeq.Add(1))
	id := strconv.Itoa(os.Getpid()%100000) + "-" + strconv.Itoa(n)
	// Names of their own: etcdpki's hosts mode removes leftover epki-*
	// namespaces, which a parallel go test ./hosts could take for ours.
	h := &netnsHost{name: "epkit-api-" + id, veth: "epkit" + strconv.Itoa(os.Getpid()%100000) + "x" + strconv.Itoa(n)}
	subnet, err := freeSubnet(n)
	if err != nil {
		t.Fatal(err)
	}
	h.addr, h.rootAddr = subnet+".1", subnet+".254"
	t.Cleanup(func() {
		// Deleting the root end removes the pair; deleting the namespace
		// removes its eth0 too, so either order leaves nothing.
		ipCmd(t, "link", "del", h.veth)
		ipCmd(t, "netns", "del", h.name)
	})
	if err := ipCmd(t, "netns", "add", h.name); err != nil {
		// Root without CAP_SYS_ADMIN (a container) cannot make one.
		skip("cannot make a network namespace: %v", err)
	}
	for _, args := range [][]string{
		{"link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.name},
		// No IPv6 link-local addresses: no router solicitations or DAD.
		{"link", "set", h.veth, "addrgenmode", "none"},
		{"addr", "add", h.rootAddr + "/24", "dev", h.veth},
		{"link", "set", h.veth, "up"},
		// A new namespace's lo is down; etcd and kube-apiserver use it.
		{"-n", h.name, "link", "set", "lo", "up"},
		{"-n", h.name, "link", "set", "eth0", "addrgenmode", "none"},
		{"-n", h.name, "addr", "add", h.addr + "/24", "dev", "eth0"},
		{"-n", h.name, "link", "set", "eth0", "up"},
	} {
		if err := ipCmd(t, args...); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// freeSubnet picks a /24 of 198.19.0.0/16 (as "198.19.N") that no address
// or route of the root namespace overlaps (any IPv4 address or prefix ip
// prints counts).
func freeSubnet(seq int) (string, error) {
	var all []byte
	for _, args := range [][]string{{"-4", "-o", "addr", "show"}, {"-4", "route", "show", "table", "all"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		all = append(all, out...)
	}
	var used []netip.Prefix
	for _, m := range ipv4Re.FindAllString(string(all), -1) {
		if p, err := netip.ParsePrefix(m); err == nil {
			used = append(used, p)
		} else if a, err := netip.ParseAddr(m); err == nil {
			used = append(used, netip.PrefixFrom(a, 32))
		}
	}
	start := (os.Getpid() + seq*37) % 250
	for i := range 250 {
		n := (start+i)%250 + 1
		cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(n), 0}), 24)
		if !slices.ContainsFunc(used, func(p netip.Prefix) bool { return p.Bits() > 0 && p.Overlaps(cand) }) {
			return "198.19." + strconv.Itoa(n), nil
		}
	}
	return "", errors.New("no free /24 in 198.19.0.0/16 for a test network namespace")
}

var ipv4Re = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(/\d{1,2})?\b`)

// ipCmd runs ip with args, bounded by 30 s.
func ipCmd(t testing.TB, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
