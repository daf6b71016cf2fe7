package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Options configure a demo run.
type Options struct {
	// Fault is a Faults name; empty runs the healthy cluster.
	Fault string
	// Dir keeps the PKI, manifests and data; empty means a temporary
	// directory, removed afterwards. It must not hold a PKI already.
	Dir string
	// BasePort: client port, peer port +1, metrics +2 (default 2379).
	BasePort int
	// ReadyTimeout is how long members get to form (default 3s): a member
	// that cannot join is never ready, so this is also how long a broken
	// demo waits.
	ReadyTimeout time.Duration
	// Verbose copies etcd's logs to LogWriter.
	Verbose   bool
	LogWriter io.Writer

	// Hosts is ModeNetns to run every member on a host of its own
	// (package hosts: a network namespace each, a separate etcd process),
	// or empty for the in-process loopback cluster. BasePort does not
	// apply there: each member has etcd's ports on its own address.
	Hosts string
	// Subnet and Etcd are hosts.Options': the members' subnet (default
	// hosts.DefaultSubnet) and the command that runs etcd (required in
	// hosts mode).
	Subnet netip.Prefix
	Etcd   []string
}

// ModeNetns is Options.Hosts for hosts mode.
const ModeNetns = "netns"

// Modes of a Result.
const (
	ModeLoopback = "loopback"
)

// Members is the size of the demo cluster: the smallest that keeps a
// quorum when one member is broken.
const Members = 3

// Result is what each side said about the fault.
type Result struct {
	Fault *Fault `json:"fault,omitempty"`
	// Mode is ModeLoopback or ModeNetns.
	Mode string `json:"mode"`
	Dir  string `json:"dir"`
	// Check is the offline audit of the files, Probe the live one.
	Check *audit.Report `json:"check"`
	Probe *probe.Report `json:"probe"`
	// Etcd is what etcd logged as going wrong (warnings and errors that
	// carry an error), one line per member and message.
	Etcd []string `json:"etcd"`
	// NotReady lists the members that did not become ready.
	NotReady []string `json:"notReady,omitempty"`
	// Formed is true when a quorum of members became ready.
	Formed bool `json:"formed"`
	// Clients has, per member, the error of a write and read through it
	// with its apiserver-etcd-client cert ("" for success).
	Clients map[string]string `json:"clients"`
	// Served is true when every member served the client.
	Served bool `json:"served"`
	// Gateway has, per member, the error of a read through etcd's
	// HTTP/JSON API (the grpc-gateway, which dials the member's own client
	// port with --cert-file or --client-cert-file); GatewayServes is true
	// when every member served it.
	Gateway       map[string]string `json:"gateway"`
	GatewayServes bool              `json:"gatewayServes"`
	// Local has, in hosts mode, per member, the error of a write and read
	// through https://127.0.0.1:2379 from inside the member's own host,
	// as kube-apiserver on a stacked control plane does it ("" for
	// success); LocalServes is true when every ready member served it.
	Local       map[string]string `json:"local,omitempty"`
	LocalServes bool              `json:"localServes,omitempty"`
}

// Hosts reports whether the result is of hosts mode.
func (r *Result) Hosts() bool { return r.Mode == ModeNetns }

