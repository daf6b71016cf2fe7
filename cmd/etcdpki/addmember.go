package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

func newAddMemberCmd() *cobra.Command {
	var (
		dir, pkiDir, out, config, member, format, image string
	)
	cmd := &cobra.Command{
		Use:   "add-member",
		Short: "Issue a new member's certificates from the cluster's existing CA",
		Long: `Issue the certificates of a new member from the existing etcd CA, the
kubeadm join case, and print how to join it to the running cluster.

From init's output directory (--dir), the member's tree is written to
<dir>/<member> and the member is added to <dir>/cluster.yaml. From a node's
PKI directory (--pki /etc/kubernetes/pki, with etcd/ca.crt and etcd/ca.key,
or an etcd-layout /etc/etcd/pki), the tree is written to <out>/<member>; the
new member is checked against --config, or else against the node's own
member as its server certificate names it.

A name or address that another member has is refused (exit 2) and nothing is
written. The new member's flags have --initial-cluster-state=existing and an
--initial-cluster that lists every member, itself included, as etcd requires
of a member that joins.`,
		Example: `  etcdpki add-member --dir pki --member cp4=10.0.0.14
  etcdpki add-member --pki /etc/kubernetes/pki --member cp4=10.0.0.14 --out join
  etcdpki add-member --dir pki --member cp4=10.0.0.14 --format manifest`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if member == "" {
				return usagef("--member NAME=IP[,IP|DNS…] is required")
			}
			m, err := spec.ParseMember(member)
			if err != nil {
				return err
			}
			if _, ok := formatIntro[format]; !ok {
				return usagef("unknown --format %q (want cmdline, manifest or config)", format)
			}
			var res *lifecycle.AddMemberResult
			switch {
			case dir != "" && pkiDir != "":
				return usagef("give --dir or --pki, not both")
			case pkiDir != "":
				var opts lifecycle.AddMemberOptions
				if config != "" {
					if opts.Cluster, err = spec.Load(config); err != nil {
						return err
					}
				}
				if out == "" {
					out = "."
				}
				res, err = lifecycle.AddMemberFromPKI(pkiDir, out, m, opts)
			default:
				if config != "" || out != "" {
					return usagef("--config and --out go with --pki; with --dir the spec is <dir>/cluster.yaml and the member's tree goes to <dir>/<member>")
				}
				if dir == "" {
					dir = "."
				}
				res, err = lifecycle.AddMember(dir, m, lifecycle.AddMemberOptions{})
			}
			if spec.IsValidationError(err) {
				hint := "a new member needs a name and addresses of its own"
				if dir != "" {
					hint += "; the members are in " + layout.SpecFile(dir)
				}
				return withHint(err, hint)
			}
			if err != nil {
				return lifecycleErr(err)
			}
			return printAddMember(cmd, res, dir, format, image)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&dir, "dir", "d", "", "init's output `DIR` (default .)")
	f.StringVar(&pkiDir, "pki", "", "a node's PKI `DIR` instead, e.g. /etc/kubernetes/pki")
	f.StringVarP(&out, "out", "o", "", "with --pki: where the new member's tree goes (`DIR`/<member>; default .)")
	f.StringVarP(&config, "config", "c", "", "with --pki: the cluster spec `FILE`, to check the new member against every member")
	f.StringVarP(&member, "member", "m", "", "the new member as `NAME=IP[,IP|DNS…]`")
	f.StringVar(&format, "format", "cmdline", "the new member's configuration as: cmdline, manifest or config")
	f.StringVar(&image, "image", render.DefaultImage, "etcd image for --format manifest")
	return cmd
}

func printAddMember(cmd *cobra.Command, res *lifecycle.AddMemberResult, dir, format, image string) error {
	w := cmd.OutOrStdout()
	c := res.Spec
	m, _ := c.Member(res.Member)
	addrs := strings.Join(append(append([]string{}, m.IPs...), m.DNSNames...), ", ")
	if dir != "" {
		fmt.Fprintf(w, "added member %s (%s) to %s\n", m.Name, addrs, layout.SpecFile(dir))
	} else {
		fmt.Fprintf(w, "issued the certificates of member %s (%s)\n", m.Name, addrs)
	}
	fmt.Fprintf(w, "wrote %d files under %s:\n", len(res.Written), res.Root)
	printIssued(w, res.Issued, false)
	printBackup(w, &res.Result)

	learner, _ := lifecycle.MemberAddCommand(c, m.Name, true)
	voter, _ := lifecycle.MemberAddCommand(c, m.Name, false)
	fmt.Fprintf(w, "\nNext:\n")
	fmt.Fprintf(w, "  1. copy %s/ to %s's / (e.g. rsync -a %s/ root@%s:/); keys stay 0600\n", res.Root, m.Name, res.Root, m.AdvertiseHost())
	fmt.Fprintf(w, "  2. on a running member, announce %s to the cluster, as a learner (as kubeadm does since 1.29):\n       %s\n", m.Name, learner)
	fmt.Fprintf(w, "     or as a voting member at once:\n       %s\n", voter)
	if dir != "" {
		fmt.Fprintf(w, "     (etcdctl's environment: eval \"$(etcdpki flags --dir %s --member %s --format etcdctl)\")\n", dir, c.Members[0].Name)
	}
	fmt.Fprintf(w, "  3. start etcd on %s with %s:\n\n", m.Name, formatIntro[format])
	if dir == "" && len(c.Members) == 2 {
		fmt.Fprintf(w, "     (--initial-cluster here knows only this node's member; use the ETCD_INITIAL_CLUSTER that member add prints, or give --config)\n\n")
	}
	out, err := renderFormat(c, m.Name, format, image, render.Options{Existing: true})
	if err != nil {
		return err
	}
	w.Write(out)
	fmt.Fprintf(w, "\n  4. once it has caught up, promote a learner: etcdctl member promote <the ID member add printed>\n")
	fmt.Fprintf(w, "     (etcd refuses until the learner is in sync with the leader; retry)\n")
	return nil
}

// formatIntro names what each --format of add-member prints.
var formatIntro = map[string]string{
	"cmdline":  "these flags",
	"manifest": "this static pod (/etc/kubernetes/manifests/etcd.yaml)",
	"config":   "this --config-file",
}
