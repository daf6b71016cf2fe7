package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/member"
)

func newCollectCmd() *cobra.Command {
	var (
		mf    memberFlags
		local bool
		root  string
		out   string
	)
	cmd := &cobra.Command{
		Use:   "collect [DIR] [--local]",
		Short: "Write a bundle of a node's public PKI facts, for check on another machine without copying keys",
		Long: `Read a node's etcd PKI as check reads it (every layout check knows) and write
a bundle: JSON (schema ` + member.BundleSchema + `) with public facts only.
It holds every certificate (PEM); for each key file its type, size, public key
fingerprint and whether it matches its certificate, never a byte of the key;
file modes and owners; the member's etcd settings with where each came from;
kube-apiserver's etcd settings. check, expiry, graph and exporter take bundle
files in place of member directories, mixed with directories, and report the
same findings from them.

Run it on each node and bring the bundles to one machine, instead of copying
the nodes' /etc/kubernetes, with the CA key and admin.conf in it; or let
check, expiry and graph run it on each node over ssh (ssh://HOST members).`,
		Example: `  etcdpki collect --local -o /tmp/$(hostname).json        # on each node
  etcdpki check cp1.json cp2.json cp3.json                  # anywhere
  ssh cp1 etcdpki collect --local > cp1.json
  etcdpki check ssh://cp1 ssh://cp2 ssh://cp3               # the same, one command`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs := args
			if local {
				dirs = append(dirs, root)
			}
			if len(dirs) != 1 {
				return withHint(usagef("give one node's directory, or --local"), "collect reads one node; run it on each")
			}
			members, err := mf.load(dirs)
			if err != nil {
				return err
			}
			data, err := member.EncodeBundle(members, time.Now())
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(data)
				return err
			}
			// Public facts only: readable by the operator who collects.
			return layout.WriteFile(out, data, 0o644)
		},
	}
	f := cmd.Flags()
	mf.register(cmd)
	f.BoolVar(&local, "local", false, "collect this node: its distribution is detected from its files (see --root)")
	f.StringVar(&root, "root", "/", "the node's root directory that --local reads")
	f.StringVarP(&out, "out", "o", "", "write the bundle to `FILE` (atomically) instead of stdout")
	return cmd
}
