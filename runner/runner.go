// Package runner is the one way etcdpki runs an etcd cluster of its own:
// one Options, one Cluster interface, two runners. In-process (package
// local) runs every member with etcd's embed package on 127.0.0.x. Hosts
// mode (package hosts) runs every member as a separate etcd process in a
// Linux network namespace of its own. up and demo start clusters through
// it and use them through the interface; the runners' verification dials
// through internal/tlsdial, the one TLS dial-and-judge helper.
package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Cluster is a running cluster, whichever runner runs it.
type Cluster interface {
	// Members are the member names; Endpoints their client URLs, in the
	// same order; Config what a member runs with.
	Members() []string
	Endpoints() []string
	Config(name string) *render.Config
	// ClientTLS is a client configuration with the CA and the client
	// certificate of kind from member's own files.
	ClientTLS(member string, kind pki.Kind) (*tls.Config, error)
	// StopMember, StartMember and RestartMember stop a member as its
	// node's init would, start it again from its files and data (waiting
	// until it is ready), or both: etcd reads its trusted CAs only when
	// it starts.
	StopMember(name string) error
	StartMember(ctx context.Context, name string) error
	RestartMember(ctx context.Context, name string) error
	// Status is what each member does and serves now.
	Status(ctx context.Context) []local.MemberStatus
	// Verify writes and reads back a key through every member.
	Verify(ctx context.Context) error
	// Wait blocks until ctx ends (nil) or a member fails on its own.
	Wait(ctx context.Context) error
	// Problems are the warnings and errors etcd logged with an error.
	Problems() []string
	// Spec is the cluster's spec (nil for members booted from their own
	// trees); Dir where its PKI and data are; Temporary whether Close
	// removes Dir; InitResult what generating the PKI did (nil when it
	// was not generated here).
	Spec() *spec.Cluster
	Dir() string
	Temporary() bool
	InitResult() *layout.InitResult
	// Close stops every member and removes what the run made.
	Close() error
}

// Both runners, and the cluster of the user's own trees, are Clusters.
var (
	_ Cluster = (*local.Cluster)(nil)
	_ Cluster = (*hosts.Cluster)(nil)
	_ Cluster = (*local.FromCluster)(nil)
	_ Cluster = (*hosts.FromCluster)(nil)
)

// Mode is the runner.
type Mode string

// The runners.
const (
	// InProcess runs every member in this process (etcd's embed) on
	// 127.0.0.1, 127.0.0.2, …
	InProcess Mode = ""
	// Netns runs every member as an etcd process in a network namespace
	// of its own (Linux, root, iproute2).
	Netns Mode = "netns"
)

// Options configure a cluster, whichever runner runs it.
type Options struct {
	Mode Mode
	// Dir keeps the PKI and data (empty: a temporary directory Close
	// removes); Members and Algorithm are the new PKI's.
	Dir       string
	Members   int
	Algorithm pki.Algorithm
	// ClientPort, PeerPort and MetricsPort are every member's ports in
	// process (each member on its own 127.0.0.x); hosts mode uses etcd's
	// defaults on every host.
	ClientPort, PeerPort, MetricsPort int
	// Subnet and Etcd are hosts mode's: the members' subnet and the
	// command that runs etcd.
	Subnet netip.Prefix
	Etcd   []string
	// ReadyTimeout bounds the wait for every member to become ready.
	ReadyTimeout time.Duration
	// Verbose copies etcd's logs to LogWriter.
	Verbose   bool
	LogWriter io.Writer
	// Configure adjusts each member's configuration before it boots.
	Configure func(*render.Config)
	// KeepNotReady returns a cluster whose members did not all become
	// ready together with the *local.BootError, instead of stopping it:
	// the caller then owns it and must Close it.
	KeepNotReady bool
}

// ErrMode is returned for an unknown Mode.
var ErrMode = errors.New("unknown kind of host")

func (o Options) local() local.Options {
	return local.Options{Dir: o.Dir, Members: o.Members, Algorithm: o.Algorithm, ClientPort: o.ClientPort, PeerPort: o.PeerPort, MetricsPort: o.MetricsPort,
		ReadyTimeout: o.ReadyTimeout, Verbose: o.Verbose, LogWriter: o.LogWriter, Configure: o.Configure, KeepNotReady: o.KeepNotReady}
}

func (o Options) hosts() hosts.Options {
	return hosts.Options{Dir: o.Dir, Members: o.Members, Algorithm: o.Algorithm, Subnet: o.Subnet, Etcd: o.Etcd,
		ReadyTimeout: o.ReadyTimeout, Verbose: o.Verbose, LogWriter: o.LogWriter, Configure: o.Configure, KeepNotReady: o.KeepNotReady}
}

// Start generates (or reuses) a PKI in opts.Dir and boots it with the
// runner of opts.Mode. Its errors are the runner's: a *local.BootError
// when members do not become ready (with the cluster too, when
// opts.KeepNotReady), a *local.BindError for a taken address, hosts'
// PlatformError and SubnetInUseError, ErrMode for an unknown mode.
func Start(ctx context.Context, opts Options) (Cluster, error) {
	switch opts.Mode {
	case InProcess:
		return wrap(local.Start(ctx, opts.local()))
	case Netns:
		return wrap(hosts.Start(ctx, opts.hosts()))
	}
	return nil, fmt.Errorf("%w %q (the one there is: %s)", ErrMode, opts.Mode, Netns)
}

// StartFromDir boots cluster c from init's output out with the runner of
// opts.Mode; the errors are Start's.
func StartFromDir(ctx context.Context, out string, c *spec.Cluster, opts Options) (Cluster, error) {
	switch opts.Mode {
	case InProcess:
		return wrap(local.StartFromDir(ctx, out, c, opts.local()))
	case Netns:
		return wrap(hosts.StartFromDir(ctx, out, c, opts.hosts()))
	}
	return nil, fmt.Errorf("%w %q (the one there is: %s)", ErrMode, opts.Mode, Netns)
}

// wrap returns a runner's cluster as a Cluster: nil, not a nil pointer in
// a non-nil interface, when there is none.
func wrap[C interface {
	Cluster
	comparable
}](cl C, err error) (Cluster, error) {
	var zero C
	if cl == zero {
		return nil, err
	}
	return cl, err
}
