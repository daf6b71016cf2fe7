package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/member"
)

func newRotateCACmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "rotate-ca",
		Short: "Replace the etcd CA in stages, with a rolling restart and no downtime",
		Long: `Rotate the etcd CA of init's output directory in three stages, each rolled
out member by member (--member), so that a cluster restarted one member at a
time never loses quorum and clients never lose the cluster:

  stage     make the new CA (once, in <dir>/ca-next) and make each member's
            ca.crt the bundle old+new; then restart each member, one at a
            time: etcd reads its trusted CA file only when it starts
  reissue   sign each member's leaves with the new CA; no restart: etcd
            reads its certificate and key on every handshake
  finalize  make each member's ca.crt and ca.key the new CA's; then restart
            each member, one at a time; when every member is finalized the
            new CA becomes <dir>/ca and the old one is kept in
            <dir>/ca-retired until status --live sees every member refuse it
  status    each member's stage, from its files, and what is safe next;
            --live: which members still need a restart

kube-apiserver reads --etcd-cafile (the same ca.crt) only at start too:
restart it with its node's etcd after stage (and after finalize, so that it
too stops trusting the old CA).

Other etcd clients with a copy of ca.crt of their own (backup jobs,
monitoring, CNI plugins, ...) must trust the bundle that stage writes,
<dir>/ca-next/bundle.crt, before reissue, from which members serve
certificates of the new CA; once every member does, they can trust the new
CA alone. A client certificate of the old CA is refused by each member once
it restarts after finalize.

On member directories (DIR..., as 'etcdpki check' reads them, or --local)
the same steps run on each node's own files, one CA for both ports: the new
CA and the bundle for the node's other etcd clients are kept in the node's
/var/lib/etcdpki/ca-next, the retired CA in /var/lib/etcdpki/ca-retired
(docs/day2.md).

Steps run out of order are refused: reissue until every member trusts the
new CA, finalize while any member has a leaf of the old CA. reissue and
finalize also check the running members first (TLS handshakes with every
member's client and peer URL, with client certificates made for the purpose
and never written) and refuse, one line per member, while a member is
unreachable or runs with the trust of the previous stage: reissue needs every
port to accept the new CA (the member was restarted after stage), finalize
every port to serve it. --offline skips that check, with a warning: nothing
then knows whether the members were restarted. Every replaced file is backed
up to <dir>/backups/.`,
		Example: `  etcdpki rotate-ca stage --dir pki
  etcdpki rotate-ca status --dir pki --live
  etcdpki rotate-ca reissue --dir pki
  etcdpki rotate-ca finalize --dir pki --member cp1
  etcdpki rotate-ca status --dir pki --live      # after the restarts: forgets the old CA`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withHint(usagef("rotate-ca needs a step: stage, reissue, finalize or status"), "etcdpki help rotate-ca")
		},
	}
	dirFlag(cmd.PersistentFlags(), &dir)
	cmd.AddCommand(
		rotateStep("stage", "Make the new CA and make each member's ca.crt trust old and new", `  etcdpki rotate-ca stage --dir pki
  etcdpki rotate-ca stage --dir pki --member cp1   # one member at a time`, &dir),
		rotateStep("reissue", "Sign each member's leaves with the new CA", `  etcdpki rotate-ca reissue --dir pki               # refused unless every running member trusts the new CA
  etcdpki rotate-ca reissue --dir pki --member cp2 --reuse-key
  etcdpki rotate-ca reissue --dir pki --offline     # files only: nothing checks the running members`, &dir),
		rotateStep("finalize", "Make each member trust only the new CA; end the rotation", `  etcdpki rotate-ca finalize --dir pki --member cp1 # refused unless every running member serves the new CA
  etcdpki rotate-ca finalize --dir pki`, &dir),
		rotateStatusCmd(&dir))
	return cmd
}

