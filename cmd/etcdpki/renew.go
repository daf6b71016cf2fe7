package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

func newRenewCmd() *cobra.Command {
	var (
		dir                          string
		members, kinds               []string
		within                       *durationFlag
		out                          outputFlag
		opts                         lifecycle.RenewOptions
		addIPs, addDNS, rmIPs, rmDNS []string
		mf                           memberFlags
		local                        bool
		root                         string
	)
	cmd := &cobra.Command{
		Use:   "renew [DIR...]",
		Short: "Re-issue leaf certificates from the cluster's CA, in place, with backups",
		Long: `Re-issue the leaf certificates (server, peer, healthcheck-client,
apiserver-etcd-client and, with split credentials, server-client and
peer-client) of members, from their CA, which is never changed.

Each DIR is a member directory, as 'etcdpki check' reads it: a copy or mount
of a node's / (or of /etc/kubernetes, /etc/ssl/etcd, /etc/etcd,
/var/lib/rancher/k3s/server, …) in any layout check knows, where the CA's key
is (a kubeadm control-plane node has etcd/ca.key); --local renews this node
(--root). The certificates are replaced where the member's settings name
them, keeping their mode, owner and group. A renewed serving certificate
names every address the member's settings (manifest, env file, config file)
listen on or advertise today and every name the old certificate had:
unlike kubeadm certs renew, which keeps the old names, a node whose address
changed gets a certificate that names it. --add-ip, --add-dns, --remove-ip
and --remove-dns change the names further. The subject is kept, the key
usages are those etcd needs (a peer certificate without clientAuth is
repaired). Replaced files are backed up to the node's
/var/lib/etcdpki/backups/<time>-renew/ (<DIR>/.etcdpki/backups for a copy of
a subdirectory).

With --dir (or a DIR that is init's output, or one member tree of it),
SANs come from the spec (<dir>/cluster.yaml), so a renewed certificate names
what init would name today; --add-ip and the others change one member's
addresses in the spec first, and backups go to <dir>/backups/.

Keys are new (of the old key's type) unless --reuse-key. etcd reads its
certificate and key on every TLS handshake, so a running member serves the
renewed files from its next connection, without a restart. kube-apiserver
keeps its open connections to etcd: restart it after its
apiserver-etcd-client certificate is renewed.`,
		Example: `  etcdpki renew --local                                  # this node, as kubeadm certs renew but with today's SANs
  etcdpki renew node1/ node2/ node3/                     # copies or mounts of each node's /
  etcdpki renew --local --kind server --kind peer --add-ip 10.0.1.11
  etcdpki renew --dir pki                                # init's output: every leaf of every member
  etcdpki renew --dir pki --expiring-within 30d          # only those expiring within 30 days
  etcdpki renew --dir pki --member cp2 --kind peer --reuse-key
  etcdpki renew --dir pki --member cp2 --add-ip 10.0.1.12 --remove-ip 10.0.0.12`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if err := memberNamesFlag(members...); err != nil {
				return err
			}
			if local {
				dirs = append(dirs, root)
			}
			if len(dirs) > 0 && cmd.Flags().Changed("dir") {
				return usagef("give --dir or member directories, not both")
			}
			if within.set && within.Duration() <= 0 {
				return usagef("--expiring-within %s: must be positive", within)
			}
			if err := out.validate(); err != nil {
				return err
			}
			opts.Members, opts.Kinds = members, kindsFlag(kinds)
			opts.ExpiringWithin = within.Duration()
			opts.AddIPs, opts.AddDNSNames, opts.RemoveIPs, opts.RemoveDNSNames = addIPs, addDNS, rmIPs, rmDNS
			if len(dirs) > 0 {
				initDir, names, err := renewInitDir(dirs)
				if err != nil {
					return err
				}
				if initDir == "" {
					return renewMembers(cmd, dirs, &mf, opts, out, within.String())
				}
				dir = initDir
				if len(opts.Members) == 0 {
					opts.Members = names
				}
			}
			res, err := lifecycle.Renew(dir, opts)
			if err != nil {
				return lifecycleErr(err)
			}
			doc := renewDoc{
				filesDoc: newFilesDoc(&res.Result), CA: newCADoc(res.CA), Issued: issuedDocs(res.Issued),
				SpecChanged: res.SpecChanged,
			}
			if u := res.PeerURL; u != nil {
				doc.PeerURL = &urlChangeDoc{u.Member, u.Old, u.New}
			}
			doc.Kept = keptDocs(res.Kept)
			return out.write(cmd.OutOrStdout(), doc, func(w io.Writer) error {
				printRenew(w, dir, res, opts, within.String())
				return nil
			})
		},
	}
	f := cmd.Flags()
	dirFlag(f, &dir)
	f.StringArrayVarP(&members, "member", "m", nil, "renew this member's certificates only: its `NAME` (not NAME=IP; repeatable)")
	f.StringArrayVar(&kinds, "kind", nil, "renew this kind only (`KIND`, repeatable): server, peer, healthcheck-client, apiserver-etcd-client, server-client, peer-client")
	within = durationVar(f, "expiring-within", 0, "renew only certificates that expire within this window, e.g. 30d, 1y or 720h")
	out.register(cmd)
	f.BoolVar(&opts.ReuseKey, "reuse-key", false, "keep each certificate's key")
	f.StringArrayVar(&addIPs, "add-ip", nil, "add this `IP` to the member's addresses (with one --member)")
	f.StringArrayVar(&addDNS, "add-dns", nil, "add this DNS `NAME` to the member's names (with one --member)")
	f.StringArrayVar(&rmIPs, "remove-ip", nil, "remove this `IP` from the member's addresses (with one --member)")
	f.StringArrayVar(&rmDNS, "remove-dns", nil, "remove this DNS `NAME` from the member's names (with one --member)")
	mf.register(cmd)
	f.BoolVar(&local, "local", false, "renew this node's certificates in place (see --root)")
	f.StringVar(&root, "root", "/", "the node's root directory that --local renews")
	return cmd
}

