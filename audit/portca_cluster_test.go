package audit_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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

// Node paths of the k3s layout (k3s pkg/daemons/control/deps/deps.go
// CreateRuntimeCertFiles: DataDir/tls/etcd; pkg/daemons/executor
// ToConfigFile: DataDir/db/etcd/config), which member detects as k3s.
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

// k3sConfig is the etcd --config-file k3s writes to db/etcd/config, with
// the keys a test cluster needs. One value is written twice: with node
// paths into the member's tree, for Check, and with the paths on this
// machine, for etcd (embed.ConfigFromFile reads it, so etcd parses the
// very file Check parsed, but for the paths).
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
	// test's own logger replaces it; "error" keeps its one start-up
	// warning ("Running http and grpc server on single port") off stderr.
	LogLevel string `json:"log-level"`
}

// portCANode is one k3s server of a test cluster: its tree (a copy of the
// node's "/"), its etcd config file on this machine and its CAs.
type portCANode struct {
	name, ip string
	root     string
	// etcdConfig is the config file etcd runs from (paths on this machine).
	etcdConfig       string
	clientCA, peerCA *pki.CA
}

func (n *portCANode) clientURL(base int) string {
	return "https://" + net.JoinHostPort(n.ip, fmt.Sprint(base))
}

func (n *portCANode) peerURL(base int) string {
	return "https://" + net.JoinHostPort(n.ip, fmt.Sprint(base+1))
}

// disk maps a node path into the node's tree.
func (n *portCANode) disk(nodePath string) string { return layout.OnDisk(n.root, nodePath) }

func (n *portCANode) write(t *testing.T, nodePath string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := layout.WriteFile(n.disk(nodePath), data, perm); err != nil {
		t.Fatal(err)
	}
}

// writePair writes a certificate file (the leaf, then its CA, as k3s's
// util.EncodeCertsPEM(cert, caCerts) does) and its key, 0644 and 0600.
func (n *portCANode) writePair(t *testing.T, certPath string, certs []*x509.Certificate, key any) {
	t.Helper()
	n.write(t, certPath, pki.EncodeCerts(certs...), layout.CertPerm)
	signer, ok := key.(interface{ Public() any })
	_ = signer
	_ = ok
	data, err := pki.EncodeKeyAny(key)
	if err != nil {
		t.Fatal(err)
	}
	n.write(t, member.KeyPathFor(certPath), data, layout.KeyPerm)
}