// rotateStep is the command of one rotation step.
func rotateStep(step, short, example string, dir *string) *cobra.Command {
	var (
		members []string
		opts    lifecycle.RotateOptions
		live    bool
		out     outputFlag
		nf      nodeFlags
	)
	cmd := &cobra.Command{
		Use:     step + " [DIR...]",
		Short:   short,
		Long:    short + ".\n\nSee 'etcdpki help rotate-ca' for the order of the steps and the restarts between them.",
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if err := memberNamesFlag(members...); err != nil {
				return err
			}
			if err := out.validate(); err != nil {
				return err
			}
			if live && opts.Offline {
				return usagef("--live and --offline contradict each other (the live check is the default; --offline skips it)")
			}
			if live {
				fmt.Fprintln(cmd.ErrOrStderr(), "etcdpki: warning: --live is deprecated: the live check is the default now (--offline skips it)")
			}
			opts.Members = members
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if ms, err := nf.members(cmd, dirs, members); err != nil || ms != nil {
				if err != nil {
					return err
				}
				return rotateNodes(ctx, cmd, step, ms, opts, out)
			}
			var res *lifecycle.RotateResult
			var err error
			switch step {
			case "stage":
				res, err = lifecycle.Stage(*dir, opts)
			case "reissue":
				res, err = lifecycle.Reissue(ctx, *dir, opts)
			default:
				res, err = lifecycle.Finalize(ctx, *dir, opts)
			}
			if err != nil {
				return lifecycleErr(err)
			}
			if res.Unchecked {
				fmt.Fprintf(cmd.ErrOrStderr(), "etcdpki: warning: --offline: nothing checked the running members; %s\n", offlineRisk[step])
			}
			doc := rotateDoc{
				Step: step, filesDoc: newFilesDoc(&res.Result), Changed: orEmpty(res.Changed), Issued: issuedDocs(res.Issued),
				CreatedCA: res.CreatedCA, NewCA: res.NewCA, Promoted: res.Promoted, Bundle: res.Bundle,
				ForgotRetired: res.ForgotRetired, Unchecked: res.Unchecked, Status: res.Status,
			}
			return out.write(cmd.OutOrStdout(), doc, func(w io.Writer) error { return printRotate(w, step, res) })
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&members, "member", "m", nil, "this member only: its `NAME` (not NAME=IP; repeatable)")
	out.register(cmd)
	nf.register(cmd)
	if step == "reissue" {
		f.BoolVar(&opts.ReuseKey, "reuse-key", false, "keep each leaf's key")
	}
	if step != "stage" {
		f.BoolVar(&opts.Offline, "offline", false, "go by the files alone: skip the check of the running members (TLS handshakes with every member's client and peer URL)")
		f.DurationVar(&opts.LiveTimeout, "timeout", 2*time.Second, "bound on each handshake of the live check")
		// --live asked for the check before it was the default.
		f.BoolVar(&live, "live", false, "deprecated: the live check is the default")
		_ = f.MarkHidden("live")
	}
	return cmd
}

// offlineRisk is what an --offline step leaves unchecked, by step.
var offlineRisk = map[string]string{
	"reissue":  "reissue is safe only if every member has been restarted since its stage (etcd reads its trusted CA file only at start); otherwise those members refuse the new leaves",
	"finalize": "finalize is safe only if every member serves its reissued certificates; a finalized member refuses the old CA's once restarted",
}

// rotateDoc is the -o json and yaml document of a rotation step.
type rotateDoc struct {
	Step string `json:"step"`
	filesDoc
	// Changed lists the members this run moved to the step's stage.
	Changed []string    `json:"changed"`
	Issued  []issuedDoc `json:"issued"`
	// CreatedCA is true when stage made the new CA; NewCA is its
	// SHA-256 fingerprint.
	CreatedCA bool   `json:"createdCA,omitempty"`
	NewCA     string `json:"newCA,omitempty"`
	// Promoted is true when finalize made the new CA <dir>/ca.
	Promoted bool `json:"promoted,omitempty"`
	// Bundle is the bundle old+new that stage wrote for the other etcd
	// clients.
	Bundle string `json:"bundle,omitempty"`
	// ForgotRetired is the fingerprint of an earlier rotation's retired
	// CA that stage forgot.
	ForgotRetired string `json:"forgotRetired,omitempty"`
	// Unchecked is true when --offline skipped the live check.
	Unchecked bool                      `json:"unchecked,omitempty"`
	Status    *lifecycle.RotationStatus `json:"status,omitempty"`
}