// renewInitDir sorts renew's member directories: init's output directory,
// or member trees of one init output (pki/cp1), are renewed there, with
// their spec; it returns that directory and the members named. An empty
// directory means node trees. Mixing the two is a usage error.
func renewInitDir(dirs []string) (initDir string, names []string, err error) {
	kinds := 0
	for _, d := range dirs {
		out, name := "", ""
		if _, e := lifecycle.Open(d); e == nil {
			out = d
		} else if o, n, ok := lifecycle.InitDirOf(d); ok {
			out, name = o, n
		}
		switch {
		case out == "":
			kinds |= 1
			continue
		case initDir != "" && filepath.Clean(initDir) != filepath.Clean(out):
			return "", nil, usagef("%s and %s are members of two init output directories: renew one at a time", initDir, out)
		}
		kinds |= 2
		initDir = out
		if name != "" {
			names = append(names, name)
		} else {
			names = nil // the whole directory
		}
	}
	if kinds == 3 {
		return "", nil, usagef("give init's output (or its member trees) or node directories, not both")
	}
	return initDir, names, nil
}

// renewMembers renews node trees in place, one member after the other.
func renewMembers(cmd *cobra.Command, dirs []string, mf *memberFlags, opts lifecycle.RenewOptions, out outputFlag, window string) error {
	ms, err := mf.load(dirs)
	if err != nil {
		return err
	}
	if len(opts.Members) > 0 {
		var picked []*member.Member
		for _, name := range opts.Members {
			found := false
			for _, m := range ms {
				if m.Name == name {
					picked, found = append(picked, m), true
				}
			}
			if !found {
				var have []string
				for _, m := range ms {
					have = append(have, m.Name)
				}
				return usagef("--member %s: no such member among the directories given (%s)", name, strings.Join(have, ", "))
			}
		}
		ms = picked
	}
	if len(opts.AddIPs)+len(opts.AddDNSNames)+len(opts.RemoveIPs)+len(opts.RemoveDNSNames) > 0 && len(ms) != 1 {
		return usagef("--add-ip, --add-dns, --remove-ip and --remove-dns change one member's names: give one member directory (or --member)")
	}
	var docs []nodeRenewDoc
	var results []*lifecycle.RenewResult
	for _, m := range ms {
		res, err := lifecycle.RenewMember(m, opts)
		if err != nil {
			if res != nil && len(res.Written) > 0 {
				printRenewMember(cmd.ErrOrStderr(), m, res, window)
			}
			return lifecycleErr(fmt.Errorf("%s: %w", m.Input.Dir, err))
		}
		results = append(results, res)
		docs = append(docs, nodeRenewDoc{Member: m.Name, Layout: m.Distribution().Name,
			renewDoc: renewDoc{filesDoc: newFilesDoc(&res.Result), CA: newCADoc(res.CA), Issued: issuedDocs(res.Issued), Kept: keptDocs(res.Kept)}})
	}
	return out.write(cmd.OutOrStdout(), nodeRenewsDoc{Members: docs}, func(w io.Writer) error {
		for i, m := range ms {
			if i > 0 {
				fmt.Fprintln(w)
			}
			printRenewMember(w, m, results[i], window)
		}
		return nil
	})
}

// nodeRenewsDoc is renew's -o json and yaml document for member
// directories: one entry per member.
type nodeRenewsDoc struct {
	Members []nodeRenewDoc `json:"members"`
}

// nodeRenewDoc is one member's renewal in place.
type nodeRenewDoc struct {
	Member string `json:"member"`
	Layout string `json:"layout"`
	renewDoc
}

func keptDocs(kept []lifecycle.Kept) []keptDoc {
	var out []keptDoc
	for _, k := range kept {
		out = append(out, keptDoc{k.Member, k.Kind, k.NotAfter.UTC()})
	}
	return out
}

