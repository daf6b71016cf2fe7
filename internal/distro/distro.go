// Package distro writes faithful copies of the etcd nodes of real
// Kubernetes distributions, for tests: the files, names, CA structure,
// SANs, EKUs, key types, modes and etcd settings files that each
// distribution itself writes, built here from its documented behaviour
// (each generator cites the upstream source it follows, path@version).
//
// Every generator writes one directory per member under dir, each a copy
// of that node's "/", and returns them in member order:
//
//	f := distro.Kubespray(t, t.TempDir(), distro.Options{})
//	report, _ := audit.CheckDirs(f.Dirs, audit.Options{})
//
// Faults are planted through Options, so a test names the one thing that
// differs from a clean cluster.
package distro

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Node is one member of a fixture cluster.
type Node struct {
	// Host is the node's hostname (kubespray's inventory name, k3s's node
	// name, OpenShift's node name). Distributions derive member names and
	// file names from it.
	Host string
	// IP is the node's address; it appears only as a string in
	// certificates and settings, never dialed.
	IP string
}

// Options shape a fixture. The zero value is a clean 3-member cluster.
type Options struct {
	// Nodes defaults to DefaultNodes(3).
	Nodes []Node
	// Now is the time certificates are issued at; zero means time.Now().
	Now time.Time

	// OmitIP names a host whose own IP is left out of the SANs of its
	// serving certificates (client and peer), as a hand-made cert would.
	OmitIP string
	// ForeignCA names a host whose every etcd CA (and the leaves it
	// signs) is replaced by CAs of its own, as a node set up on its own
	// would be.
	ForeignCA string
	// OwnPeerCA names a host that gets a peer CA of its own (and peer
	// leaves signed by it); its client-port CA stays the cluster's. Only
	// distributions with separate peer and client CAs (k3s, RKE2, kops)
	// honour it.
	OwnPeerCA string
	// OwnClientCA names a host that gets a client-port CA of its own (and
	// a serving cert and kube-apiserver client cert signed by it); its
	// peer CA stays the cluster's. Only distributions with separate peer
	// and client CAs honour it.
	OwnClientCA string
}

// Fixture is a written cluster.
type Fixture struct {
	// Distribution is the generator's name, e.g. "kubespray".
	Distribution string
	// Dirs holds one directory per member, each a copy of the node's "/",
	// in the order of Options.Nodes.
	Dirs []string
	// Members are the etcd member names the distribution gives the nodes,
	// in the same order (kubespray "etcd1", k3s "<host>-<8 hex>", …).
	Members []string
	// Nodes are the nodes the fixture was made for.
	Nodes []Node
}

// DefaultNodes returns n nodes node1…nodeN on 10.0.0.11, 10.0.0.12, ….
func DefaultNodes(n int) []Node {
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{Host: fmt.Sprintf("node%d", i+1), IP: fmt.Sprintf("10.0.0.%d", 11+i)}
	}
	return nodes
}

// Generator writes a fixture of one distribution under dir.
type Generator func(t testing.TB, dir string, opts Options) *Fixture

// All lists every distribution's generator by name. Generators register
// here from their own files.
var All = map[string]Generator{}

func (o Options) nodes() []Node {
	if len(o.Nodes) == 0 {
		return DefaultNodes(3)
	}
	return o.Nodes
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// checkHosts fails the test when a fault option names a host that is no
// node of the fixture, in the order OmitIP, ForeignCA, OwnPeerCA,
// OwnClientCA.
func (o Options) checkHosts(t testing.TB, nodes []Node) {
	t.Helper()
	for _, h := range []struct{ what, host string }{
		{"OmitIP", o.OmitIP}, {"ForeignCA", o.ForeignCA},
		{"OwnPeerCA", o.OwnPeerCA}, {"OwnClientCA", o.OwnClientCA},
	} {
		if h.host == "" || slices.ContainsFunc(nodes, func(n Node) bool { return n.Host == h.host }) {
			continue
		}
		t.Fatalf("distro: %s names %q, which is no node of the fixture", h.what, h.host)
	}
}

// refuseOwnCAs fails the test when OwnPeerCA or OwnClientCA is set for a
// distribution with one etcd CA for both ports; why says so, for the
// message.
func (o Options) refuseOwnCAs(t testing.TB, why string) {
	t.Helper()
	if o.OwnPeerCA != "" || o.OwnClientCA != "" {
		t.Fatalf("distro: %s; OwnPeerCA/OwnClientCA do not apply", why)
	}
}
