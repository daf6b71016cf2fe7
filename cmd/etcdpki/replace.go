package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

func newReplaceMemberCmd() *cobra.Command {
	var (
		dir, out, member, format, image, endpoints, root string
		versions                                         render.Options
		local                                            bool
		mf                                               memberFlags
		output                                           outputFlag
	)
	cmd := &cobra.Command{
		Use:   "replace-member [DIR...]",
		Short: "Issue fresh certificates for a rebuilt member and print how to swap it in",
		Long: `Issue a fresh set of certificates for a member whose node was rebuilt (or
whose certificates are lost or wrong), with the same name and the same or a
new address, from the cluster's CA, and print the sequence that replaces the
member in the running cluster, with the actual values: remove the old
member, add the replacement as a learner, wipe its data directory, start it
with --initial-cluster-state=existing and an --initial-cluster naming every
current member, promote it.

The DIRs are other members' directories, read as 'etcdpki check' reads them
(copies or mounts of their nodes' /, kubeadm or etcdadm); the first that
holds the CA's key signs, and the replacement's tree, in their layout, goes
to <out>/<member>. The cluster's members are those of the DIRs and of their
--initial-cluster. Without an address in --member the member keeps the one
the others know it by. --local reads this node's tree (--root) as the
source. With --dir, init's output: the member's tree <dir>/<member> gets
new keys and certificates and, with a new address, cluster.yaml changes.

--endpoints (default $ETCDCTL_ENDPOINTS) asks the running cluster for the
old member's ID, with the source's client certificate, so the printed
'etcdctl member remove' is complete; without it the ID is left for you to
read from 'etcdctl member list'.`,
		Example: `  etcdpki replace-member cp1/ cp3/ --member cp2 --out join        # cp2 rebuilt, same address
  etcdpki replace-member --local --member cp2=10.0.0.22 --out join   # on cp1; cp2 has a new address
  etcdpki replace-member --dir pki --member cp2
  etcdpki replace-member --dir pki --member cp2 --endpoints https://10.0.0.11:2379`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if member == "" {
				return usagef("--member NAME[=IP,…] is required: the member to replace")
			}
			if err := checkVersions(versions, dir); err != nil {
				return err
			}
			if err := output.validate(); err != nil {
				return err
			}
			if _, ok := formatIntro[format]; !ok {
				return usagef("unknown --format %q (want cmdline, manifest or config)", format)
			}
			m, err := parseReplaced(member)
			if err != nil {
				return err
			}
			if local {
				dirs = append(dirs, root)
			}
			var res *lifecycle.ReplaceMemberResult
			switch {
			case len(dirs) > 0 && cmd.Flags().Changed("dir"):
				return usagef("give --dir or member directories, not both")
			case len(dirs) > 0:
				if out == "" {
					out = "."
				}
				ms, err := mf.load(dirs)
				if err != nil {
					return err
				}
				res, err = lifecycle.ReplaceMemberFromNodes(ms, m, out, lifecycle.AddMemberOptions{})
				if err != nil {
					return lifecycleErr(err)
				}
			default:
				if out != "" {
					return usagef("--out goes with member directories; with --dir the member's tree is <dir>/<member>")
				}
				res, err = lifecycle.ReplaceMember(dir, m, lifecycle.AddMemberOptions{})
				if spec.IsValidationError(err) {
					return withHint(err, "the replacement needs addresses no other member has; the members are in "+layout.SpecFile(dir))
				}
				if err != nil {
					return lifecycleErr(err)
				}
			}
			conf, err := renderFormat(res.Spec, res.Member, format, image, render.Options{Existing: true, EtcdVersion: versions.EtcdVersion, KubernetesVersion: versions.KubernetesVersion})
			if err != nil {
				return err
			}
			lookup := lookupOldID(cmd.Context(), res, endpoints, dir, dirs)
			return output.write(cmd.OutOrStdout(), newReplaceDoc(res, lookup, format, conf), func(w io.Writer) error {
				printReplace(w, res, lookup, format, conf)
				return nil
			})
		},
	}
	f := cmd.Flags()
	dirFlag(f, &dir)
	f.StringVarP(&member, "member", "m", "", "the member to replace: `NAME`, or NAME=IP[,IP|DNS…] for new addresses")
	f.StringVar(&out, "out", "", "with member directories: where the replacement's tree goes (`DIR`/<member>; default .)")
	f.StringVar(&endpoints, "endpoints", "", "client `URLs` of the running cluster, to read the old member's ID (default $ETCDCTL_ENDPOINTS)")
	f.StringVar(&format, "format", "cmdline", "the replacement's configuration as: cmdline, manifest or config")
	imageFlag(f, &image)
	versionFlags(f, &versions)
	f.BoolVar(&local, "local", false, "read this node's tree (see --root) as the source")
	f.StringVar(&root, "root", "/", "the node's root directory that --local reads")
	mf.register(cmd)
	output.register(cmd)
	return cmd
}

// parseReplaced parses --member: NAME alone keeps the addresses the cluster
// knows.
func parseReplaced(s string) (spec.Member, error) {
	if !strings.Contains(s, "=") {
		if err := memberNamesFlag(s); err != nil {
			return spec.Member{}, err
		}
		return spec.Member{Name: s}, nil
	}
	m, err := spec.ParseMember(s)
	if err != nil {
		return m, memberDefHint(err)
	}
	return m, nil
}

// oldIDLookup is what the running cluster said about the old member.
type oldIDLookup struct {
	// Asked is true when endpoints were given.
	Asked bool
	// ID is the old member's ID in hex, empty when not listed.
	ID string
	// Err says why the cluster could not be asked.
	Err string
}

