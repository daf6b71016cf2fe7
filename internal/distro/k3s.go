package distro

// k3s and RKE2 share k3s's server code (RKE2 imports it as a library), so
// both write the same etcd PKI and the same etcd config file; they differ
// in the data directory, in version.Program (the prefix of the Kubernetes
// CA names) and in how etcd runs: in the k3s process, or as RKE2's static
// pod. This file holds the shared part and the k3s generators; rke2.go
// adds the static pod manifests.
//
// Sources (k3s-io/k3s unless named otherwise; stored copies, the newest
// found):
//
//   - pkg/daemons/control/deps/deps.go@09ac65a68f11d6cf0a9b17fb8d53e61ca72791a9
//     (CreateRuntimeCertFiles, genETCDCerts, createSigningCertKey,
//     createClientCertKey, createServerSigningCertKey)
//   - pkg/etcd/etcd.go, master with listenClientHTTPURLs (2024-25; the
//     index showed no commit for that copy): setName, newCluster, join,
//     cluster, listen*URLs
//   - pkg/daemons/executor/executor.go, the same era (ETCDConfig with
//     listen-client-http-urls and socket-options; no commit shown):
//     ETCDConfig, ServerTrust, PeerTrust, InitialOptions, ToConfigFile
//   - pkg/daemons/executor/embed.go: (*Embedded).CurrentETCDOptions
//   - pkg/cli/server/server.go, same era: the SAN list
//   - pkg/daemons/config/types.go: ControlRuntimeBootstrap, Loopback
//   - rancher/dynamiclistener cert/cert.go@587be474c1897c64fd28339aa91ca19f978b33bc
//     and cert/validity.go@acd9e2821b241ff3f839afa117fa9703bef8c328
//     (NewSelfSignedCACert, NewSignedCert, CalculateNotBefore); its
//     WriteCert/WriteKey/LoadOrGenerateKeyFile are client-go's
//     util/cert and util/keyutil
//   - docs.k3s.io/advanced "Certificate Management" (validity)

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func init() {
	All["k3s"] = K3s
	All["k3s-restarted"] = K3sRestarted
}

// K3s writes a k3s cluster with embedded etcd: the first server started
// with --cluster-init, the others joined with --server, each on its first
// start (so each etcd config file still holds the initial-* keys k3s wrote
// when it started that member).
func K3s(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	f, _ := writeRancher(t, dir, opts, rancherK3s, false)
	return f
}

// K3sRestarted is K3s after every server has been restarted once: k3s
// then finds the member's WAL and starts etcd with the InitialOptions its
// embedded executor reports, which are empty (pkg/daemons/executor/embed.go
// CurrentETCDOptions; pkg/etcd/etcd.go Start), so the config file it
// rewrites has no initial-advertise-peer-urls, initial-cluster or
// initial-cluster-state. Everything else is as K3s writes it.
func K3sRestarted(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	f, _ := writeRancher(t, dir, opts, rancherK3s, true)
	f.Distribution = "k3s-restarted"
	return f
}

// rancherFlavor is what differs between k3s and RKE2 in the shared code.
type rancherFlavor struct {
	// name is the Fixture's Distribution.
	name string
	// program is version.Program, "k3s" or "rke2" (rke2 sets it).
	program string
}

var rancherK3s = rancherFlavor{name: "k3s", program: "k3s"}

// dataDir is the default --data-dir, /var/lib/rancher/<program>.
func (r rancherFlavor) dataDir() string { return "/var/lib/rancher/" + r.program }

// serverDir is config.Control.DataDir: <data-dir>/server.
func (r rancherFlavor) serverDir() string { return r.dataDir() + "/server" }

// etcdTLS is where deps.go CreateRuntimeCertFiles puts the etcd PKI:
// DataDir/tls/etcd.
func (r rancherFlavor) etcdTLS(file string) string { return r.serverDir() + "/tls/etcd/" + file }

// etcdDataDir is pkg/etcd/etcd.go dbDir: DataDir/db/etcd. The config file
// is DataDir/db/etcd/config (executor.go ToConfigFile) and the member name
// DataDir/db/etcd/name (etcd.go nameFile).
func (r rancherFlavor) etcdDataDir() string { return r.serverDir() + "/db/etcd" }