// printRotate writes a rotation step's text.
func printRotate(w io.Writer, step string, res *lifecycle.RotateResult) error {
	switch step {
	case "stage":
		if res.ForgotRetired != "" {
			fmt.Fprintf(w, "forgot the CA the last rotation retired (SHA-256 %s): the restarts after this stage end every member's trust in it\n", res.ForgotRetired)
		}
		verb := "reused"
		if res.CreatedCA {
			verb = "created"
		}
		fmt.Fprintf(w, "new CA %s (%s)\n", verb, "SHA-256 "+res.NewCA)
		if len(res.Changed) > 0 {
			fmt.Fprintf(w, "staged %s: ca.crt now trusts the old and the new CA\n", strings.Join(res.Changed, ", "))
		}
		fmt.Fprintf(w, "bundle of the old and the new CA for the other etcd clients: %s\n", res.Bundle)
	case "reissue":
		if len(res.Issued) > 0 {
			fmt.Fprintf(w, "reissued %s with the new CA:\n", count(len(res.Issued), "certificate"))
			printIssued(w, res.Issued, true)
		}
	default:
		if len(res.Changed) > 0 {
			fmt.Fprintf(w, "finalized %s: ca.crt and ca.key are the new CA's only\n", strings.Join(res.Changed, ", "))
		}
		if res.Promoted {
			fmt.Fprintf(w, "the new CA is now %s; the rotation is complete in the files\n", filepath.Join(res.Dir, "ca"))
			fmt.Fprintf(w, "the old CA is kept in %s until 'rotate-ca status --live' sees every member refuse it\n", lifecycle.RetiredCADir(res.Dir))
		}
	}
	if len(res.Changed) == 0 && !res.Promoted {
		fmt.Fprintf(w, "nothing to %s: every selected member is past this step\n", step)
	}
	printBackup(w, &res.Result)
	bundle := lifecycle.BundlePath(res.Dir)
	switch {
	case step == "stage" && len(res.Changed) > 0:
		fmt.Fprintf(w, "\nNow, one member at a time: copy its tree to its node and restart etcd (and kube-apiserver) there;\n"+
			"etcd reads its trusted CA file only when it starts. 'rotate-ca status --live' shows who has; reissue\n"+
			"refuses until every member has.\n"+
			"Before reissue, every other etcd client with a copy of ca.crt of its own (backup jobs, monitoring,\n"+
			"CNI plugins, ...) must trust %s: from reissue on, members serve certificates of the new CA.\n", bundle)
	case step == "reissue" && len(res.Changed) > 0:
		fmt.Fprintf(w, "\nCopy the trees to the nodes; no restart: etcd reads its certificate and key on every handshake.\n"+
			"Every other etcd client must trust %s (stage wrote it) by now.\n", bundle)
	case step == "finalize" && len(res.Changed) > 0:
		newCA := filepath.Join(lifecycle.NextCADir(res.Dir), "ca.crt")
		if res.Promoted {
			newCA = filepath.Join(res.Dir, "ca", "ca.crt")
		}
		fmt.Fprintf(w, "\nNow, one member at a time: copy its tree to its node and restart etcd (and kube-apiserver) there,\n"+
			"so that it trusts only the new CA; 'rotate-ca status --live' shows who still needs it.\n"+
			"The other etcd clients can trust the new CA alone (%s) now: every member serves its\n"+
			"certificates. A client certificate of the old CA is refused by each member once it restarts.\n", newCA)
	}
	if res.Status != nil {
		fmt.Fprintln(w)
		return res.Status.WriteText(w)
	}
	return nil
}

