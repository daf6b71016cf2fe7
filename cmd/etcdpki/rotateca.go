package main

import (
	"context"
	"fmt"
	"io"
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
            new CA becomes <dir>/ca
  status    each member's stage, from its files, and what is safe next

kube-apiserver reads --etcd-cafile (the same ca.crt) only at start too:
restart it with its node's etcd after stage.

Steps run out of order are refused: reissue until every member trusts the
new CA, finalize while any member has a leaf of the old CA. --live checks the
running members too (reissue: every port accepts the new CA; finalize: every
port serves it), which is the only way to know a member was restarted.
Every replaced file is backed up to <dir>/backups/.`,
		Example: `  etcdpki rotate-ca stage --dir pki
  etcdpki rotate-ca status --dir pki --live
  etcdpki rotate-ca reissue --dir pki --live
  etcdpki rotate-ca finalize --dir pki --member cp1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withHint(usagef("rotate-ca needs a step: stage, reissue, finalize or status"), "etcdpki help rotate-ca")
		},
	}
	dirFlag(cmd.PersistentFlags(), &dir)
	cmd.AddCommand(
		rotateStep("stage", "Make the new CA and make each member's ca.crt trust old and new", `  etcdpki rotate-ca stage --dir pki
  etcdpki rotate-ca stage --dir pki --member cp1   # one member at a time`, &dir),
		rotateStep("reissue", "Sign each member's leaves with the new CA", `  etcdpki rotate-ca reissue --dir pki --live      # refuse unless every running member trusts the new CA
  etcdpki rotate-ca reissue --dir pki --member cp2 --reuse-key`, &dir),
		rotateStep("finalize", "Make each member trust only the new CA; end the rotation", `  etcdpki rotate-ca finalize --dir pki --member cp1
  etcdpki rotate-ca finalize --dir pki --live     # refuse unless every running member serves the new CA`, &dir),
		rotateStatusCmd(&dir))
	return cmd
}

// rotateStep is the command of one rotation step.
func rotateStep(step, short, example string, dir *string) *cobra.Command {
	var (
		members []string
		opts    lifecycle.RotateOptions
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
			doc := rotateDoc{
				Step: step, filesDoc: newFilesDoc(&res.Result), Changed: orEmpty(res.Changed), Issued: issuedDocs(res.Issued),
				CreatedCA: res.CreatedCA, NewCA: res.NewCA, Promoted: res.Promoted, Status: res.Status,
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
		f.BoolVar(&opts.Live, "live", false, "refuse unless the running members are ready (TLS handshakes with every member's client and peer URL)")
		f.DurationVar(&opts.LiveTimeout, "timeout", 2*time.Second, "bound on each handshake of --live")
	}
	return cmd
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
	Promoted bool                      `json:"promoted,omitempty"`
	Status   *lifecycle.RotationStatus `json:"status,omitempty"`
}

// printRotate writes a rotation step's text.
func printRotate(w io.Writer, step string, res *lifecycle.RotateResult) error {
	switch step {
	case "stage":
		verb := "reused"
		if res.CreatedCA {
			verb = "created"
		}
		fmt.Fprintf(w, "new CA %s (%s)\n", verb, "SHA-256 "+res.NewCA)
		if len(res.Changed) > 0 {
			fmt.Fprintf(w, "staged %s: ca.crt now trusts the old and the new CA\n", strings.Join(res.Changed, ", "))
		}
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
			fmt.Fprintf(w, "the new CA is now %s/ca; the rotation is complete\n", res.Dir)
		}
	}
	if len(res.Changed) == 0 && !res.Promoted {
		fmt.Fprintf(w, "nothing to %s: every selected member is past this step\n", step)
	}
	printBackup(w, &res.Result)
	switch {
	case step == "stage" && len(res.Changed) > 0:
		fmt.Fprintf(w, "\nNow, one member at a time: copy its tree to its node and restart etcd (and kube-apiserver) there;\netcd reads its trusted CA file only when it starts. 'rotate-ca status --live' shows who has.\n")
	case step == "reissue" && len(res.Changed) > 0:
		fmt.Fprintf(w, "\nCopy the trees to the nodes; no restart: etcd reads its certificate and key on every handshake.\n")
	case step == "finalize" && len(res.Changed) > 0:
		fmt.Fprintf(w, "\nNow, one member at a time: copy its tree to its node and restart etcd there, so it trusts only the new CA.\n")
	}
	if res.Status != nil {
		fmt.Fprintln(w)
		return res.Status.WriteText(w, nil)
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
restarted since its ca.crt changed. Exit status 1 when a member is
inconsistent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			st, err := lifecycle.Status(*dir)
			if err != nil {
				return lifecycleErr(err)
			}
			var ports []lifecycle.PortLive
			if live {
				ctx := cmd.Context()
				if ctx == nil {
					ctx = context.Background()
				}
				if ports, err = lifecycle.CheckLive(ctx, *dir, timeout); err != nil {
					return err
				}
			}
			doc := struct {
				*lifecycle.RotationStatus
				Live []lifecycle.PortLive `json:"live,omitempty"`
			}{st, ports}
			if err := out.write(cmd.OutOrStdout(), doc, func(w io.Writer) error { return st.WriteText(w, ports) }); err != nil {
				return err
			}
			if st.Next == lifecycle.StepFix {
				return &silentError{code: exitFailure}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&live, "live", false, "also handshake with every member's client and peer URL")
	f.DurationVar(&timeout, "timeout", 2*time.Second, "bound on each handshake of --live")
	out.register(cmd)
	return cmd
}