// The file names deps.go CreateRuntimeCertFiles gives the etcd PKI.
const (
	rancherServerCA    = "server-ca.crt"          // ETCDServerCA
	rancherServerCAKey = "server-ca.key"          // ETCDServerCAKey
	rancherPeerCA      = "peer-ca.crt"            // ETCDPeerCA
	rancherPeerCAKey   = "peer-ca.key"            // ETCDPeerCAKey
	rancherServer      = "server-client.crt"      // ServerETCDCert: the 2379 serving cert
	rancherServerKey   = "server-client.key"      // ServerETCDKey
	rancherPeer        = "peer-server-client.crt" // PeerServerClientETCDCert
	rancherPeerKey     = "peer-server-client.key" // PeerServerClientETCDKey
	rancherClient      = "client.crt"             // ClientETCDCert: kube-apiserver's and k3s's etcd client
	rancherClientKey   = "client.key"             // ClientETCDKey
)

// Lifetimes. dynamiclistener NewSignedCert signs leaves for 365 days
// (duration365d, unless CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS is set).
// docs.k3s.io/advanced: the self-signed CAs "are valid for 10 years"
// (client-go's NewSelfSignedCACert value, duration365d * 10; the stored
// dynamiclistener cert.go@587be474 has a 100-year default, which no k3s
// document states, so the documented 10 years is used).
const (
	rancherCAValidity   = 10 * 365 * 24 * time.Hour
	rancherLeafValidity = 365 * 24 * time.Hour
)

// rancherServiceIP is the kube-apiserver service IP, the first address of
// the default service CIDR 10.43.0.0/16: pkg/cli/server/server.go appends
// it to ControlConfig.SANs, the list genETCDCerts also adds to the etcd
// serving certs.
const rancherServiceIP = "10.43.0.1"

// rancherNode is one written member, for RKE2's manifests.
type rancherNode struct {
	Node
	// Root is the member directory (the node's "/").
	Root string
	// Member is the etcd member name.
	Member string
	// Initial are the initial-* settings etcd was started with (zero
	// after a restart of a k3s member).
	Initial rancherInitial
}

// rancherInitial is k3s's executor.InitialOptions, with its YAML/JSON
// names; RKE2 also stores it, as JSON, in the etcd pod's
// etcd.k3s.io/initial annotation.
type rancherInitial struct {
	AdvertisePeerURL string `json:"initial-advertise-peer-urls,omitempty"`
	Cluster          string `json:"initial-cluster,omitempty"`
	State            string `json:"initial-cluster-state,omitempty"`
}

// rancherTrust is executor.go's ServerTrust and PeerTrust (same fields).
type rancherTrust struct {
	CertFile       string `json:"cert-file"`
	KeyFile        string `json:"key-file"`
	ClientCertAuth bool   `json:"client-cert-auth"`
	TrustedCAFile  string `json:"trusted-ca-file"`
}

// rancherSocketOpts is executor.go's ETCDSocketOpts.
type rancherSocketOpts struct {
	ReuseAddress bool `json:"reuse-address,omitempty"`
	ReusePort    bool `json:"reuse-port,omitempty"`
}

