package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/lifecycle"
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
	)
	cmd := &cobra.Command{
		Use:     step,
		Short:   short,
		Long:    short + ".\n\nSee 'etcdpki help rotate-ca' for the order of the steps and the restarts between them.",
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	)
	cmd := &cobra.Command{
		Use:   "status",
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.validate(); err != nil {
				return err
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
	return cmd
}
