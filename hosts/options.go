package hosts

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// DefaultReadyTimeout bounds the wait for every member to join and serve.
// A healthy 3-member cluster is ready in about a second (etcd's default
// 100 ms heartbeat and 1 s election timeout, which the printed flags leave
// alone); the rest is headroom for slow, shared CI machines.
const DefaultReadyTimeout = 30 * time.Second

// Options configure a cluster in hosts mode. Start uses every field;
// StartFromDir takes the members from its spec and so ignores Dir,
// Members and Algorithm.
type Options struct {
	// Etcd is the command that runs etcd: a binary and any arguments that
	// come before etcd's flags, e.g. {"/usr/local/bin/etcd"}, or
	// {"/usr/local/bin/etcdpki", "etcd"} for the etcd server linked into
	// etcdpki. Required.
	Etcd []string
	// Subnet is the network's subnet (default DefaultSubnet).
	Subnet netip.Prefix
	// Dir holds the PKI (init's layout) and the members' data
	// (Dir/data/<member>); empty means a new temporary directory, removed
	// by Close. A PKI of the same members already there is reused.
	Dir string
	// Members is the number of members, 1 to local.MaxMembers (default
	// 3).
	Members int
	// Algorithm is the key algorithm of a new PKI (default
	// local.DefaultAlgorithm).
	Algorithm pki.Algorithm
	// ReadyTimeout bounds the wait for every member to become ready
	// (default DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// Verbose copies etcd's logs, each line prefixed with its member's
	// name, to LogWriter (os.Stderr when nil). They are kept in
	// Cluster.Logs either way.
	Verbose   bool
	LogWriter io.Writer
	// Configure, when set, adjusts each member's configuration before it
	// starts (demo uses it to break a flag).
	Configure func(*render.Config)
	// KeepNotReady makes StartFromDir return the running cluster together
	// with the *local.BootError when ReadyTimeout passes with members not
	// ready, so that a broken cluster can be probed as it is.
	KeepNotReady bool
}

func (o Options) withDefaults() Options {
	if !o.Subnet.IsValid() {
		o.Subnet = DefaultSubnet
	}
	if o.Members == 0 {
		o.Members = local.DefaultMembers
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
	if len(o.Etcd) == 0 || o.Etcd[0] == "" {
		return errors.New("no etcd command to run (Options.Etcd)")
	}
	if o.Members < 1 || o.Members > local.MaxMembers {
		return &spec.FieldError{Field: "members", Detail: fmt.Sprintf("%d out of range 1-%d", o.Members, local.MaxMembers)}
	}
	if o.Algorithm != "" {
		if _, err := pki.ParseAlgorithm(string(o.Algorithm)); err != nil {
			return &spec.FieldError{Field: "algorithm", Detail: err.Error()}
		}
	}
	return nil
}

// Spec is the cluster hosts mode runs: n members etcd-1…etcd-n, member i
// on the subnet's i-th address, on etcd's default ports (each member has
// its own host, so they all listen on 2379, 2380 and 2381). Every member
// also listens on its own 127.0.0.1:2379, as kubeadm's members do
// (render.ForMember, for a member not on loopback).
func Spec(n int, subnet netip.Prefix) (*spec.Cluster, error) {
	a, err := Plan(subnet, n)
	if err != nil {
		return nil, &spec.FieldError{Field: "subnet", Detail: err.Error()}
	}
	c := spec.Cluster{Name: "etcdpki-hosts", Algorithm: local.DefaultAlgorithm}
	for i, addr := range a.Members {
		c.Members = append(c.Members, spec.Member{Name: fmt.Sprintf("etcd-%d", i+1), IPs: []string{addr.String()}})
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