// rancherEtcdConfig has the keys of executor.go's ETCDConfig, which k3s
// marshals with sigs.k8s.io/yaml (so keys come out sorted) to
// DataDir/db/etcd/config; the omitempty choices are k3s's.
type rancherEtcdConfig struct {
	rancherInitial
	Name                 string            `json:"name,omitempty"`
	ListenClientURLs     string            `json:"listen-client-urls,omitempty"`
	ListenClientHTTPURLs string            `json:"listen-client-http-urls,omitempty"`
	ListenMetricsURLs    string            `json:"listen-metrics-urls,omitempty"`
	ListenPeerURLs       string            `json:"listen-peer-urls,omitempty"`
	AdvertiseClientURLs  string            `json:"advertise-client-urls,omitempty"`
	DataDir              string            `json:"data-dir,omitempty"`
	SnapshotCount        int               `json:"snapshot-count,omitempty"`
	ServerTrust          rancherTrust      `json:"client-transport-security"`
	PeerTrust            rancherTrust      `json:"peer-transport-security"`
	ForceNewCluster      bool              `json:"force-new-cluster,omitempty"`
	HeartbeatInterval    int               `json:"heartbeat-interval"`
	ElectionTimeout      int               `json:"election-timeout"`
	Logger               string            `json:"logger"`
	LogOutputs           []string          `json:"log-outputs"`
	SocketOpts           rancherSocketOpts `json:"socket-options"`

	ExperimentalInitialCorruptCheck         bool          `json:"experimental-initial-corrupt-check"`
	ExperimentalWatchProgressNotifyInterval time.Duration `json:"experimental-watch-progress-notify-interval"`
}

// rancherMemberName is pkg/etcd/etcd.go setName: the node name, "-" and
// the first 8 characters of a random UUID (8 hex digits). The digits here
// come from the host name, so fixtures are reproducible.
func rancherMemberName(host string) string {
	sum := sha256.Sum256([]byte(host))
	return host + "-" + hex.EncodeToString(sum[:4])
}

// rancherCA is deps.go createSigningCertKey: a fresh key
// (LoadOrGenerateKeyFile: ECDSA P-256) and a self-signed CA named
// "<prefix>-ca@<unix time>" (dynamiclistener NewSelfSignedCACert: serial
// 0, NotBefore now, keyEncipherment|digitalSignature|keyCertSign,
// CA:TRUE; Go adds the subject key ID of a CA).
func rancherCA(t testing.TB, keys *Keys, prefix string, now time.Time) *pki.CA {
	t.Helper()
	return newSelfSignedCACert(t, keys.ECDSA(), big.NewInt(0), fmt.Sprintf("%s-ca@%d", prefix, now.Unix()), nil, now, rancherCAValidity)
}

// rancherLeaf is deps.go createClientCertKey through dynamiclistener
// NewSignedCert: a random serial below 2^63, the CA's NotBefore (also what
// the newer CalculateNotBefore gives for a CA made this hour), 365 days,
// keyEncipherment|digitalSignature whatever the key type, the given EKUs
// and SANs, no subject key ID (Go sets the authority key ID from the CA).
func rancherLeaf(t testing.TB, ca *pki.CA, key crypto.Signer, cn string, dns []string, ips []net.IP, ekus []x509.ExtKeyUsage, now time.Time) *x509.Certificate {
	t.Helper()
	return newSignedCert(t, ca, key, pkix.Name{CommonName: cn}, dns, ips, ekus, now, rancherLeafValidity)
}

// rancherSANs is the etcd serving certs' SAN list for a node, in k3s's
// order: genETCDCerts starts from DNS "kine.sock" and adds
// ControlConfig.SANs, which pkg/cli/server/server.go builds (no --tls-san,
// --node-ip or --advertise-address given) as "127.0.0.1", "::1",
// "localhost", the node name, the node's detected IPs, and the apiserver
// service IP; addSANs splits them into IP and DNS names. omitIP leaves the
// node's own IP out.
func rancherSANs(n Node, omitIP bool) ([]string, []net.IP) {
	dns := []string{"kine.sock", "localhost", n.Host}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if !omitIP {
		ips = append(ips, net.ParseIP(n.IP))
	}
	ips = append(ips, net.ParseIP(rancherServiceIP))
	return dns, ips
}

// rancherURL is pkg/etcd/etcd.go peerURL/clientURL: https://<ip>:<port>.
func rancherURL(ip, port string) string { return "https://" + net.JoinHostPort(ip, port) }

