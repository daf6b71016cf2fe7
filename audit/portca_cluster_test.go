package audit_test

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// Ports of this package's cluster tests (client=base, peer=base+1, each
// member on its own 127.0.0.x). Every package has its own range below
// 32768, where Linux's ephemeral ports begin (local 22xxx, cmd/etcdpki
// 23xxx-24xxx, probe 25xxx, demo 26xxx, lifecycle 28xxx): audit has 27xxx.
const (
	portCAClean     = 27379
	portCAOwnPeer   = 27479
	portCAOwnClient = 27579
)

// portCAIP is the address of the i-th member (from 0) of a port-CA
// cluster. Linux routes all of 127.0.0.0/8 to lo.
func portCAIP(i int) string { return fmt.Sprintf("127.0.0.%d", 71+i) }

// Node paths of the k3s layout, which member detects as k3s: the etcd PKI
// in DataDir/tls/etcd (k3s pkg/daemons/control/deps/deps.go
// CreateRuntimeCertFiles) and etcd's config file DataDir/db/etcd/config
// (pkg/daemons/executor ToConfigFile).
const (
	k3sTLSDir     = "/var/lib/rancher/k3s/server/tls/etcd/"
	k3sEtcdConfig = "/var/lib/rancher/k3s/server/db/etcd/config"
	k3sEtcdData   = "/var/lib/rancher/k3s/server/db/etcd"

	k3sServerCA = k3sTLSDir + "server-ca.crt"          // --trusted-ca-file: the client port's CA
	k3sPeerCA   = k3sTLSDir + "peer-ca.crt"            // --peer-trusted-ca-file
	k3sServer   = k3sTLSDir + "server-client.crt"      // --cert-file
	k3sPeer     = k3sTLSDir + "peer-server-client.crt" // --peer-cert-file
	k3sClient   = k3sTLSDir + "client.crt"             // kube-apiserver's etcd client
)

// k3sTrust is one *-transport-security section of etcd's config file, as
// k3s writes it (executor.go ServerTrust, PeerTrust).
type k3sTrust struct {
	CertFile       string `json:"cert-file"`
	KeyFile        string `json:"key-file"`
	ClientCertAuth bool   `json:"client-cert-auth"`
	TrustedCAFile  string `json:"trusted-ca-file"`
}

// k3sConfig is the etcd --config-file k3s writes, with the keys a test
// cluster needs. One value is written twice: with node paths into the
// member's tree, for Check, and with the paths on this machine, for etcd,
// which reads it with embed.ConfigFromFile: etcd parses the file Check
// parsed, but for the paths.
type k3sConfig struct {
	Name                     string   `json:"name"`
	DataDir                  string   `json:"data-dir"`
	ListenClientURLs         string   `json:"listen-client-urls"`
	AdvertiseClientURLs      string   `json:"advertise-client-urls"`
	ListenPeerURLs           string   `json:"listen-peer-urls"`
	InitialAdvertisePeerURLs string   `json:"initial-advertise-peer-urls"`
	InitialCluster           string   `json:"initial-cluster"`
	InitialClusterState      string   `json:"initial-cluster-state"`
	InitialClusterToken      string   `json:"initial-cluster-token"`
	ClientTrust              k3sTrust `json:"client-transport-security"`
	PeerTrust                k3sTrust `json:"peer-transport-security"`
	// As local's members: etcd's defaults (100 ms, 1 s) halved; k3s
	// writes 500/5000 for real networks.
	HeartbeatInterval int    `json:"heartbeat-interval"`
	ElectionTimeout   int    `json:"election-timeout"`
	Logger            string `json:"logger"`
	// ConfigFromFile builds a stderr logger at this level before the
	// test's own logger replaces it; "error" keeps its start-up warnings
	// ("Running http and grpc server on single port") off stderr.
	LogLevel string `json:"log-level"`
}