// printRenewMember writes what renew did to one member's tree, and what
// must restart.
func printRenewMember(w io.Writer, m *member.Member, res *lifecycle.RenewResult, window string) {
	if len(res.Issued) == 0 {
		fmt.Fprintf(w, "member %s (%s): nothing to renew: the %s selected are valid for more than %s and name the member's addresses\n",
			m.Name, m.Input.Dir, count(len(res.Kept), "certificate"), window)
		return
	}
	fmt.Fprintf(w, "member %s (%s, %s): renewed %s in place, signed by CA %q (%s, expires %s):\n", m.Name, m.Input.Dir, m.Distribution().Title,
		count(len(res.Issued), "certificate"), res.CA.Subject.CommonName, pki.KeyDescription(res.CA.PublicKey), res.CA.NotAfter.UTC().Format(time.DateOnly))
	printIssued(w, res.Issued, false)
	if len(res.Kept) > 0 {
		fmt.Fprintf(w, "kept %s that do not expire within %s\n", count(len(res.Kept), "certificate"), window)
	}
	printBackup(w, &res.Result)
	apiserver := false
	for _, is := range res.Issued {
		apiserver = apiserver || is.Kind == pki.KindAPIServerClient
	}
	fmt.Fprintf(w, "etcd serves the renewed certificates from its next TLS handshake, without a restart\n")
	if apiserver {
		how := "restart it"
		if m.APIServer != nil && m.Distribution().APIServerManifest != "" {
			how = fmt.Sprintf("restart it: move %s out of its directory, wait until its container is gone (crictl ps --name kube-apiserver), and move it back", m.Distribution().APIServerManifest)
		}
		fmt.Fprintf(w, "kube-apiserver keeps its open connections to etcd with the old client certificate: %s\n", how)
	}
}

// renewDoc is renew's -o json and yaml document.
type renewDoc struct {
	filesDoc
	// CA signed the certificates.
	CA          caDoc       `json:"ca"`
	Issued      []issuedDoc `json:"issued"`
	Kept        []keptDoc   `json:"kept,omitempty"`
	SpecChanged bool        `json:"specChanged"`
	// PeerURL is set when a member's advertised peer URL changed, which
	// the running cluster must be told (etcdctl member update).
	PeerURL *urlChangeDoc `json:"peerURLChange,omitempty"`
}

// urlChangeDoc is a [lifecycle.URLChange].
type urlChangeDoc struct {
	Member string `json:"member"`
	Old    string `json:"old"`
	New    string `json:"new"`
}

// keptDoc is a [lifecycle.Kept]: a certificate --expiring-within left alone.
type keptDoc struct {
	Member   string    `json:"member"`
	Kind     pki.Kind  `json:"kind"`
	NotAfter time.Time `json:"notAfter"`
}

// printRenew writes renew's text; window is --expiring-within as the user
// wrote it.
func printRenew(w io.Writer, dir string, res *lifecycle.RenewResult, opts lifecycle.RenewOptions, window string) {
	if res.SpecChanged {
		fmt.Fprintf(w, "updated the addresses of member %s in %s/cluster.yaml\n", opts.Members[0], dir)
	}
	if len(res.Issued) == 0 {
		fmt.Fprintf(w, "nothing to renew: the %s selected are valid for more than %s\n", count(len(res.Kept), "certificate"), window)
		return
	}
	fmt.Fprintf(w, "renewed %s, signed by CA %q (%s, expires %s):\n", count(len(res.Issued), "certificate"),
		res.CA.Subject.CommonName, pki.KeyDescription(res.CA.PublicKey), res.CA.NotAfter.UTC().Format(time.DateOnly))
	printIssued(w, res.Issued, true)
	if len(res.Kept) > 0 {
		fmt.Fprintf(w, "kept %s that do not expire within %s\n", count(len(res.Kept), "certificate"), window)
	}
	printBackup(w, &res.Result)
	for _, is := range res.Issued {
		if !is.NotAfter.Before(res.CA.NotAfter) {
			fmt.Fprintf(w, "warning: the CA expires %s and no certificate outlives it; rotate it (etcdpki rotate-ca)\n", res.CA.NotAfter.UTC().Format(time.DateOnly))
			break
		}
	}
	if u := res.PeerURL; u != nil {
		fmt.Fprintf(w, "\nmember %s's peer URL changed from %s to %s: tell the running cluster\n  etcdctl member update <%s's member ID> --peer-urls=%s\nand restart %s with its new flags (etcdpki flags --dir %s --member %s)\n",
			u.Member, u.Old, u.New, u.Member, u.New, u.Member, dir, u.Member)
	}
	var changed []string
	seen := map[string]bool{}
	for _, is := range res.Issued {
		if !seen[is.Member] {
			seen[is.Member] = true
			changed = append(changed, is.Member)
		}
	}
	fmt.Fprintf(w, "\netcd serves a renewed certificate from its next TLS handshake, without a restart:\n")
	if d, err := lifecycle.Open(dir); err == nil {
		fmt.Fprintf(w, "%s\n", copyHint(d.Spec, dir, changed))
	}
}
