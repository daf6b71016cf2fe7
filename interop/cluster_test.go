package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// run runs etcdpki with args and returns its stdout, failing t on a
// non-zero exit.
func run(t testing.TB, args ...string) string {
	t.Helper()
	out, code, stderr := runCode(t, args...)
	if code != 0 {
		t.Fatalf("etcdpki %s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
	}
	return out
}

// runCode runs etcdpki with args and returns stdout, the exit code and
// stderr.
func runCode(t testing.TB, args ...string) (stdout string, code int, stderr string) {
	t.Helper()
	cmd := exec.Command(binary(t, "etcdpki"), args...)
	// A user's etcdctl environment must not leak into the tests.
	cmd.Env = append(os.Environ(), "ETCDCTL_ENDPOINTS=", "ETCDCTL_CACERT=", "ETCDCTL_CERT=", "ETCDCTL_KEY=", "NO_COLOR=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("etcdpki %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), code, e.String()
}

// ports are one cluster's client, peer and metrics ports, the same on
// every member (each member has its own 127.0.0.x).
type ports struct{ client, peer, metrics int }

var (
	portMu   sync.Mutex
	nextPort = 30000 + 3*rand.IntN(3000)
)

// allocPorts finds three consecutive ports free on 127.0.0.1..n.
func allocPorts(t testing.TB, n int) ports {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 200 {
		base := nextPort
		nextPort += 3
		if nextPort > 39990 {
			nextPort = 30000
		}
		if portsFree(base, n) {
			return ports{base, base + 1, base + 2}
		}
	}
	t.Fatal("no free ports on 127.0.0.x")
	return ports{}
}

func portsFree(base, n int) bool {
	for i := 1; i <= n; i++ {
		for p := base; p < base+3; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort(memberIP(i), strconv.Itoa(p)))
			if err != nil {
				return false
			}
			l.Close()
		}
	}
	return true
}

// memberIP is member i's (1-based) loopback address.
func memberIP(i int) string { return "127.0.0." + strconv.Itoa(i) }

// pkiOptions say how initPKI calls etcdpki init.
type pkiOptions struct {
	members int      // default 3
	layout  string   // default kubeadm
	algo    string   // default ecdsa-p256 (fast to generate)
	extra   []string // more init flags
}

// testPKI is init's output for members cp1..cpN on 127.0.0.1..N.
type testPKI struct {
	dir   string
	names []string
	ports ports
	// addrs are the members' addresses when they are not 127.0.0.1..N,
	// and netns the network namespace startCluster runs them in (a
	// member on a host of its own, reached through a veth).
	addrs []string
	netns string
}

// initPKI runs etcdpki init for a loopback cluster on allocated ports.
func initPKI(t testing.TB, o pkiOptions) *testPKI {
	t.Helper()
	if o.members == 0 {
		o.members = 3
	}
	if o.layout == "" {
		o.layout = "kubeadm"
	}
	if o.algo == "" {
		o.algo = "ecdsa-p256"
	}
	p := &testPKI{dir: filepath.Join(t.TempDir(), "pki"), ports: allocPorts(t, o.members)}
	args := []string{"init", "--out", p.dir, "--layout", o.layout, "--algo", o.algo,
		"--client-port", strconv.Itoa(p.ports.client), "--peer-port", strconv.Itoa(p.ports.peer),
		"--metrics-port", strconv.Itoa(p.ports.metrics), "--name", "interop"}
	for i := 1; i <= o.members; i++ {
		name := "cp" + strconv.Itoa(i)
		p.names = append(p.names, name)
		args = append(args, "--member", name+"="+memberIP(i))
	}
	run(t, append(args, o.extra...)...)
	return p
}

// tree is member name's node tree in init's output.
func (p *testPKI) tree(name string) string { return filepath.Join(p.dir, name) }

// file is a node path (/etc/kubernetes/pki/…) in member name's tree.
func (p *testPKI) file(name, nodePath string) string {
	return filepath.Join(p.tree(name), filepath.FromSlash(nodePath))
}

// clientURL is member i's (1-based) client URL.
func (p *testPKI) clientURL(i int) string {
	addr := memberIP(i)
	if p.addrs != nil {
		addr = p.addrs[i-1]
	}
	return "https://" + net.JoinHostPort(addr, strconv.Itoa(p.ports.client))
}

// endpoints are every member's client URL, comma-separated.
func (p *testPKI) endpoints() string {
	var eps []string
	for i := range p.names {
		eps = append(eps, p.clientURL(i+1))
	}
	return strings.Join(eps, ",")
}

// flagsFor returns exactly the etcd command line `etcdpki flags` prints
// for member name, with paths under its tree and data in dataDir, and
// extra flags of flags (e.g. --etcd-version 3.5).
func (p *testPKI) flagsFor(t testing.TB, name, dataDir string, extra ...string) []string {
	t.Helper()
	out := run(t, append([]string{"flags", "--dir", p.dir, "--member", name, "--root", p.tree(name), "--data-dir", dataDir}, extra...)...)
	args, err := parseCommandLine(out)
	if err != nil {
		t.Fatalf("flags printed %q: %v", out, err)
	}
	if len(args) == 0 || args[0] != "etcd" {
		t.Fatalf("flags printed no etcd command line:\n%s", out)
	}
	return args[1:]
}