// portCANode is one k3s server of a test cluster: its tree (a copy of the
// node's "/"), the config file etcd runs from, and the CAs it holds.
type portCANode struct {
	name, ip string
	base     int
	root     string
	// etcdConfig is the config file etcd runs from (paths on this
	// machine), outside the tree.
	etcdConfig       string
	clientCA, peerCA *pki.CA
}

func (n *portCANode) clientURL() string {
	return "https://" + net.JoinHostPort(n.ip, fmt.Sprint(n.base))
}

func (n *portCANode) peerURL() string {
	return "https://" + net.JoinHostPort(n.ip, fmt.Sprint(n.base+1))
}

// disk maps a node path into the node's tree.
func (n *portCANode) disk(nodePath string) string { return layout.OnDisk(n.root, nodePath) }

func (n *portCANode) write(t *testing.T, nodePath string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := layout.WriteFile(n.disk(nodePath), data, perm); err != nil {
		t.Fatal(err)
	}
}

// writeCA writes a CA certificate and its key, as every k3s server holds
// them (the bootstrap data carries the etcd CA keys to every server).
func (n *portCANode) writeCA(t *testing.T, certPath string, ca *pki.CA) {
	t.Helper()
	n.writePair(t, certPath, []*x509.Certificate{ca.Cert}, ca.Key)
}

// writeLeaf issues req from ca for a fresh P-256 key and writes the leaf
// followed by its CA (k3s's util.EncodeCertsPEM(cert, caCerts)) and the key.
func (n *portCANode) writeLeaf(t *testing.T, certPath string, ca *pki.CA, req pki.Request, now time.Time) {
	t.Helper()
	key := testca.NewKey(t, pki.ECDSAP256)
	cert := testca.Issue(t, ca, req, key, now)
	n.writePair(t, certPath, []*x509.Certificate{cert, ca.Cert}, key)
}

func (n *portCANode) writePair(t *testing.T, certPath string, certs []*x509.Certificate, key crypto.Signer) {
	t.Helper()
	n.write(t, certPath, pki.EncodeCerts(certs...), layout.CertPerm)
	data, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	n.write(t, member.KeyPathFor(certPath), data, layout.KeyPerm)
}

