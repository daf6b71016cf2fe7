package demo

import (
	"context"
	"fmt"

	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/runner"
	"github.com/etcdpki/etcdpki/spec"
)

// cluster is a running demo cluster, in process or in hosts mode: the one
// cluster interface of package runner.
type cluster = runner.Cluster

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
	ro := runner.Options{ReadyTimeout: opts.ReadyTimeout, KeepNotReady: true, Configure: configure, Verbose: opts.Verbose, LogWriter: opts.LogWriter}
	switch opts.Hosts {
	case "":
	case ModeNetns:
		ro.Mode, ro.Etcd, ro.Subnet = runner.Netns, opts.Etcd, opts.Subnet
	default:
		return nil, fmt.Errorf("unknown kind of host %q", opts.Hosts)
	}
	return runner.StartFromDir(ctx, out, c, ro)
}
