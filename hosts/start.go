package hosts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Start generates (or reuses) the PKI of an opts.Members-member cluster
// (Spec) in opts.Dir, or in a new temporary directory, and boots it as
// StartFromDir does. It returns Supported's *PlatformError before it
// writes or creates anything.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	c, err := Spec(opts.Members, opts.Subnet)
	if err != nil {
		return nil, err
	}
	var alg pki.Algorithm
	if opts.Algorithm != "" {
		// validate has parsed it already.
		alg, _ = pki.ParseAlgorithm(string(opts.Algorithm))
	}
	dir, err := local.PreparePKI(opts.Dir, "etcdpki-hosts-", c, alg, reuseSpec)
	if err != nil {
		return nil, err
	}
	cl, err := StartFromDir(ctx, dir.Path, dir.Spec, opts)
	if cl == nil {
		dir.Remove()
		return nil, err
	}
	// With KeepNotReady a cluster comes back with its error, and its
	// Close removes the directory.
	cl.temp, cl.init = dir.Temp, dir.Init
	return cl, err
}

// reuseSpec returns the spec of the cluster already in dir, if there is
// one with exactly fresh's members and addresses (an earlier run with the
// same --members and --subnet), keeping its settings; fresh if dir holds
// none. Any other cluster there is refused: init would overwrite its
// cluster.yaml, and etcd would restart its data with the old membership.
func reuseSpec(dir string, fresh *spec.Cluster) (*spec.Cluster, error) {
	specFile := layout.SpecFile(dir)
	if _, err := os.Stat(specFile); errors.Is(err, os.ErrNotExist) {
		return fresh, nil
	}
	prev, err := spec.Load(specFile)
	if err != nil {
		return nil, fmt.Errorf("%s does not look like a directory of etcdpki up --hosts: %w", dir, err)
	}
	same := len(prev.Members) == len(fresh.Members) && prev.ClientPort == fresh.ClientPort &&
		prev.PeerPort == fresh.PeerPort && prev.MetricsPort == fresh.MetricsPort
	for i := 0; same && i < len(prev.Members); i++ {
		p, f := prev.Members[i], fresh.Members[i]
		same = p.Name == f.Name && slices.Equal(p.IPs, f.IPs) && len(p.DNSNames) == 0
	}
	if !same {
		return nil, &layout.ConflictError{Path: dir, Detail: fmt.Sprintf("holds the PKI of another cluster (%s), not of the one asked for (%s); use a directory of its own",
			describeMembers(prev), describeMembers(fresh))}
	}
	return prev, nil
}

func describeMembers(c *spec.Cluster) string {
	var s []string
	for _, m := range c.Members {
		s = append(s, m.Name+"="+strings.Join(append(slices.Clone(m.IPs), m.DNSNames...), ","))
	}
	return strings.Join(s, " ")
}

// StartFromDir boots cluster c from the files in out, the output directory
// of layout.Init: it builds the network (NewNetwork), and starts each
// member as a separate etcd process inside its host, with its certificates
// from its own tree, out/<member>, its data in local.DataDir(out, member),
// and exactly the flags render.ForMember gives for it. Member i of c must
// have the subnet's i-th address, as Spec gives it.
//
// It returns when every member is ready, or a *local.BootError when one
// fails or opts.ReadyTimeout passes, after stopping every member and
// tearing down the network (with opts.KeepNotReady, a timeout returns the
// running cluster too). Close the returned Cluster to stop it.
func StartFromDir(ctx context.Context, out string, c *spec.Cluster, opts Options) (*Cluster, error) {
	opts = opts.withDefaults()
	if len(opts.Etcd) == 0 || opts.Etcd[0] == "" {
		return nil, errors.New("no etcd command to run (Options.Etcd)")
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	a, err := Plan(opts.Subnet, len(c.Members))
	if err != nil {
		return nil, &spec.FieldError{Field: "subnet", Detail: err.Error()}
	}
	var names []string
	var configs []*render.Config
	for i, m := range c.Members {
		if m.Name == "data" {
			// local.DataDir(out, m) would land inside that member's tree.
			return nil, &spec.FieldError{Field: "members", Detail: `a member called "data" clashes with the members' data directory`}
		}
		if want := a.Members[i].String(); m.AdvertiseHost() != want {
			return nil, fmt.Errorf("member %s has address %q; in subnet %s hosts mode gives member %d the address %s", m.Name, m.AdvertiseHost(), a.Subnet, i+1, want)
		}
		rc, err := render.ForMember(c, m.Name, render.Options{Root: layout.MemberDir(out, m.Name), DataDir: local.DataDir(out, m.Name)})
		if err != nil {
			return nil, err
		}
		if opts.Configure != nil {
			opts.Configure(rc)
		}
		names = append(names, m.Name)
		configs = append(configs, rc)
	}
	if err := os.MkdirAll(filepath.Join(out, "data"), layout.DirPerm); err != nil {
		return nil, err
	}
	n, err := NewNetwork(ctx, opts.Subnet, names)
	if err != nil {
		return nil, err
	}
	core, logs := newObserver()
	cl := &Cluster{spec: c, out: out, net: n, logs: logs, opts: opts}
	for i, rc := range configs {
		cl.members = append(cl.members, &member{cfg: rc, host: &n.Hosts[i]})
	}
	if err := cl.boot(ctx, core); err != nil {
		var be *local.BootError
		if errors.As(err, &be) {
			be.Logs = logs
			if opts.KeepNotReady && len(be.NotReady) > 0 && be.Err == nil {
				return cl, err
			}
		}
		cl.Close()
		return nil, err
	}
	return cl, nil
}