// parseCommandLine splits the `etcd \` + one-flag-per-line command line
// that `etcdpki flags` prints, undoing its POSIX single quotes.
func parseCommandLine(s string) ([]string, error) {
	var args []string
	for line := range strings.SplitSeq(strings.ReplaceAll(s, "\\\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "'") {
			if !strings.HasSuffix(line, "'") || len(line) < 2 {
				return nil, fmt.Errorf("unbalanced quote in %q", line)
			}
			line = strings.ReplaceAll(line[1:len(line)-1], `'\''`, `'`)
		}
		args = append(args, line)
	}
	return args, nil
}

// etcdProc is one etcd server process.
type etcdProc struct {
	name string
	args []string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error
}

// procCluster is a cluster of etcd server processes of one version,
// started from init's output with the flags etcdpki prints for it.
type procCluster struct {
	pki     *testPKI
	version string
	members []*etcdProc
}

// startCluster starts every member of p with etcd version's binary and
// the flags `etcdpki flags --etcd-version version` prints (plus flagArgs,
// e.g. --kubernetes-version), and stops them when t ends. It does not wait
// for the cluster: see waitHealthy.
func startCluster(t testing.TB, p *testPKI, version string, flagArgs ...string) *procCluster {
	t.Helper()
	bin := binary(t, "etcd-"+version)
	c := &procCluster{pki: p, version: version}
	data := t.TempDir()
	for _, name := range p.names {
		args := p.flagsFor(t, name, filepath.Join(data, name), append([]string{"--etcd-version", version}, flagArgs...)...)
		m := &etcdProc{name: name, args: args, log: &syncBuffer{}, done: make(chan struct{})}
		m.cmd = exec.Command(bin, args...)
		if p.netns != "" {
			// ip netns exec execs etcd in the namespace, so signals
			// reach etcd itself.
			m.cmd = exec.Command("ip", append([]string{"netns", "exec", p.netns, bin}, args...)...)
		}
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		if err := m.cmd.Start(); err != nil {
			t.Fatalf("start etcd %s for %s: %v", version, name, err)
		}
		go func() { m.err = m.cmd.Wait(); close(m.done) }()
		c.members = append(c.members, m)
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			m.stop()
		}
		if t.Failed() {
			for _, m := range c.members {
				t.Logf("etcd %s %s log (last 3000 bytes):\n%s", version, m.name, tail(m.log.Bytes(), 3000))
			}
		}
	})
	return c
}

func (m *etcdProc) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
}

// exited reports whether the member's process has ended, and how.
func (m *etcdProc) exited() (bool, error) {
	select {
	case <-m.done:
		return true, m.err
	default:
		return false, nil
	}
}

// clientTLS is a client TLS config from files in member name's tree.
func (p *testPKI) clientTLS(t testing.TB, name, caFile, certFile, keyFile string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(p.file(name, caFile))
	if err != nil {
		t.Fatal(err)
	}
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("%s: no certificates", caFile)
	}
	cfg := &tls.Config{RootCAs: pool}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(p.file(name, certFile), p.file(name, keyFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

// kubeadm's etcd client credentials, as node paths.
const (
	kubeadmCA          = "/etc/kubernetes/pki/etcd/ca.crt"
	kubeadmHealthCert  = "/etc/kubernetes/pki/etcd/healthcheck-client.crt"
	kubeadmHealthKey   = "/etc/kubernetes/pki/etcd/healthcheck-client.key"
	kubeadmAPIEtcdCert = "/etc/kubernetes/pki/apiserver-etcd-client.crt"
	kubeadmAPIEtcdKey  = "/etc/kubernetes/pki/apiserver-etcd-client.key"
)

// waitHealthy waits until every member answers /health with
// {"health":"true"} over mutual TLS with the healthcheck-client
// credential (etcd 3.4 has no /readyz), or fails t with the members' logs.
func (c *procCluster) waitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	cfg := c.pki.clientTLS(t, c.pki.names[0], kubeadmCA, kubeadmHealthCert, kubeadmHealthKey)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for i := range c.members {
		for {
			err := healthOK(hc, c.pki.clientURL(i+1)+"/health")
			if err == nil {
				break
			}
			if done, werr := c.members[i].exited(); done {
				t.Fatalf("etcd %s %s exited (%v) before it was healthy", c.version, c.members[i].name, werr)
			}
			if time.Now().After(deadline) {
				t.Fatalf("etcd %s %s not healthy after %s: %v", c.version, c.members[i].name, timeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func healthOK(hc *http.Client, url string) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"health":"true"`)) {
		return fmt.Errorf("%s: %s %s", url, resp.Status, body)
	}
	return nil
}

// etcdctl runs etcdctl of the cluster's version against every member with
// the credential certFile/keyFile (node paths in cp1's tree).
func (c *procCluster) etcdctl(t testing.TB, certFile, keyFile string, args ...string) (string, error) {
	t.Helper()
	bin := binary(t, "etcdctl-"+c.version)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := c.pki.names[0]
	full := append([]string{"--endpoints=" + c.pki.endpoints(), "--cacert=" + c.pki.file(name, kubeadmCA),
		"--cert=" + c.pki.file(name, certFile), "--key=" + c.pki.file(name, keyFile), "--dial-timeout=5s", "--command-timeout=10s"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	// A user's ETCDCTL_* must not leak in, and must be unset, not empty:
	// etcdctl 3.5+ refuses a flag that a set ETCDCTL_* variable shadows,
	// even an empty one ("conflicting environment variable is shadowed by
	// corresponding command-line flag", pkg/v3@v3.6.5/flags/flag.go
	// verifyEnv walks os.Environ()), and 3.6+ logs a warning for
	// ETCDCTL_API ("unrecognized environment variable"). API v3 is
	// etcdctl's default since 3.4.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCDCTL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test
// reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Bytes is a copy of what was written so far.
func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }
