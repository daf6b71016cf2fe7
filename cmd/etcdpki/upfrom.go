package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/runner"
	"github.com/etcdpki/etcdpki/spec"
)

// upFromFlags are up's flags that --from uses.
type upFromFlags struct {
	dirs          []string
	mf            *memberFlags
	basePort      int
	dir           string
	once, verbose bool
	timeout       time.Duration
	control       string
	// hosts is hosts mode's options, nil in process.
	hosts *hosts.Options
}

// runUpFrom is up --from: the user's own member trees, booted as they are
// on 127.0.0.1.
func runUpFrom(cmd *cobra.Command, f upFromFlags) error {
	for _, name := range []string{"members", "algo"} {
		if cmd.Flags().Changed(name) {
			return usagef("--%s is for a PKI up makes; --from runs the members, certificates and keys of the trees as they are", name)
		}
	}
	ms, err := f.mf.load(f.dirs)
	if err != nil {
		return err
	}
	plan, err := local.PlanFrom(ms, local.FromOptions{BasePort: f.basePort})
	if err != nil {
		return usageErr(err)
	}
	start := func(ctx context.Context) (runner.Cluster, error) {
		var cl interface {
			runner.Cluster
			local.FromTrees
		}
		var err error
		if f.hosts != nil {
			ho := *f.hosts
			ho.Dir, ho.ReadyTimeout, ho.Verbose, ho.LogWriter = f.dir, f.timeout, f.verbose, cmd.ErrOrStderr()
			var hc *hosts.FromCluster
			if hc, err = hosts.StartFrom(ctx, plan, ho); hc != nil {
				cl = hc
			}
		} else {
			var lc *local.FromCluster
			if lc, err = local.StartFrom(ctx, plan, local.Options{Dir: f.dir, ReadyTimeout: f.timeout, Verbose: f.verbose, LogWriter: cmd.ErrOrStderr()}); lc != nil {
				cl = lc
			}
		}
		if err != nil {
			var be *local.BootError
			if errors.As(err, &be) {
				writeNotJoined(cmd.ErrOrStderr(), be, ms)
			}
			if cl != nil {
				cl.Close()
			}
			return nil, err
		}
		return &fromUp{Cluster: cl, from: cl, members: ms}, nil
	}
	return runUp(cmd, start, f.once, f.hosts != nil, controlPath(f.control, f.dir))
}

// writeNotJoined says which members did not join and why, in check's
// rule IDs: the findings check makes of those members' trees, and what
// explain makes of etcd's own lines.
func writeNotJoined(w io.Writer, be *local.BootError, ms []*member.Member) {
	failed := append([]string(nil), be.NotReady...)
	if be.Member != "" {
		failed = append(failed, be.Member)
	}
	rep := audit.Check(ms, audit.Options{})
	for _, name := range failed {
		fmt.Fprintf(w, "etcdpki: member %s did not join:\n", name)
		n := 0
		for _, f := range rep.Findings {
			if f.Member == name && f.Severity == audit.Error {
				fmt.Fprintf(w, "  %s %s: %s\n", f.Rule, f.File, f.Detail)
				n++
			}
		}
		if n == 0 {
			fmt.Fprintln(w, "  check finds no error in its tree; etcd's lines below say why")
		}
	}
	seen := map[audit.RuleID]bool{}
	for _, line := range be.Problems() {
		if p := audit.Explain(line).Primary(); p != nil && !seen[p.Rule.ID] {
			seen[p.Rule.ID] = true
			fmt.Fprintf(w, "etcdpki: etcd: %s\n  explain: %s\n", line, p.Rule.ID)
		}
	}
}

// fromUp is a cluster of the user's trees, as up shows it.
type fromUp struct {
	runner.Cluster
	from    local.FromTrees
	members []*member.Member
}

// Plan is what each member runs with, and where.
func (fu *fromUp) Plan() []*local.FromMember { return fu.from.Plan() }