// portCACluster writes the trees of a 3-member k3s cluster with a client
// CA and a peer CA shared by all members, except that member 3 gets a
// peer CA (ownPeerCA) or client CA (ownClientCA) of its own, with the
// leaves of that port issued from it. Each member's config file lists all
// three members with initial-cluster-state new (k3s joins members one at
// a time, "existing"; a bootstrap together is what a test can boot at
// once, and the trust that decides the outcome is the same).
func portCACluster(t *testing.T, base int, ownPeerCA, ownClientCA bool) []*portCANode {
	t.Helper()
	now := time.Now()
	newCA := func(cn string) *pki.CA {
		ca, err := pki.NewCA(testca.NewKey(t, pki.ECDSAP256), cn, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	// k3s genETCDCerts: "etcd-server-ca" signs the serving cert of port
	// 2379 and the client certs; "etcd-peer-ca" signs the peer certs.
	clientCA, peerCA := newCA("etcd-server-ca"), newCA("etcd-peer-ca")
	dir := t.TempDir()
	var nodes []*portCANode
	var cluster []string
	for i := range 3 {
		n := &portCANode{
			name: fmt.Sprintf("node%d", i+1), ip: portCAIP(i), base: base,
			root:     filepath.Join(dir, fmt.Sprintf("node%d", i+1)),
			clientCA: clientCA, peerCA: peerCA,
		}
		n.etcdConfig = filepath.Join(dir, "etcd", n.name+".yaml")
		if i == 2 && ownPeerCA {
			n.peerCA = newCA("node3-etcd-peer-ca")
		}
		if i == 2 && ownClientCA {
			n.clientCA = newCA("node3-etcd-server-ca")
		}
		nodes = append(nodes, n)
		cluster = append(cluster, n.name+"="+n.peerURL())
	}
	for _, n := range nodes {
		// k3s's SAN list without kine.sock and the service IP: 127.0.0.1
		// (on Linux a connection between two 127.0.0.x comes from
		// 127.0.0.1, which the peer port's checkSAN compares), ::1,
		// localhost, the node name and its address.
		sans := pki.Request{CommonName: n.name, DNSNames: []string{"localhost", n.name},
			IPs: []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback, net.ParseIP(n.ip)}}
		server, peer := sans, sans
		server.Kind, peer.Kind = pki.KindServer, pki.KindPeer
		n.writeCA(t, k3sServerCA, n.clientCA)
		n.writeCA(t, k3sPeerCA, n.peerCA)
		n.writeLeaf(t, k3sServer, n.clientCA, server, now)
		n.writeLeaf(t, k3sPeer, n.peerCA, peer, now)
		n.writeLeaf(t, k3sClient, n.clientCA, pki.Request{Kind: pki.KindAPIServerClient}, now)

		cfg := k3sConfig{
			Name:                     n.name,
			DataDir:                  k3sEtcdData,
			ListenClientURLs:         n.clientURL(),
			AdvertiseClientURLs:      n.clientURL(),
			ListenPeerURLs:           n.peerURL(),
			InitialAdvertisePeerURLs: n.peerURL(),
			InitialCluster:           strings.Join(cluster, ","),
			InitialClusterState:      "new",
			InitialClusterToken:      fmt.Sprintf("portca-%d", base),
			ClientTrust: k3sTrust{CertFile: k3sServer, KeyFile: member.KeyPathFor(k3sServer),
				ClientCertAuth: true, TrustedCAFile: k3sServerCA},
			PeerTrust: k3sTrust{CertFile: k3sPeer, KeyFile: member.KeyPathFor(k3sPeer),
				ClientCertAuth: true, TrustedCAFile: k3sPeerCA},
			HeartbeatInterval: 50,
			ElectionTimeout:   500,
			Logger:            "zap",
			LogLevel:          "error",
		}
		data, err := yaml.Marshal(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.write(t, k3sEtcdConfig, data, 0o600)

		// The same file for etcd, with this machine's paths; its data
		// lies outside the tree, which stays what Check read.
		cfg.DataDir = filepath.Join(dir, "data", n.name)
		for _, p := range []*string{&cfg.ClientTrust.CertFile, &cfg.ClientTrust.KeyFile, &cfg.ClientTrust.TrustedCAFile,
			&cfg.PeerTrust.CertFile, &cfg.PeerTrust.KeyFile, &cfg.PeerTrust.TrustedCAFile} {
			*p = n.disk(*p)
		}
		if data, err = yaml.Marshal(&cfg); err != nil {
			t.Fatal(err)
		}
		if err := layout.WriteFile(n.etcdConfig, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return nodes
}

// checkNodes loads the nodes' trees as check does and audits them.
func checkNodes(t *testing.T, nodes []*portCANode) *audit.Report {
	t.Helper()
	var dirs []string
	for _, n := range nodes {
		dirs = append(dirs, n.root)
	}
	members, err := member.LoadDirs(dirs, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != len(nodes) {
		t.Fatalf("%d members found, want %d", len(members), len(nodes))
	}
	for i, m := range members {
		// The fixture must be read as intended, or the rest proves
		// nothing: k3s, named by its config file, two distinct CA files.
		if got := m.Input.Distribution.Name; got != "k3s" {
			t.Errorf("%s: detected as %s, want k3s", dirs[i], got)
		}
		if m.Name != nodes[i].name || m.Settings == nil {
			t.Errorf("%s: member %q (settings %v), want %q from its config file", dirs[i], m.Name, m.Settings != nil, nodes[i].name)
		}
		if m.CA == nil || m.PeerCA == nil || m.CA == m.PeerCA ||
			!m.CA.Cert().Equal(nodes[i].clientCA.Cert) || !m.PeerCA.Cert().Equal(nodes[i].peerCA.Cert) {
			t.Errorf("%s: client and peer CA not read as the two CAs written", dirs[i])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return audit.Check(members, audit.Options{})
}

// etcdNode is a started member.
type etcdNode struct {
	*portCANode
	etcd *embed.Etcd
}

// bootNodes starts each node's etcd in turn from its config file, without
// waiting for any (none is ready before a quorum has joined; local's boot
// says why in turn), all logging to one observed logger, and stops them
// when the test ends.
func bootNodes(t *testing.T, nodes []*portCANode) ([]*etcdNode, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	// etcd logs Fatal on some start-up failures; end only the goroutine
	// that logged, as local's newLogger does, so clean-up still runs.
	lg := zap.New(core, zap.WithFatalHook(zapcore.WriteThenGoexit))
	var started []*etcdNode
	t.Cleanup(func() { stopNodes(started) })
	for _, n := range nodes {
		cfg, err := embed.ConfigFromFile(n.etcdConfig)
		if err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
		// StartEtcd's Validate runs the builder and then installs the
		// TLSInfo.HandshakeFailure hooks that log every rejected
		// handshake ("rejected connection on peer endpoint") to it.
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg.Named(n.name))
		done := make(chan struct{})
		var e *embed.Etcd
		err = errors.New("etcd stopped while starting (it logged a fatal error)")
		go func() {
			defer close(done)
			e, err = embed.StartEtcd(cfg)
		}()
		<-done
		if err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
		started = append(started, &etcdNode{portCANode: n, etcd: e})
	}
	return started, logs
}

// stopNodes hard-stops every server, then closes every member, each step
// concurrently: Close on a member that never became ready blocks until its
// server has stopped (local's stop explains why).
func stopNodes(nodes []*etcdNode) {
	each := func(f func(e *embed.Etcd)) {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() { f(n.etcd) })
		}
		wg.Wait()
	}
	each(func(e *embed.Etcd) { e.Server.HardStop() })
	each(func(e *embed.Etcd) { e.Close() })
}

// errNotReady is waitReady's result when the time is up.
var errNotReady = errors.New("not ready")

// waitReady waits until the member is ready (nil), its server stops or a
// serving loop ends (that error), or until deadline (errNotReady).
func (n *etcdNode) waitReady(deadline time.Time) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-n.etcd.Server.ReadyNotify():
		return nil
	case <-n.etcd.Server.StopNotify():
		return errors.New("etcd server stopped")
	case err := <-n.etcd.Err():
		return fmt.Errorf("a listener stopped serving: %v", err)
	case <-timer.C:
		return errNotReady
	}
}

// clientTLS is what a client on node n is given: the node's client-port
// CA (etcdctl --cacert, kube-apiserver --etcd-cafile), plus extra roots,
// and its client.crt.
func (n *portCANode) clientTLS(t *testing.T, extraRoots ...*x509.Certificate) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(n.disk(k3sClient), n.disk(member.KeyPathFor(k3sClient)))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	data, err := os.ReadFile(n.disk(k3sServerCA))
	if err != nil {
		t.Fatal(err)
	}
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s: no CA in %s", n.name, k3sServerCA)
	}
	for _, c := range extraRoots {
		pool.AddCert(c)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// readBack runs local's write-and-read-back check through n's client
// URL: n sees all three members, takes a write, and serves every key
// written through the members checked before it with rb.
func readBack(ctx context.Context, rb *local.ReadBack, n *etcdNode, cfg *tls.Config) error {
	cli, err := local.NewClient([]string{n.clientURL()}, cfg)
	if err != nil {
		return err
	}
	defer cli.Close()
	op, err := rb.Check(ctx, cli, n.name, true)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// rejections returns the distinct errors of the handshakes member name
// rejected on port ("peer" or "client"), as etcd logged them.
func rejections(logs *observer.ObservedLogs, name, port string) []string {
	return loggedErrors(logs.FilterMessage("rejected connection on "+port+" endpoint"), name)
}

// awaitRejection waits up to two seconds for member name to log a
// rejected handshake on port whose error contains sub, and returns the
// rejections logged by then. The server logs a rejection from its own
// goroutine, which may run after the client has already seen the failure.
func awaitRejection(logs *observer.ObservedLogs, name, port, sub string) ([]string, bool) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		errs := rejections(logs, name, port)
		if anyContains(errs, sub) {
			return errs, true
		}
		if time.Now().After(deadline) {
			return errs, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loggedErrors returns the distinct errors member name logged.
func loggedErrors(logs *observer.ObservedLogs, name string) []string {
	var out []string
	for _, e := range logs.All() {
		if e.LoggerName != name && !strings.HasPrefix(e.LoggerName, name+".") {
			continue
		}
		if err, ok := e.ContextMap()["error"]; ok && !slices.Contains(out, fmt.Sprint(err)) {
			out = append(out, fmt.Sprint(err))
		}
	}
	return out
}

// anyContains reports whether one of errs contains every one of subs.
func anyContains(errs []string, subs ...string) bool {
	return slices.ContainsFunc(errs, func(e string) bool {
		for _, s := range subs {
			if !strings.Contains(e, s) {
				return false
			}
		}
		return true
	})
}

// etcdProblems lists the warnings and errors with an error etcd logged,
// one line per member, message and error, for failure messages.
func etcdProblems(logs *observer.ObservedLogs) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, e := range logs.All() {
		if e.Level < zapcore.WarnLevel {
			continue
		}
		msg, ok := e.ContextMap()["error"]
		if !ok {
			continue
		}
		line := fmt.Sprintf("  %s: %s: %v\n", e.LoggerName, e.Message, msg)
		if !seen[line] {
			seen[line] = true
			b.WriteString(line)
		}
	}
	return b.String()
}

// portCAError is one error-severity finding, for comparing a report's
// errors with what a scenario expects (as strings, whatever types the
// rule ID and impact have).
type portCAError struct{ rule, member, breaks string }

func reportErrors(r *audit.Report) []portCAError {
	var out []portCAError
	for _, f := range r.Findings {
		if f.Severity == audit.Error {
			out = append(out, portCAError{string(f.Rule), f.Member, string(f.Breaks)})
		}
	}
	return out
}

// TestPortCA boots real 3-member etcd clusters laid out as k3s nodes,
// whose client port and peer port each have their own CA (k3s's and
// RKE2's etcd-server-ca and etcd-peer-ca), and holds audit.Check's
// findings and verdict to what etcd does with them: a clean cluster works;
// a member with a peer CA of its own cannot join while the other two form
// the cluster (R2-PEER-TRUST); a member with a client CA of its own joins,
// but the cluster's clients fail on it (R2-CLIENT-TRUST).
func TestPortCA(t *testing.T) {
	if testing.Short() {
		t.Skip("boots three 3-member etcd clusters")
	}
	for _, sc := range []struct {
		name                   string
		base                   int
		ownPeerCA, ownClientCA bool
		// errors are exactly the error findings Check must report.
		errors []portCAError
		// summary is a part of the verdict's summary.
		summary string
		// ready are the members etcd must make ready; the others must
		// still not be ready, and still running, portCANotReadyWait
		// after these are.
		ready []string
		// refused are the ready members that must refuse the cluster's
		// clients (node1's client CA and client.crt).
		refused []string
	}{
		{
			name: "clean", base: portCAClean,
			summary: "the cluster will form (3 of 3 members)",
			ready:   []string{"node1", "node2", "node3"},
		},
		{
			name: "node3 with its own peer CA", base: portCAOwnPeer, ownPeerCA: true,
			errors:  []portCAError{{string(audit.RulePeerTrust), "node3", string(audit.BreaksPeers)}},
			summary: "2 of 3 members keep quorum",
			ready:   []string{"node1", "node2"},
		},
		{
			name: "node3 with its own client CA", base: portCAOwnClient, ownClientCA: true,
			errors:  []portCAError{{string(audit.RuleClientTrust), "node3", string(audit.BreaksClients)}},
			summary: "the cluster will form (3 of 3 members)",
			ready:   []string{"node1", "node2", "node3"},
			refused: []string{"node3"},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			nodes := portCACluster(t, sc.base, sc.ownPeerCA, sc.ownClientCA)

			// What Check predicts, from the trees alone.
			r := checkNodes(t, nodes)
			if got := reportErrors(r); !slices.Equal(got, sc.errors) {
				t.Errorf("error findings %v, want %v", got, sc.errors)
			}
			for _, f := range r.Findings {
				if f.Rule == audit.RulePeerTrust || f.Rule == audit.RuleClientTrust || f.Rule == audit.RuleCAMismatch {
					if !slices.Contains(sc.errors, portCAError{string(f.Rule), f.Member, string(f.Breaks)}) {
						t.Errorf("unexpected trust finding: %v", f.Error())
					}
				}
			}
			wantConnects := len(sc.refused) == 0 && len(sc.ready) == len(nodes)
			if !r.Verdict.ClusterForms || r.Verdict.ClientsConnect != wantConnects || !strings.Contains(r.Verdict.Summary, sc.summary) {
				t.Errorf("verdict forms=%t connects=%t %q, want forms=true connects=%t and %q",
					r.Verdict.ClusterForms, r.Verdict.ClientsConnect, r.Verdict.Summary, wantConnects, sc.summary)
			}
			if t.Failed() {
				t.Log("\n" + reportText(r))
			}

			// What etcd does.
			started, logs := bootNodes(t, nodes)
			defer func() {
				if t.Failed() {
					t.Logf("etcd logged:\n%s", etcdProblems(logs))
				}
			}()
			deadline := time.Now().Add(30 * time.Second)
			var ready, notReady []*etcdNode
			for _, n := range started {
				if slices.Contains(sc.ready, n.name) {
					if err := n.waitReady(deadline); err != nil {
						t.Fatalf("%s: %v", n.name, err)
					}
					ready = append(ready, n)
				} else {
					notReady = append(notReady, n)
				}
			}
			for _, n := range notReady {
				// Refused on the peer port, the member keeps trying: it
				// neither becomes ready nor stops.
				if err := n.waitReady(time.Now().Add(portCANotReadyWait)); !errors.Is(err, errNotReady) {
					t.Errorf("%s: want it still not ready and running after %s, got %v", n.name, portCANotReadyWait, err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// kube-apiserver on node1: the cluster's client CA and client.crt.
			cluster := nodes[0].clientTLS(t)
			// Which ready members take the cluster's client: a plain
			// handshake fails at once where TLS does (clientv3 would only
			// time out), and a read-back then proves the others serve.
			var refused []string
			rb := local.NewReadBack(len(nodes))
			for _, n := range ready {
				if err := local.CheckHandshake(ctx, n.clientURL(), cluster); err != nil {
					refused = append(refused, n.name)
					continue
				}
				if err := readBack(ctx, rb, n, cluster); err != nil {
					t.Errorf("%s with the cluster's client credentials: %v", n.name, err)
				}
			}
			if !slices.Equal(refused, sc.refused) {
				t.Errorf("members refusing the cluster's client: %v, want %v", refused, sc.refused)
			}
			// etcd's verdict, in Check's terms: a quorum is ready, and
			// every member serves the cluster's clients (a member that is
			// not ready serves none: etcd serves 2379 only once ready).
			etcdForms := 2*len(ready) > len(started)
			etcdConnects := len(notReady) == 0 && len(refused) == 0
			if etcdForms != r.Verdict.ClusterForms || etcdConnects != r.Verdict.ClientsConnect {
				t.Errorf("etcd: forms=%t connects=%t; Check said forms=%t connects=%t", etcdForms, etcdConnects, r.Verdict.ClusterForms, r.Verdict.ClientsConnect)
			}

			switch {
			case sc.ownPeerCA:
				ownPeerCA(ctx, t, started, logs)
			case sc.ownClientCA:
				ownClientCA(ctx, t, started, logs, rb, cluster)
			default:
				for _, n := range started {
					for _, port := range []string{"peer", "client"} {
						if errs := rejections(logs, n.name, port); len(errs) > 0 {
							t.Errorf("%s rejected %s connections in a clean cluster: %v", n.name, port, errs)
						}
					}
				}
			}
		})
	}
}

// portCANotReadyWait is how long a member that cannot join is given after
// the others are ready: a joining member is ready within a second or so of
// its peers on loopback.
const portCANotReadyWait = 6 * time.Second

// ownPeerCA: node3 and the others refuse each other on the peer port, and
// the cluster knows node3 only by its initial membership: it never
// published its name and client URLs.
//
// Which side logs what: the dialing member verifies the serving cert
// first, fails ("x509: certificate signed by unknown authority", logged by
// its prober and version checks), and aborts the handshake with a
// bad_certificate alert before it sends its own certificate; the member
// dialed logs that alert ("rejected connection on peer endpoint: remote
// error: tls: bad certificate"), not an unknown authority of its own.
func ownPeerCA(ctx context.Context, t *testing.T, nodes []*etcdNode, logs *observer.ObservedLogs) {
	t.Helper()
	const unknown = "x509: certificate signed by unknown authority"
	const aborted = "remote error: tls: bad certificate"
	var others []string
	for _, n := range nodes[:2] {
		others = append(others, loggedErrors(logs, n.name)...)
	}
	if errs := loggedErrors(logs, "node3"); !anyContains(errs, unknown) {
		t.Errorf("node3 did not fail to verify the others' peer certificates (%s); it logged: %v", unknown, errs)
	}
	if !anyContains(others, unknown) {
		t.Errorf("node1 and node2 did not fail to verify node3's peer certificate (%s); they logged: %v", unknown, others)
	}
	if errs := rejections(logs, "node3", "peer"); !anyContains(errs, aborted) {
		t.Errorf("node3's peer port did not see the others abort their handshakes (%s); rejections: %v", aborted, errs)
	}
	if errs := append(rejections(logs, "node1", "peer"), rejections(logs, "node2", "peer")...); !anyContains(errs, aborted) {
		t.Errorf("node1's and node2's peer ports did not see node3 abort its handshakes (%s); rejections: %v", aborted, errs)
	}
	for _, n := range nodes[:2] {
		if errs := rejections(logs, n.name, "client"); len(errs) > 0 {
			t.Errorf("%s rejected client connections: %v", n.name, errs)
		}
	}
	cli, err := local.NewClient([]string{nodes[0].clientURL()}, nodes[0].clientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ml, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list through node1: %v", err)
	}
	published := map[string]bool{}
	for _, m := range ml.Members {
		for _, u := range m.PeerURLs {
			published[u] = len(m.ClientURLs) > 0
		}
	}
	for _, n := range nodes {
		if want := n.name != "node3"; published[n.peerURL()] != want {
			t.Errorf("%s (%s): published client URLs %t, want %t (members: %v)", n.name, n.peerURL(), published[n.peerURL()], want, ml.Members)
		}
	}
}

// ownClientCA: node3 joined (it serves keys written through the others)
// but refuses the cluster's clients: they cannot verify its serving cert,
// and it refuses their client cert; node3's own client works on node3
// and not on the others.
func ownClientCA(ctx context.Context, t *testing.T, nodes []*etcdNode, logs *observer.ObservedLogs, rb *local.ReadBack, cluster *tls.Config) {
	t.Helper()
	node1, node3 := nodes[0], nodes[2]

	// The cluster's client dials node3 and cannot verify its serving
	// cert; it aborts with a bad_certificate alert, which node3 logs.
	err := local.CheckHandshake(ctx, node3.clientURL(), cluster)
	if !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Errorf("node3 with the cluster's client credentials: handshake %v, want x509: certificate signed by unknown authority", err)
	}
	if errs, ok := awaitRejection(logs, "node3", "client", "remote error: tls: bad certificate"); !ok {
		t.Errorf("node3 did not log the cluster's client aborting the handshake; rejections: %v", errs)
	}

	// A client that also trusts node3's CA gets past that, and node3
	// refuses it. A Go client (etcdctl, kube-apiserver) does not even send
	// its certificate: node3's CertificateRequest names only node3's CA as
	// acceptable, and crypto/tls sends no certificate when none of its own
	// chains to one of those (getClientCertificate), so node3 finds none
	// ("tls: client didn't provide a certificate"; with TLS 1.3 the client
	// reads the certificate_required alert after its handshake).
	trustBoth := node1.clientTLS(t, node3.clientCA.Cert)
	err = local.CheckHandshake(ctx, node3.clientURL(), trustBoth)
	if err == nil || !strings.Contains(err.Error(), "remote error: tls: certificate required") {
		t.Errorf("node3 with the cluster's client cert, trusting node3's CA: %v, want remote error: tls: certificate required", err)
	}
	if errs, ok := awaitRejection(logs, "node3", "client", "tls: client didn't provide a certificate"); !ok {
		t.Errorf("node3 did not log a client without a certificate; rejections: %v", errs)
	}
	// A client that sends its certificate anyway (as OpenSSL-based ones
	// do) has it verified, and refused, against node3's CA.
	err = local.CheckHandshake(ctx, node3.clientURL(), alwaysSend(trustBoth))
	if err == nil || !strings.Contains(err.Error(), "remote error: tls: unknown certificate authority") {
		t.Errorf("node3 with the cluster's client cert sent regardless: %v, want remote error: tls: unknown certificate authority", err)
	}
	if errs, ok := awaitRejection(logs, "node3", "client", "x509: certificate signed by unknown authority"); !ok {
		t.Errorf("node3 did not log refusing the cluster's client certificate as signed by an unknown authority; rejections: %v", errs)
	}

	// And through clientv3, as kube-apiserver would: no request succeeds.
	cli, err := local.NewClient([]string{node3.clientURL()}, cluster)
	if err != nil {
		t.Fatal(err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = cli.Get(reqCtx, local.VerifyPrefix, clientv3.WithPrefix())
	cancel()
	cli.Close()
	if err == nil {
		t.Error("node3 served a get to the cluster's client")
	}

	// node3 is a full member all the same: with its own client CA and
	// client.crt it sees the three members and serves the keys written
	// through node1 and node2.
	if err := readBack(ctx, rb, node3, node3.clientTLS(t)); err != nil {
		t.Errorf("node3 with its own client credentials: %v", err)
	}
	// node3's own client is refused by node1 (the other half of
	// R2-CLIENT-TRUST: node3's kube-apiserver cannot use node1).
	err = local.CheckHandshake(ctx, node1.clientURL(), alwaysSend(node3.clientTLS(t, node1.clientCA.Cert)))
	if err == nil || !strings.Contains(err.Error(), "remote error: tls: unknown certificate authority") {
		t.Errorf("node1 with node3's client cert: %v, want remote error: tls: unknown certificate authority", err)
	}
	if errs, ok := awaitRejection(logs, "node1", "client", "x509: certificate signed by unknown authority"); !ok {
		t.Errorf("node1 did not log refusing node3's client certificate as signed by an unknown authority; rejections: %v", errs)
	}
	// The peer port is untouched.
	for _, n := range nodes {
		if errs := rejections(logs, n.name, "peer"); len(errs) > 0 {
			t.Errorf("%s rejected peer connections: %v", n.name, errs)
		}
	}
}

// alwaysSend returns cfg with its client certificate sent whatever CAs the
// server asks for.
func alwaysSend(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	pair := c.Certificates[0]
	c.Certificates = nil
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	return c
}
