package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// DataDir is where a member's etcd --data-dir lives in a cluster's
// directory.
func DataDir(out, member string) string { return filepath.Join(out, "data", member) }

// Start generates (or reuses) a PKI for an opts.Members-member loopback
// cluster in opts.Dir, or in a new temporary directory, and boots it as
// StartFromDir does. A PKI already in opts.Dir is reused as layout.Init
// reuses it: the CA is kept and missing members are added.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c, err := spec.Loopback(opts.Members, opts.ClientPort, opts.PeerPort, opts.MetricsPort)
	if err != nil {
		return nil, err
	}
	c.Algorithm = DefaultAlgorithm
	var alg pki.Algorithm
	if opts.Algorithm != "" {
		// validate has parsed it already.
		alg, _ = pki.ParseAlgorithm(string(opts.Algorithm))
	}
	dir, err := PreparePKI(opts.Dir, "etcdpki-up-", c, alg, reuseSpec)
	if err != nil {
		return nil, err
	}
	cl, err := StartFromDir(ctx, dir.Path, dir.Spec, opts)
	if cl == nil {
		dir.Remove()
		return nil, err
	}
	// With KeepNotReady a cluster comes back with its error: the caller
	// owns it, and its Close removes the directory (as hosts.Start).
	cl.temp, cl.init = dir.Temp, dir.Init
	return cl, err
}

// reuseSpec returns the spec for running fresh's members in dir. A
// cluster.yaml already there (from an earlier up, or from init with
// loopback members) keeps its settings (layout, split credentials, key
// algorithm, validity); fresh gives the members and ports. It refuses a
// dir that holds another cluster's PKI, whose cluster.yaml init would
// overwrite, and data of a cluster with other members or ports, which etcd
// would restart with the old membership and never become ready.
func reuseSpec(dir string, fresh *spec.Cluster) (*spec.Cluster, error) {
	specFile := layout.SpecFile(dir)
	if _, err := os.Stat(specFile); errors.Is(err, os.ErrNotExist) {
		return fresh, nil
	}
	prev, err := spec.Load(specFile)
	if err != nil {
		return nil, fmt.Errorf("%s does not look like a directory of etcdpki up: %w", dir, err)
	}
	want := map[string]string{}
	for _, m := range fresh.Members {
		want[m.Name] = strings.Join(m.IPs, ",")
	}
	for _, m := range prev.Members {
		if ips, ok := want[m.Name]; len(m.DNSNames) > 0 || (ok && ips != strings.Join(m.IPs, ",")) || (!ok && !m.OnLoopback()) {
			// A directory etcdpki refuses to touch: a usage error (exit 2).
			return nil, &layout.ConflictError{Path: dir, Detail: fmt.Sprintf("holds the PKI of another cluster (members %s), not of local members on 127.0.0.x; use a directory of its own",
				memberList(prev))}
		}
	}
	sameMembers := len(prev.Members) == len(fresh.Members)
	samePorts := prev.ClientPort == fresh.ClientPort && prev.PeerPort == fresh.PeerPort && prev.MetricsPort == fresh.MetricsPort
	if !sameMembers || !samePorts {
		for _, m := range prev.Members {
			if _, err := os.Stat(DataDir(dir, m.Name)); err == nil {
				return nil, &layout.ConflictError{Path: dir, Detail: fmt.Sprintf("holds the data of a %d-member cluster on ports %d/%d/%d, which etcd would restart as it was; use another directory, or remove %s",
					len(prev.Members), prev.ClientPort, prev.PeerPort, prev.MetricsPort, filepath.Dir(DataDir(dir, m.Name)))}
			}
		}
	}
	c := *prev
	c.Members = fresh.Members
	c.ClientPort, c.PeerPort, c.MetricsPort = fresh.ClientPort, fresh.PeerPort, fresh.MetricsPort
	return &c, nil
}

func memberList(c *spec.Cluster) string {
	var names []string
	for _, m := range c.Members {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}

// StartFromDir boots cluster c (complete, as spec.Load or spec.Loopback
// return it) from the files in out, the output directory of layout.Init
// (init): every member reads its certificates from its own
// tree, out/<member>, with the configuration render.ForMember gives, and
// keeps its data in DataDir(out, member). The members' addresses must be
// on this host (127.0.0.x for a loopback spec).
//
// Every member is started before StartFromDir waits for any, because none
// becomes ready before a quorum has joined. It returns when every member
// is ready, or a *BootError when one fails or opts.ReadyTimeout passes,
// after stopping every member it started (with opts.KeepNotReady, a
// timeout returns the running cluster too); a *BindError, before starting
// any, when an address is taken. Close the returned Cluster to stop it.
func StartFromDir(ctx context.Context, out string, c *spec.Cluster, opts Options) (*Cluster, error) {
	opts = opts.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	configs, err := memberConfigs(out, c)
	if err != nil {
		return nil, err
	}
	if opts.Configure != nil {
		for _, rc := range configs {
			opts.Configure(rc)
		}
	}
	return startConfigs(ctx, out, c, configs, opts)
}

// startConfigs boots members with configs, their data under out/data, as
// StartFromDir describes; c is the cluster's spec, nil when the members
// came from their own trees (StartFrom).
func startConfigs(ctx context.Context, out string, c *spec.Cluster, configs []*render.Config, opts Options) (*Cluster, error) {
	if err := preflight(configs); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(out, "data"), layout.DirPerm); err != nil {
		return nil, err
	}
	var w = opts.LogWriter
	if !opts.Verbose {
		w = nil
	}
	lg, logs := newLogger(w)
	cl := &Cluster{spec: c, out: out, logs: logs, lg: lg, opts: opts}
	if err := cl.boot(ctx, configs, lg, opts.ReadyTimeout, opts.KeepNotReady); err != nil {
		var be *BootError
		if errors.As(err, &be) {
			be.Logs, be.stopped = logs, cl.stopped
			if opts.KeepNotReady && len(be.NotReady) > 0 && be.Err == nil {
				return cl, err
			}
		}
		return nil, err
	}
	return cl, nil
}

// memberConfigs renders every member's configuration with its files in
// its tree under out and its data in DataDir(out, member).
func memberConfigs(out string, c *spec.Cluster) ([]*render.Config, error) {
	var configs []*render.Config
	for _, m := range c.Members {
		if m.Name == "data" {
			// DataDir(out, m) would land inside that member's tree.
			return nil, &spec.FieldError{Field: "members", Detail: `a member called "data" clashes with the data directory of the local cluster`}
		}
		rc, err := render.ForMember(c, m.Name, render.Options{Root: layout.MemberDir(out, m.Name), DataDir: DataDir(out, m.Name)})
		if err != nil {
			return nil, err
		}
		configs = append(configs, rc)
	}
	return configs, nil
}
