package demo

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// cluster is what demo needs of a running cluster: the in-process loopback
// one (*local.Cluster) or one in hosts mode (*hosts.Cluster).
type cluster interface {
	Members() []string
	Endpoints() []string
	Config(name string) *render.Config
	ClientTLS(member string, kind pki.Kind) (*tls.Config, error)
	Problems() []string
	Close() error
}

// demoSpec is the demo cluster: Members members on 127.0.0.1-3 from
// BasePort, or in hosts mode on the subnet's first addresses with etcd's
// default ports.
func demoSpec(opts Options) (*spec.Cluster, error) {
	var c *spec.Cluster
	var err error
	if opts.Hosts != "" {
		subnet := opts.Subnet
		if !subnet.IsValid() {
			subnet = hosts.DefaultSubnet
		}
		c, err = hosts.Spec(Members, subnet)
	} else {
		c, err = spec.Loopback(Members, opts.BasePort, opts.BasePort+1, opts.BasePort+2)
	}
	if err != nil {
		return nil, err
	}
	c.Name = "etcdpki-demo"
	c.Algorithm = pki.ECDSAP256
	return c, nil
}

// startCluster boots c from out in the mode opts ask for, keeping members
// that do not become ready running (KeepNotReady) so the broken cluster
// can be probed as it is. The cluster comes back with a *local.BootError
// when members did not become ready, nil with one when a member failed
// outright.
func startCluster(ctx context.Context, out string, c *spec.Cluster, opts Options, configure func(*render.Config)) (cluster, error) {
	if opts.Hosts == "" {
		cl, err := local.StartFromDir(ctx, out, c, local.Options{ReadyTimeout: opts.ReadyTimeout, KeepNotReady: true,
			Configure: configure, Verbose: opts.Verbose, LogWriter: opts.LogWriter})
		if cl == nil {
			return nil, err
		}
		return cl, err
	}
	if opts.Hosts != ModeNetns {
		return nil, fmt.Errorf("unknown kind of host %q", opts.Hosts)
	}
	cl, err := hosts.StartFromDir(ctx, out, c, hosts.Options{Etcd: opts.Etcd, Subnet: opts.Subnet, ReadyTimeout: opts.ReadyTimeout,
		KeepNotReady: true, Configure: configure, Verbose: opts.Verbose, LogWriter: opts.LogWriter})
	if cl == nil {
		return nil, err
	}
	return cl, err
}