// Run boots the demo cluster with opts.Fault and collects what check,
// probe, etcd and a client say.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.BasePort == 0 {
		opts.BasePort = spec.DefaultClientPort
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 3 * time.Second
	}
	if opts.Hosts != "" && opts.Hosts != ModeNetns {
		return nil, fmt.Errorf("unknown kind of host %q (the one there is: %s)", opts.Hosts, ModeNetns)
	}
	var fault *Fault
	if opts.Fault != "" {
		f, err := LookupFault(opts.Fault)
		if err != nil {
			return nil, err
		}
		fault = f
	}
	out := opts.Dir
	if out == "" {
		d, release, err := local.TempDir("etcdpki-demo-")
		if err != nil {
			return nil, err
		}
		defer release()
		out = d
	} else if _, err := os.Stat(layout.SpecFile(out)); err == nil {
		return nil, fmt.Errorf("%s already holds a PKI; demo needs a directory of its own", out)
	}
	c, err := demoSpec(opts)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ir, err := layout.Init(c, out, layout.InitOptions{Now: now})
	if err != nil {
		return nil, err
	}
	var configure func(*render.Config)
	if fault != nil {
		if fault.apply != nil {
			if err := fault.apply(&env{out: out, spec: c, ca: ir.CA, now: now}); err != nil {
				return nil, fmt.Errorf("breaking the PKI (%s): %w", fault.Name, err)
			}
		}
		configure = fault.configure
	}
	if err := writeManifests(out, c, configure); err != nil {
		return nil, err
	}

	res := &Result{Fault: fault, Mode: ModeLoopback, Dir: out, Clients: map[string]string{}, Gateway: map[string]string{}}
	if opts.Hosts != "" {
		res.Mode = opts.Hosts
	}
	if res.Check, err = audit.CheckDirs([]string{out}, audit.Options{Now: now}); err != nil {
		return nil, err
	}

	cl, err := startCluster(ctx, out, c, opts, configure)
	var be *local.BootError
	switch {
	case err == nil:
	case errors.As(err, &be) && cl != nil:
		res.NotReady = be.NotReady
	case errors.As(err, &be):
		// A member failed outright (etcd refused its own files).
		res.Etcd = be.Problems()
		if len(res.Etcd) == 0 {
			res.Etcd = []string{be.Error()}
		}
		res.Clients["*"] = "the cluster did not start: " + be.Error()
		return res, nil
	default:
		return nil, err
	}
	defer cl.Close()
	res.Formed = len(res.NotReady) <= Members/2
	res.Served = serveAll(ctx, cl, res.Clients, serveOne)
	// A member that is not ready serves nothing; the gateway and local
	// questions are about the members that are.
	ready := func(serve serveFunc) serveFunc {
		return func(ctx context.Context, cl cluster, name string) error {
			if slices.Contains(res.NotReady, name) {
				return nil
			}
			return serve(ctx, cl, name)
		}
	}
	res.GatewayServes = serveAll(ctx, cl, res.Gateway, ready(gatewayRead))
	if hc, ok := cl.(*hosts.Cluster); ok {
		res.Local = map[string]string{}
		res.LocalServes = serveAll(ctx, cl, res.Local, ready(func(ctx context.Context, _ cluster, name string) error {
			return localServe(ctx, hc, name)
		}))
	}
	// What etcd logged so far; the probe's own deliberate refusals (no
	// client cert, a foreign CA, TLS 1.1) come after and are left out.
	res.Etcd = cl.Problems()

	l, _ := layout.ForName(c.Layout)
	root := layout.MemberDir(out, "etcd-1")
	pr, err := probe.Run(ctx, probe.Options{
		Endpoints: cl.Endpoints(),
		CACert:    layout.OnDisk(root, l.CertPath(pki.KindCA)),
		Cert:      layout.OnDisk(root, l.CertPath(pki.KindHealthcheckClient)),
		Key:       layout.OnDisk(root, l.KeyPath(pki.KindHealthcheckClient)),
		Timeout:   time.Second,
		Now:       now,
	})
	if err != nil {
		return nil, err
	}
	res.Probe = pr
	return res, nil
}

// writeManifests puts each member's kubeadm-style static pod manifest in
// its tree, as on a real node, so that check reads the flags (and the
// addresses) the member runs with.
func writeManifests(out string, c *spec.Cluster, configure func(*render.Config)) error {
	for _, m := range c.Members {
		rc, err := render.ForMember(c, m.Name, render.Options{})
		if err != nil {
			return err
		}
		if configure != nil {
			configure(rc)
		}
		man, err := rc.Manifest(c, "")
		if err != nil {
			return err
		}
		p := layout.OnDisk(layout.MemberDir(out, m.Name), "/etc/kubernetes/manifests/etcd.yaml")
		if err := layout.WriteFile(p, man, layout.KeyPerm); err != nil {
			return err
		}
	}
	return nil
}

// RuleIDs returns the sorted distinct rule IDs of a report's findings,
// leaving out notes and the warning about near expiry.
func RuleIDs(r *audit.Report) []audit.RuleID {
	if r == nil {
		return nil
	}
	var ids []audit.RuleID
	for _, id := range r.RuleIDs() {
		if lr, ok := audit.LookupRule(id); ok && lr.Severity == audit.Info {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func joinIDs(ids []audit.RuleID) string {
	if len(ids) == 0 {
		return "(none)"
	}
	var s []string
	for _, id := range ids {
		s = append(s, string(id))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