// writeRancher writes the shared part of a k3s or RKE2 cluster and
// returns the fixture and its members.
func writeRancher(t testing.TB, dir string, opts Options, r rancherFlavor, restarted bool) (*Fixture, []rancherNode) {
	t.Helper()
	nodes := opts.nodes()
	now := opts.now()
	keys := NewKeys(t)

	// The first server creates every CA; the others receive the CA
	// certificates and keys in the bootstrap data (pkg/daemons/config
	// types.go ControlRuntimeBootstrap: ETCDServerCA, ETCDServerCAKey,
	// ETCDPeerCA, ETCDPeerCAKey, ServerCA, ServerCAKey, …), so every
	// server holds the etcd CA keys.
	serverCA := rancherCA(t, keys, "etcd-server", now) // genETCDCerts
	peerCA := rancherCA(t, keys, "etcd-peer", now)     // genETCDCerts
	// createServerSigningCertKey: version.Program+"-server", the
	// Kubernetes server CA (kept here for CIS 2.7, etcd CA ≠ cluster CA).
	k8sCA := rancherCA(t, keys, r.program+"-server", now)

	f := &Fixture{Distribution: r.name, Nodes: nodes}
	var written []rancherNode
	var cluster []string // member=peerURL of the members started so far
	for i, n := range nodes {
		root := layout.MemberDir(dir, n.Host)
		fs := nodeFS{t: t, root: root}
		member := rancherMemberName(n.Host)
		// A node set up on its own made its CAs a moment before.
		ownNow := now.Add(-time.Duration(i+1) * time.Second)
		nodeServerCA, nodePeerCA := serverCA, peerCA
		if n.Host == opts.ForeignCA {
			nodeServerCA = rancherCA(t, keys, "etcd-server", ownNow)
			nodePeerCA = rancherCA(t, keys, "etcd-peer", ownNow)
		}
		if n.Host == opts.OwnClientCA {
			nodeServerCA = rancherCA(t, keys, "etcd-server", ownNow)
		}
		if n.Host == opts.OwnPeerCA {
			nodePeerCA = rancherCA(t, keys, "etcd-peer", ownNow)
		}

		dns, ips := rancherSANs(n, n.Host == opts.OmitIP)
		both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		serverKey, peerKey, clientKey := keys.ECDSA(), keys.ECDSA(), keys.ECDSA()
		// genETCDCerts: "etcd-client" (no SANs, clientAuth) and
		// "etcd-server" (SANs, serverAuth+clientAuth) from the server CA,
		// "etcd-peer" (the same SANs, serverAuth+clientAuth) from the peer
		// CA.
		clientCert := rancherLeaf(t, nodeServerCA, clientKey, "etcd-client", nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, now)
		peerCert := rancherLeaf(t, nodePeerCA, peerKey, "etcd-peer", dns, ips, both, now)
		serverCert := rancherLeaf(t, nodeServerCA, serverKey, "etcd-server", dns, ips, both, now)

		// CA files hold the one certificate (WriteCert(EncodeCertPEM));
		// a leaf file holds the leaf followed by the CA file's
		// certificates (util.EncodeCertsPEM(cert, caCerts)). client-go's
		// WriteCert writes 0644, WriteKey 0600.
		tls := func(name string) string { return r.etcdTLS(name) }
		fs.cert(tls(rancherServerCA), 0o644, nodeServerCA.Cert)
		fs.key(tls(rancherServerCAKey), 0o600, nodeServerCA.Key)
		fs.cert(tls(rancherPeerCA), 0o644, nodePeerCA.Cert)
		fs.key(tls(rancherPeerCAKey), 0o600, nodePeerCA.Key)
		fs.cert(tls(rancherClient), 0o644, clientCert, nodeServerCA.Cert)
		fs.key(tls(rancherClientKey), 0o600, clientKey)
		fs.cert(tls(rancherPeer), 0o644, peerCert, nodePeerCA.Cert)
		fs.key(tls(rancherPeerKey), 0o600, peerKey)
		fs.cert(tls(rancherServer), 0o644, serverCert, nodeServerCA.Cert)
		fs.key(tls(rancherServerKey), 0o600, serverKey)
		// The Kubernetes server CA, and its single-certificate copy
		// SigningServerCA (tls/server-ca.nochain.crt).
		fs.cert(r.serverDir()+"/tls/server-ca.crt", 0o644, k8sCA.Cert)
		fs.key(r.serverDir()+"/tls/server-ca.key", 0o600, k8sCA.Key)
		fs.cert(r.serverDir()+"/tls/server-ca.nochain.crt", 0o644, k8sCA.Cert)

		// pkg/etcd/etcd.go: the first server starts a new cluster
		// (newCluster: initial-advertise-peer-urls, initial-cluster of
		// itself, state new); a joiner adds itself as a learner and
		// starts with the members it was told of plus itself, state
		// existing, and no initial-advertise-peer-urls (join).
		peerURL := rancherURL(n.IP, "2380")
		self := member + "=" + peerURL
		var initial rancherInitial
		if i == 0 {
			initial = rancherInitial{AdvertisePeerURL: peerURL, Cluster: self, State: "new"}
		} else {
			initial = rancherInitial{Cluster: strings.Join(append(append([]string(nil), cluster...), self), ","), State: "existing"}
		}
		cluster = append(cluster, self)
		started := initial
		if restarted {
			started = rancherInitial{}
		}
		writeRancherConfig(fs, r, n, member, started)

		// Directory modes: control/server.go prepare() makes DataDir/tls
		// 0700; tls/etcd is made by WriteKey/WriteCert's MkdirAll(0755);
		// etcd.go Start keeps db/etcd at 0700. layout.WriteFile made the
		// rest 0700.
		fs.chmod(0o700, r.serverDir()+"/tls")
		fs.chmod(0o755, r.serverDir()+"/tls/etcd")
		fs.chmod(0o700, r.etcdDataDir())

		f.Dirs = append(f.Dirs, root)
		f.Members = append(f.Members, member)
		written = append(written, rancherNode{Node: n, Root: root, Member: member, Initial: started})
	}
	return f, written
}

