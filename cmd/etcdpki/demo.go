package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/demo"
	"github.com/etcdpki/etcdpki/spec"
)

func newDemoCmd() *cobra.Command {
	var (
		opts demo.Options
		list bool
		out  outputFlag
		hf   hostsFlags
	)
	cmd := &cobra.Command{
		Use:   "demo [--violate FAULT]",
		Short: "Break one condition of a local cluster's PKI and show what check, probe and etcd say",
		Long: `Boot a 3-member mutual-TLS etcd cluster in-process (as 'up' does) with exactly
one fault in its PKI or flags, and show side by side: the rules 'check'
reports on the files, what 'probe' sees on the running cluster, what etcd
itself logged, and whether the cluster formed and served clients (gRPC and
the HTTP/JSON gateway). Without --violate it shows the healthy cluster.

With --hosts netns (Linux, root, iproute2) every member runs on a host of
its own, as 'up --hosts netns' runs it: a separate etcd process in a network
namespace with its own address and its own 127.0.0.1. There etcd checks a
connecting member's certificate against its true address, and a client on
each member's host also dials https://127.0.0.1:2379 as kube-apiserver
does, so the R4 faults show what they do on real nodes.

Exit status 0 when everything behaved as the fault predicts, 1 otherwise.`,
		Example: `  etcdpki demo --list
  etcdpki demo --violate r2-own-ca
  etcdpki demo --violate peer-no-clientauth --verbose
  sudo etcdpki demo --hosts netns --violate r4-peer-address`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if list {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				for _, f := range demo.Faults {
					fmt.Fprintf(tw, "%s\t%s\n", f.Name, f.Summary)
				}
				return tw.Flush()
			}
			if opts.Fault != "" {
				if _, err := demo.LookupFault(opts.Fault); err != nil {
					return withHint(usageErr(err), "etcdpki demo --list")
				}
			}
			if err := out.validate(); err != nil {
				return err
			}
			opts.LogWriter = cmd.ErrOrStderr()
			if !cmd.Flags().Changed("base-port") {
				opts.BasePort = spec.DefaultClientPort
			}
			if hopts, ok, err := hf.options(cmd); err != nil {
				return err
			} else if ok {
				opts.Hosts, opts.Subnet, opts.Etcd = demo.ModeNetns, hopts.Subnet, hopts.Etcd
			}
			r, err := demo.Run(cmd.Context(), opts)
			if err != nil {
				return upStartError(cmd.Context(), err, cmd.ErrOrStderr())
			}
			if err := out.write(w, r, r.WriteText); err != nil {
				return err
			}
			for _, v := range r.Compare() {
				if !v.OK {
					return &silentError{code: exitFailure}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Fault, "violate", "", "the `FAULT` to introduce (see --list)")
	f.BoolVar(&list, "list", false, "list the faults")
	f.IntVar(&opts.BasePort, "base-port", spec.DefaultClientPort, "client port of every member; peer port +1, metrics +2")
	f.StringVar(&opts.Dir, "dir", "", "keep the PKI, manifests and data in this new `DIR` (default a temp dir, removed)")
	f.DurationVar(&opts.ReadyTimeout, "timeout", 3*time.Second, "how long members get to form")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "copy etcd's logs to stderr")
	out.register(cmd)
	hf.add(f)
	return cmd
}