// lookupOldID asks the running cluster for the replaced member's ID when
// endpoints (or $ETCDCTL_ENDPOINTS) are given, with the client certificate
// of the source member (files on this machine).
func lookupOldID(ctx context.Context, res *lifecycle.ReplaceMemberResult, endpoints, dir string, dirs []string) oldIDLookup {
	if endpoints == "" {
		endpoints = os.Getenv("ETCDCTL_ENDPOINTS")
	}
	if endpoints == "" {
		return oldIDLookup{}
	}
	l := oldIDLookup{Asked: true}
	// The source's files on this machine: its node paths under its tree.
	base := ""
	if len(dirs) == 0 {
		base = layout.MemberDir(dir, res.Source)
	} else {
		for _, d := range dirs {
			if ms, err := (&memberFlags{}).load([]string{d}); err == nil && len(ms) == 1 && ms[0].Name == res.Source {
				base = d
			}
		}
	}
	onDisk := func(p string) string { return layout.OnDisk(base, p) }
	a := res.Etcdctl
	members, err := lifecycle.MemberList(ctx, strings.Split(endpoints, ","), onDisk(a.CACert), onDisk(a.Cert), onDisk(a.Key), 5*time.Second)
	if err != nil {
		l.Err = err.Error()
		return l
	}
	for _, m := range members {
		if m.Name == res.Member || (m.Name == "" && len(m.PeerURLs) > 0 && m.PeerURLs[0] == res.OldPeerURL) {
			l.ID = fmt.Sprintf("%x", m.ID)
		}
	}
	return l
}

// replaceDoc is replace-member's -o json and yaml document.
type replaceDoc struct {
	addMemberDoc
	OldPeerURL string `json:"oldPeerURL"`
	// OldID is the old member's ID as the running cluster listed it
	// (hex), empty when not asked or not listed.
	OldID        string `json:"oldID,omitempty"`
	LookupError  string `json:"lookupError,omitempty"`
	MemberRemove string `json:"memberRemove"`
	Source       string `json:"source"`
}

func newReplaceDoc(res *lifecycle.ReplaceMemberResult, l oldIDLookup, format string, conf []byte) replaceDoc {
	d := replaceDoc{addMemberDoc: newAddMemberDoc(&res.AddMemberResult, "", format, conf), OldPeerURL: res.OldPeerURL,
		OldID: l.ID, LookupError: l.Err, Source: res.Source}
	d.MemberRemove = "etcdctl member remove " + orPlaceholder(l.ID, "<ID of "+res.Member+">")
	return d
}

func orPlaceholder(s, placeholder string) string {
	if s == "" {
		return placeholder
	}
	return s
}

// printReplace writes the replacement's files and the sequence that swaps
// it in.
func printReplace(w io.Writer, res *lifecycle.ReplaceMemberResult, l oldIDLookup, format string, conf []byte) {
	c := res.Spec
	m, _ := c.Member(res.Member)
	fmt.Fprintf(w, "issued a fresh set of certificates for member %s (%s): %d files under %s\n", m.Name,
		strings.Join(append(append([]string{}, m.IPs...), m.DNSNames...), ", "), len(res.Written), res.Root)
	printIssued(w, res.Issued, false)
	printBackup(w, &res.Result)
	a := res.Etcdctl
	fmt.Fprintf(w, "\nThe cluster still lists the old %s (peer URL %s), whose data is gone. From %s, one step at a time:\n", m.Name, res.OldPeerURL, res.Source)
	fmt.Fprintf(w, "  etcdctl's environment on %s:\n    export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=%s ETCDCTL_CACERT=%s ETCDCTL_CERT=%s ETCDCTL_KEY=%s\n",
		res.Source, a.Endpoint, a.CACert, a.Cert, a.Key)
	fmt.Fprintf(w, "  1. remove the old member (a member is its data directory; the rebuilt node's is new):\n")
	switch {
	case l.ID != "":
		fmt.Fprintf(w, "       etcdctl member remove %s\n", l.ID)
	case l.Asked && l.Err == "":
		fmt.Fprintf(w, "       nothing to do: the running cluster lists no member %s (removed already)\n", m.Name)
	default:
		if l.Err != "" {
			fmt.Fprintf(w, "       (the cluster could not be asked for its ID: %s)\n", l.Err)
		}
		fmt.Fprintf(w, "       etcdctl member remove <ID of %s, from: etcdctl member list>\n", m.Name)
	}
	learner, _ := lifecycle.MemberAddCommand(c, m.Name, true)
	fmt.Fprintf(w, "  2. add the replacement as a learner (it does not count towards quorum until promoted):\n       %s\n", learner)
	fmt.Fprintf(w, "  3. on %s: stop etcd, wipe its data directory (e.g. rm -rf /var/lib/etcd/member), put its files in place:\n", m.Name)
	fmt.Fprintf(w, "       %s\n", installHint(res.Root, m.AdvertiseHost()))
	fmt.Fprintf(w, "     and start etcd with %s (--initial-cluster-state=existing, every current member in --initial-cluster):\n\n", formatIntro[format])
	w.Write(conf)
	fmt.Fprintf(w, "\n  4. once it has caught up, promote it: etcdctl member promote <the ID member add printed>\n")
	fmt.Fprintf(w, "     (etcd refuses until the learner is in sync with the leader; retry)\n")
	fmt.Fprintf(w, "  5. etcdpki probe --endpoints %s shows every member serving its certificates\n", a.Endpoint)
}
