package local

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Limits and defaults of Options.
const (
	// MaxMembers is etcd's own recommendation: more than seven voting
	// members make every write slower without making the cluster more
	// available.
	MaxMembers = 7
	// DefaultMembers is the smallest cluster that survives losing a member.
	DefaultMembers = 3
	// DefaultReadyTimeout bounds the wait for every member to join and
	// serve. A healthy loopback cluster is ready in about a second; the
	// rest is headroom for slow, shared CI machines.
	DefaultReadyTimeout = 30 * time.Second
)

// DefaultAlgorithm is the key algorithm of a new local cluster's PKI.
// ECDSA P-256 keys take microseconds where RSA-2048 takes tens of
// milliseconds each, which keeps "up --once" for 3 members near 2 s rather
// than 3.5 s on two cores; pass pki.RSA2048 for kubeadm's default.
const DefaultAlgorithm = pki.ECDSAP256

// Options configure a local cluster.
//
// Start uses every field. StartFromDir takes the cluster from its spec and
// so uses only ReadyTimeout, Verbose and LogWriter.
type Options struct {
	// Dir holds the PKI (init's layout) and the members' data
	// (Dir/data/<member>). A PKI already in Dir is reused. Empty means a
	// new temporary directory, removed by Close.
	Dir string
	// Members is the number of members, 1 to MaxMembers (default 3).
	Members int
	// Algorithm is the key algorithm of a new PKI. Empty means the one
	// recorded in Dir's cluster.yaml, or DefaultAlgorithm.
	Algorithm pki.Algorithm
	// ClientPort, PeerPort and MetricsPort are the ports every member
	// listens on, each on its own address (default 2379, 2380, 2381).
	ClientPort, PeerPort, MetricsPort int
	// ReadyTimeout bounds the wait for every member to become ready
	// (default DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// Verbose copies etcd's logs to LogWriter (os.Stderr when nil). They
	// are captured in Cluster.Logs either way.
	Verbose bool
	// LogWriter receives etcd's logs when Verbose.
	LogWriter io.Writer
	// Configure, when set, adjusts each member's configuration before it
	// boots (demo uses it to break a flag, e.g. --client-cert-auth).
	Configure func(*render.Config)
	// KeepNotReady makes StartFromDir return the running cluster together
	// with the *BootError when ReadyTimeout passes with members not ready,
	// instead of stopping it, so a broken cluster can be probed as it is.
	KeepNotReady bool
}

func (o Options) withDefaults() Options {
	if o.Members == 0 {
		o.Members = DefaultMembers
	}
	if o.ClientPort == 0 {
		o.ClientPort = spec.DefaultClientPort
	}
	if o.PeerPort == 0 {
		o.PeerPort = spec.DefaultPeerPort
	}
	if o.MetricsPort == 0 {
		o.MetricsPort = spec.DefaultMetricsPort
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.Verbose && o.LogWriter == nil {
		o.LogWriter = os.Stderr
	}
	return o
}

func (o Options) validate() error {
	if o.Members < 1 || o.Members > MaxMembers {
		return &spec.FieldError{Field: "members", Detail: fmt.Sprintf("%d out of range 1-%d", o.Members, MaxMembers)}
	}
	if o.Algorithm != "" {
		if _, err := pki.ParseAlgorithm(string(o.Algorithm)); err != nil {
			return &spec.FieldError{Field: "algorithm", Detail: err.Error()}
		}
	}
	return nil
}