func rotateStatusCmd(dir *string) *cobra.Command {
	var (
		live    bool
		timeout time.Duration
		out     outputFlag
		nf      nodeFlags
	)
	cmd := &cobra.Command{
		Use:   "status [DIR...]",
		Short: "Show each member's rotation stage, from its files, and what is safe next",
		Long: `Show where a CA rotation stands: each member's stage as its files say
(old, staged, reissuing, reissued, finalized, or inconsistent), and the step
that is safe next. With --live, also what each running member serves and
which CA's client certificates it accepts (TLS handshakes with short-lived
client certificates made for the purpose), which tells whether a member was
restarted since its ca.crt changed: status then names each member that still
needs a restart (after stage: it does not accept the new CA yet; after
finalize: it still accepts the old one), and next is "restart" until none
does. After the last finalize the old CA is kept in <dir>/ca-retired; the
first status --live that sees every member refuse it removes it (backed up
to <dir>/backups/). Exit status 1 when a member is inconsistent.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if ms, err := nf.members(cmd, dirs, nil); err != nil || ms != nil {
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				if ctx == nil {
					ctx = context.Background()
				}
				st, err := lifecycle.StatusNodes(ctx, ms, live, timeout)
				if err != nil {
					return lifecycleErr(err)
				}
				if err := out.write(cmd.OutOrStdout(), st, func(w io.Writer) error { printNodeStatus(w, st); return nil }); err != nil {
					return err
				}
				if st.Next == lifecycle.StepFix {
					return &silentError{code: exitFailure}
				}
				return nil
			}
			var st *lifecycle.RotationStatus
			var err error
			if live {
				ctx := cmd.Context()
				if ctx == nil {
					ctx = context.Background()
				}
				st, err = lifecycle.StatusLive(ctx, *dir, timeout)
			} else {
				st, err = lifecycle.Status(*dir)
			}
			if err != nil {
				return lifecycleErr(err)
			}
			if err := out.write(cmd.OutOrStdout(), st, st.WriteText); err != nil {
				return err
			}
			if st.Next == lifecycle.StepFix {
				return &silentError{code: exitFailure}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&live, "live", false, "also handshake with every member's client and peer URL: who still needs a restart")
	f.DurationVar(&timeout, "timeout", 2*time.Second, "bound on each handshake of --live")
	out.register(cmd)
	nf.register(cmd)
	return cmd
}

// nodeFlags are the flags that make a rotation step work on member
// directories: DIR... as check reads them, --local, --root, --layout and
// --etcd-flags.
type nodeFlags struct {
	mf    memberFlags
	local bool
	root  string
}

func (f *nodeFlags) register(cmd *cobra.Command) {
	f.mf.registerLayout(cmd)
	cmd.Flags().BoolVar(&f.local, "local", false, "rotate this node's member directory in place (see --root)")
	cmd.Flags().StringVar(&f.root, "root", "/", "the node's root directory that --local reads")
}

// members reads the member directories given, nil when none are (init's
// output, --dir); names limits them to those members.
func (f *nodeFlags) members(cmd *cobra.Command, dirs, names []string) ([]*member.Member, error) {
	if f.local {
		dirs = append(dirs, f.root)
	}
	if len(dirs) == 0 {
		return nil, nil
	}
	if cmd.Flags().Changed("dir") {
		return nil, usagef("give --dir or member directories, not both")
	}
	for _, d := range dirs {
		if _, err := lifecycle.Open(d); err == nil {
			return nil, withHint(usagef("%s is init's output: give it as --dir %s", d, d), "member directories are node trees, as check reads them")
		}
	}
	ms, err := f.mf.load(dirs)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return ms, nil
	}
	var out []*member.Member
	for _, m := range ms {
		if slices.Contains(names, m.Name) {
			out = append(out, m)
		}
	}
	if len(out) != len(names) {
		return nil, usagef("--member %s: not every name is one of the members given", strings.Join(names, ", "))
	}
	return out, nil
}

// rotateNodes runs a rotation step on member directories.
func rotateNodes(ctx context.Context, cmd *cobra.Command, step string, ms []*member.Member, opts lifecycle.RotateOptions, out outputFlag) error {
	var res *lifecycle.NodeRotateResult
	var err error
	switch step {
	case "stage":
		res, err = lifecycle.StageNodes(ms, opts)
	case "reissue":
		res, err = lifecycle.ReissueNodes(ctx, ms, opts)
	default:
		res, err = lifecycle.FinalizeNodes(ctx, ms, opts)
	}
	if err != nil {
		return lifecycleErr(err)
	}
	if res.Unchecked {
		fmt.Fprintf(cmd.ErrOrStderr(), "etcdpki: warning: --offline: nothing checked the running members; %s\n", offlineRisk[step])
	}
	type memberDoc struct {
		Member string `json:"member"`
		filesDoc
		Changed bool        `json:"changed"`
		Issued  []issuedDoc `json:"issued,omitempty"`
		Bundle  string      `json:"bundle,omitempty"`
	}
	doc := struct {
		Step      string                        `json:"step"`
		NewCA     string                        `json:"newCA"`
		CreatedCA bool                          `json:"createdCA,omitempty"`
		Unchecked bool                          `json:"unchecked,omitempty"`
		Members   []memberDoc                   `json:"members"`
		Status    *lifecycle.NodeRotationStatus `json:"status,omitempty"`
	}{Step: step, NewCA: res.NewCA, CreatedCA: res.CreatedCA, Unchecked: res.Unchecked, Status: res.Status}
	for _, m := range res.Members {
		doc.Members = append(doc.Members, memberDoc{Member: m.Member, filesDoc: newFilesDoc(&m.Result), Changed: m.Changed, Issued: issuedDocs(m.Issued), Bundle: m.Bundle})
	}
	return out.write(cmd.OutOrStdout(), doc, func(w io.Writer) error {
		if step == "stage" {
			verb := "reused"
			if res.CreatedCA {
				verb = "created"
			}
			fmt.Fprintf(w, "new CA %s (SHA-256 %s), kept in each node's %s\n", verb, res.NewCA, "/var/lib/etcdpki/ca-next")
		}
		for _, m := range res.Members {
			switch {
			case !m.Changed:
				fmt.Fprintf(w, "%s: nothing to %s\n", m.Member, step)
			case step == "stage":
				fmt.Fprintf(w, "%s: staged, its trusted CA file now trusts the old and the new CA; bundle for the node's other etcd clients: %s\n", m.Member, m.Bundle)
			case step == "reissue":
				fmt.Fprintf(w, "%s: reissued %s with the new CA\n", m.Member, count(len(m.Issued), "certificate"))
			default:
				fmt.Fprintf(w, "%s: finalized, its CA file and key are the new CA's only (the old pair kept in /var/lib/etcdpki/ca-retired)\n", m.Member)
			}
			printBackup(w, &m.Result)
		}
		switch step {
		case "stage":
			fmt.Fprintf(w, "\nNow restart each staged member (etcd, then kube-apiserver), one at a time: etcd reads its trusted CA\n"+
				"file only at start. Before reissue, every other etcd client with its own copy of the CA must trust the bundle.\n")
		case "reissue":
			fmt.Fprintf(w, "\nNo restart needed: etcd reads its certificate and key on every handshake (restart kube-apiserver\n"+
				"for its renewed client certificate).\n")
		case "finalize":
			fmt.Fprintf(w, "\nNow restart each finalized member (etcd, then kube-apiserver), one at a time, so that it trusts only\n"+
				"the new CA; 'rotate-ca status --live' with the same directories confirms it and forgets the retired CA.\n")
		}
		if res.Status != nil {
			fmt.Fprintln(w)
			printNodeStatus(w, res.Status)
		}
		return nil
	})
}

// printNodeStatus writes a rotation's status across member directories.
func printNodeStatus(w io.Writer, st *lifecycle.NodeRotationStatus) {
	if st.InProgress {
		fmt.Fprintf(w, "CA rotation in progress (new CA SHA-256 %s)\n", st.New)
	} else {
		fmt.Fprintf(w, "no CA rotation in progress\n")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "MEMBER\tSTAGE\tTRUSTS\tRUNNING\n")
	running := map[string]string{}
	for _, r := range st.Running {
		switch {
		case r.Problem != "":
			running[r.Member] = r.Problem
		default:
			running[r.Member] = "ok"
		}
	}
	for _, m := range st.Members {
		stage := string(m.Stage)
		if m.Problem != "" {
			stage += ": " + m.Problem
		}
		run := running[m.Name]
		if run == "" {
			run = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, stage, strings.Join(m.Trusts, "+"), run)
	}
	tw.Flush()
	for _, r := range st.Running {
		if !slices.ContainsFunc(st.Members, func(m lifecycle.MemberStatus) bool { return m.Name == r.Member }) && r.Problem != "" {
			fmt.Fprintf(w, "%s (not given): %s\n", r.Member, r.Problem)
		}
	}
	fmt.Fprintf(w, "next: %s — %s\n", st.Next, st.Advice)
}