// VerifyNames verifies every serving certificate with the real names.
func (fu *fromUp) VerifyNames(ctx context.Context) []local.NameCheck { return fu.from.VerifyNames(ctx) }

// Spec is nil: the members come from their trees, not from a spec.
func (fu *fromUp) Spec() *spec.Cluster { return nil }

// InitResult is nil: nothing was generated.
func (fu *fromUp) InitResult() *layout.InitResult { return nil }

// printStart prints the remapping: each member's real addresses and the
// local ports it runs on.
func (fu *fromUp) printStart(w io.Writer) {
	plan := fu.Plan()
	fmt.Fprintf(w, "%d members from their own trees, on this machine (their certificates, keys and CAs read in place, nothing in the trees written; data in %s):\n", len(plan), fu.Dir())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, fm := range plan {
		layout := fm.Layout
		if layout == "" {
			layout = "?"
		}
		as := ""
		if fm.PeerName != "" {
			as = " as " + fm.PeerName
		}
		fmt.Fprintf(tw, "  %s\t%s (%s)\tclient %s → %s:%d\tpeer %s → %s:%d%s\n", fm.Name, fm.Dir, layout,
			hostList(fm.ClientHosts), fm.Here, fm.ClientPort, hostList(fm.PeerHosts), fm.Here, fm.PeerPort, as)
	}
	tw.Flush()
}

func hostList(h []string) string {
	if len(h) == 0 {
		return "(none)"
	}
	return strings.Join(h, ",")
}

// verifyNames prints each member's serving certificates verified with
// its real addresses as the TLS server name, and whether all passed.
func (fu *fromUp) verifyNames(ctx context.Context, w io.Writer) bool {
	checks := fu.VerifyNames(ctx)
	fmt.Fprintln(w, "serving certificates, verified with each member's real addresses as the TLS server name (dialing where each runs here):")
	ok := true
	by := map[string][]local.NameCheck{}
	for _, nc := range checks {
		by[nc.Member] = append(by[nc.Member], nc)
	}
	for _, fm := range fu.Plan() {
		var parts []string
		var fails []string
		for _, nc := range by[fm.Name] {
			if nc.Err == "" {
				parts = append(parts, nc.Port+" "+nc.Host+" ok")
				continue
			}
			ok = false
			rule := ""
			if p := audit.Explain(nc.Port + " port: " + nc.Err).Primary(); p != nil {
				rule = string(p.Rule.ID) + " "
			}
			parts = append(parts, nc.Port+" "+nc.Host+" FAIL")
			fails = append(fails, fmt.Sprintf("    %s port as %s: %s%s", nc.Port, nc.Host, rule, nc.Err))
		}
		fmt.Fprintf(w, "  %s  %s\n", fm.Name, strings.Join(parts, ", "))
		for _, f := range fails {
			fmt.Fprintln(w, f)
		}
	}
	return ok
}

// printEtcdctl prints etcdctl's environment for the first member, with
// the files of its own tree.
func (fu *fromUp) printEtcdctl(w io.Writer) {
	fm := fu.Plan()[0]
	fmt.Fprintf(w, "\netcdctl, with %s's files:\n\n", fm.Name)
	var eps []string
	for _, p := range fu.Plan() {
		eps = append(eps, p.Config.AdvertiseClientURLs[0])
	}
	if hc, ok := fu.Cluster.(*hosts.FromCluster); ok {
		// The members are reached by names only their hosts resolve.
		fmt.Fprintf(w, "\nthe members are reached by the names their certificates have, which their hosts resolve; from %s's host:\n\n", fm.Name)
		fmt.Fprintf(w, "ip netns exec %s etcdctl --endpoints %s --cacert %s --cert %s --key %s member list -w table\n",
			hc.Network().Hosts[0].Netns, strings.Join(eps, ","), fm.ClientCA, fm.ClientCert, fm.ClientKey)
		return
	}
	fmt.Fprint(w, render.ExportLines([]string{
		"ETCDCTL_ENDPOINTS=" + strings.Join(eps, ","),
		"ETCDCTL_CACERT=" + fm.ClientCA,
		"ETCDCTL_CERT=" + fm.ClientCert,
		"ETCDCTL_KEY=" + fm.ClientKey,
	}))
	fmt.Fprintln(w, "etcdctl member list -w table")
}

