package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

func newAddMemberCmd() *cobra.Command {
	var (
		dir, pkiDir, out, config, member, format, image, root string
		versions                                              render.Options
		output                                                outputFlag
		mf                                                    memberFlags
		local                                                 bool
	)
	cmd := &cobra.Command{
		Use:   "add-member [DIR...]",
		Short: "Issue a new member's certificates from the cluster's existing CA",
		Long: `Issue the certificates of a new member from the existing etcd CA, the
kubeadm join case, and print how to join it to the running cluster.

From member directories (DIR..., read as 'etcdpki check' reads them: copies
or mounts of the running members' nodes, kubeadm or etcdadm; --local for
this node), the first that holds the CA's key signs, the tree is written to
<out>/<member> in their layout, and the new member's --initial-cluster names
every member of the directories and of their --initial-cluster. A name the
cluster has already is refused: a rebuilt node is replaced
(etcdpki replace-member), not added.

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
		Example: `  etcdpki add-member cp1/ cp2/ cp3/ --member cp4=10.0.0.14 --out join
  etcdpki add-member --local --member cp4=10.0.0.14 --out join   # on a control-plane node
  etcdpki add-member --dir pki --member cp4=10.0.0.14
  etcdpki add-member --pki /etc/kubernetes/pki --member cp4=10.0.0.14 --out join
  etcdpki add-member --dir pki --member cp4=10.0.0.14 --format manifest`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if member == "" {
				return usagef("--member NAME=IP[,IP|DNS…] is required")
			}
			if err := checkVersions(versions, dir); err != nil {
				return err
			}
			if local {
				dirs = append(dirs, root)
			}
			if err := output.validate(); err != nil {
				return err
			}
			m, err := spec.ParseMember(member)
			if err != nil {
				return memberDefHint(err)
			}
			if _, ok := formatIntro[format]; !ok {
				return usagef("unknown --format %q (want cmdline, manifest or config)", format)
			}
			var res *lifecycle.AddMemberResult
			switch {
			case len(dirs) > 0 && (cmd.Flags().Changed("dir") || pkiDir != ""):
				return usagef("give member directories, --dir or --pki, not two of them")
			case len(dirs) > 0:
				dir = ""
				if out == "" {
					out = "."
				}
				mf.config = config
				ms, lerr := mf.load(dirs)
				if lerr != nil {
					return lerr
				}
				res, err = lifecycle.AddMemberFromNodes(ms, m, out, lifecycle.AddMemberOptions{})
			case cmd.Flags().Changed("dir") && pkiDir != "":
				return usagef("give --dir or --pki, not both")
			case pkiDir != "":
				dir = ""
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
			conf, err := renderFormat(res.Spec, res.Member, format, image, render.Options{Existing: true, EtcdVersion: versions.EtcdVersion, KubernetesVersion: versions.KubernetesVersion})
			if err != nil {
				return err
			}
			return output.write(cmd.OutOrStdout(), newAddMemberDoc(res, dir, format, conf), func(w io.Writer) error {
				printAddMember(w, res, dir, format, conf)
				return nil
			})
		},
	}
	f := cmd.Flags()
	dirFlag(f, &dir)
	f.StringVar(&pkiDir, "pki", "", "a node's PKI `DIR` instead of --dir, e.g. /etc/kubernetes/pki")
	f.StringVar(&out, "out", "", "with --pki: where the new member's tree goes (`DIR`/<member>; default .)")
	f.StringVarP(&config, "config", "c", "", "with --pki: the cluster spec `FILE`, to check the new member against every member")
	f.StringVarP(&member, "member", "m", "", "the new member, defined as `NAME=IP[,IP|DNS…]`")
	f.StringVar(&format, "format", "cmdline", "the new member's configuration as: cmdline, manifest or config")
	imageFlag(f, &image)
	versionFlags(f, &versions)
	f.BoolVar(&local, "local", false, "read this node's tree (see --root) as the running member that signs")
	f.StringVar(&root, "root", "/", "the node's root directory that --local reads")
	mf.registerLayout(cmd)
	output.register(cmd)
	return cmd
}

// addMemberDoc is add-member's -o json and yaml document: what
// printAddMember says.
type addMemberDoc struct {
	Member   string   `json:"member"`
	IPs      []string `json:"ips,omitempty"`
	DNSNames []string `json:"dnsNames,omitempty"`
	// SpecFile is the cluster.yaml the member was added to (with --dir).
	SpecFile string `json:"specFile,omitempty"`
	// Root is the member's tree, to be copied to its node's /.
	Root string `json:"root"`
	filesDoc
	Issued []issuedDoc `json:"issued"`
	// MemberAdd is the etcdctl command that announces the member to the
	// running cluster, as a learner and as a voting member.
	MemberAdd struct {
		Learner string `json:"learner"`
		Voter   string `json:"voter"`
	} `json:"memberAdd"`
	// Format names Config: the member's etcd flags, static pod or config
	// file.
	Format string `json:"format"`
	Config string `json:"config"`
}

func newAddMemberDoc(res *lifecycle.AddMemberResult, dir, format string, conf []byte) addMemberDoc {
	m, _ := res.Spec.Member(res.Member)
	d := addMemberDoc{Member: m.Name, IPs: m.IPs, DNSNames: m.DNSNames, Root: res.Root, filesDoc: newFilesDoc(&res.Result),
		Issued: issuedDocs(res.Issued), Format: format, Config: string(conf)}
	if dir != "" {
		d.SpecFile = layout.SpecFile(dir)
	}
	d.MemberAdd.Learner, _ = lifecycle.MemberAddCommand(res.Spec, m.Name, true)
	d.MemberAdd.Voter, _ = lifecycle.MemberAddCommand(res.Spec, m.Name, false)
	return d
}

// printAddMember writes add-member's text; conf is the member's
// configuration in format.
func printAddMember(w io.Writer, res *lifecycle.AddMemberResult, dir, format string, conf []byte) {
	c := res.Spec
	m, _ := c.Member(res.Member)
	addrs := strings.Join(append(append([]string{}, m.IPs...), m.DNSNames...), ", ")
	switch {
	case res.AlreadyAdded:
		// A re-run of a completed add-member: nothing to write, the
		// same instructions.
		fmt.Fprintf(w, "member %s (%s) was added already, with these addresses and files; nothing to do\n", m.Name, addrs)
	case dir != "":
		fmt.Fprintf(w, "added member %s (%s) to %s\n", m.Name, addrs, layout.SpecFile(dir))
	default:
		fmt.Fprintf(w, "issued the certificates of member %s (%s)\n", m.Name, addrs)
	}
	if !res.AlreadyAdded {
		fmt.Fprintf(w, "wrote %d files under %s:\n", len(res.Written), res.Root)
		printIssued(w, res.Issued, false)
		printBackup(w, &res.Result)
	}

	learner, _ := lifecycle.MemberAddCommand(c, m.Name, true)
	voter, _ := lifecycle.MemberAddCommand(c, m.Name, false)
	fmt.Fprintf(w, "\nNext:\n")
	fmt.Fprintf(w, "  1. copy %s to %s and install it there:\n       %s\n", res.Root, m.Name, installHint(res.Root, m.AdvertiseHost()))
	fmt.Fprintf(w, "  2. on a running member, announce %s to the cluster, as a learner (as kubeadm does since 1.29):\n       %s\n", m.Name, learner)
	fmt.Fprintf(w, "     or as a voting member at once:\n       %s\n", voter)
	if dir != "" {
		fmt.Fprintf(w, "     (etcdctl's environment: eval \"$(etcdpki flags%s --member %s --format etcdctl)\")\n", dirArg(dir), c.Members[0].Name)
	}
	fmt.Fprintf(w, "  3. start etcd on %s with %s:\n\n", m.Name, formatIntro[format])
	if dir == "" && len(c.Members) == 2 {
		fmt.Fprintf(w, "     (--initial-cluster here knows only this node's member; use the ETCD_INITIAL_CLUSTER that member add prints, or give --config)\n\n")
	}
	w.Write(conf)
	fmt.Fprintf(w, "\n  4. once it has caught up, promote a learner: etcdctl member promote <the ID member add printed>\n")
	fmt.Fprintf(w, "     (etcd refuses until the learner is in sync with the leader; retry)\n")
}

// formatIntro names what each --format of add-member prints.
var formatIntro = map[string]string{
	"cmdline":  "these flags",
	"manifest": "this static pod (/etc/kubernetes/manifests/etcd.yaml)",
	"config":   "this --config-file",
}