// writeRancherConfig writes DataDir/db/etcd/config and the name file.
func writeRancherConfig(fs nodeFS, r rancherFlavor, n Node, member string, initial rancherInitial) {
	fs.t.Helper()
	// pkg/etcd/etcd.go cluster(), not resetting. Loopback(true) is
	// 127.0.0.1 for an IPv4 service CIDR (config types.go Loopback).
	cfg := rancherEtcdConfig{
		rancherInitial:       initial,
		Name:                 member,
		ListenClientURLs:     "https://127.0.0.1:2379," + rancherURL(n.IP, "2379"),
		ListenClientHTTPURLs: "https://127.0.0.1:2382",
		ListenMetricsURLs:    "http://127.0.0.1:2381", // --etcd-expose-metrics not set
		ListenPeerURLs:       "https://127.0.0.1:2380," + rancherURL(n.IP, "2380"),
		AdvertiseClientURLs:  rancherURL(n.IP, "2379"),
		DataDir:              r.etcdDataDir(),
		SnapshotCount:        10000,
		ServerTrust: rancherTrust{
			CertFile:       r.etcdTLS(rancherServer),
			KeyFile:        r.etcdTLS(rancherServerKey),
			ClientCertAuth: true,
			TrustedCAFile:  r.etcdTLS(rancherServerCA),
		},
		PeerTrust: rancherTrust{
			CertFile:       r.etcdTLS(rancherPeer),
			KeyFile:        r.etcdTLS(rancherPeerKey),
			ClientCertAuth: true,
			TrustedCAFile:  r.etcdTLS(rancherPeerCA),
		},
		ElectionTimeout:                 5000,
		HeartbeatInterval:               500,
		Logger:                          "zap",
		LogOutputs:                      []string{"stderr"},
		ExperimentalInitialCorruptCheck: true,
		// Datastore.NotifyInterval, 5s (pkg/cli/server/server.go).
		ExperimentalWatchProgressNotifyInterval: 5 * time.Second,
	}
	data, err := yaml.Marshal(&cfg)
	if err != nil {
		fs.t.Fatalf("distro: %v", err)
	}
	// ToConfigFile: MkdirAll(DataDir, 0700), WriteFile(config, 0600);
	// setName: WriteFile(name, []byte(name), 0600), no newline.
	fs.file(r.etcdDataDir()+"/config", 0o600, data)
	fs.file(r.etcdDataDir()+"/name", 0o600, []byte(member))
}