// controlArg is the flag a control command needs to find this up's
// socket, or nothing for the default.
func controlArg(path, dir string) string {
	switch path {
	case local.DefaultControlSocket():
		return ""
	case filepath.Join(dir, "control.sock"):
		return " --dir " + dir
	}
	return " --control " + path
}

// newUpControlCmds are up status, stop, start and restart: they drive a
// running up through its control socket.
func newUpControlCmds() []*cobra.Command {
	mk := func(op, short, long string) *cobra.Command {
		var (
			dir, control string
			force        bool
			out          outputFlag
		)
		use := op + " MEMBER"
		args := cobra.ExactArgs(1)
		if op == "status" {
			use, args = "status", cobra.NoArgs
		}
		cmd := &cobra.Command{
			Use:   use,
			Short: short,
			Long:  long,
			Args:  args,
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := out.validate(); err != nil {
					return err
				}
				req := local.ControlRequest{Op: op, Force: force}
				if len(args) > 0 {
					req.Member = args[0]
				}
				timeout := 2 * time.Minute
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				defer cancel()
				resp, err := local.Control(ctx, controlPath(control, dir), req)
				if err != nil {
					return err
				}
				return out.write(cmd.OutOrStdout(), resp, func(w io.Writer) error {
					if op != "status" {
						fmt.Fprintf(w, "%s %s: done in %s\n", op, req.Member, resp.Took.Round(time.Millisecond))
					}
					writeStatus(w, resp.Members)
					return nil
				})
			},
		}
		f := cmd.Flags()
		f.StringVarP(&dir, "dir", "d", "", "the --dir the up runs with")
		f.StringVar(&control, "control", "", "the up's control `SOCKET` (default: DIR/control.sock with --dir, else "+local.DefaultControlSocket()+")")
		if op == "stop" {
			f.BoolVar(&force, "force", false, "stop the member even when the members left running are fewer than a quorum (the cluster stops serving)")
		}
		out.register(cmd)
		return cmd
	}
	return []*cobra.Command{
		mk("status", "List the members of a running up and what each serves", "List the members of the running up: running or stopped, ready, leader, its URLs, and the\ncertificate its client port serves now (etcd reads it per handshake)."),
		mk("stop", "Stop one member of a running up", "Stop one member of the running up, as etcd stops on SIGTERM. Refused when the members left\nrunning would be fewer than a quorum, unless --force."),
		mk("start", "Start a stopped member of a running up", "Start a member stopped with 'up stop' from its files and data, and wait until it is ready."),
		mk("restart", "Restart one member of a running up, re-reading its files", "Stop one member and start it again from the same files and data, and wait until it is\nready: etcd reads its trusted CA files only at start, so this is the restart a CA rotation\nneeds after stage, reissue and finalize."),
	}
}

// writeStatus prints the members' status as a table.
func writeStatus(w io.Writer, ms []local.MemberStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTATE\tCLIENT\tPEER\tSERVES")
	for _, m := range ms {
		state := "stopped"
		switch {
		case m.Running && m.Ready && m.Leader:
			state = "leader"
		case m.Running && m.Ready:
			state = "ready"
		case m.Running:
			state = "starting"
		}
		serves := "-"
		if s := m.Serving; s != nil {
			serves = fmt.Sprintf("serial %s, issuer %s, expires %s", s.Serial, s.Issuer, s.NotAfter.UTC().Format("2006-01-02"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, state, m.ClientURL, m.PeerURL, serves)
	}
	tw.Flush()
}
