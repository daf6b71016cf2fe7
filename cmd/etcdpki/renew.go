package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/lifecycle"
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
	)
	cmd := &cobra.Command{
		Use:   "renew",
		Short: "Re-issue leaf certificates from the cluster's CA, with backups",
		Long: `Re-issue the leaf certificates (server, peer, healthcheck-client,
apiserver-etcd-client and, with split credentials, server-client and
peer-client) of every member of init's output directory, or of the members
and kinds selected, from the CA in <dir>/ca, which is never changed.

Keys are new unless --reuse-key. SANs come from the spec (<dir>/cluster.yaml),
so a renewed certificate names what init would name today; --add-ip,
--add-dns, --remove-ip and --remove-dns change one member's addresses in the
spec first. Every replaced file is backed up to <dir>/backups/<time>-renew/.

etcd reads its certificate and key on every TLS handshake, so a running
member serves the renewed files from its next connection, without a restart,
once they are copied to its node.`,
		Example: `  etcdpki renew --dir pki                                # every leaf of every member
  etcdpki renew --dir pki --expiring-within 30d          # only those expiring within 30 days
  etcdpki renew --dir pki --member cp2 --kind peer --reuse-key
  etcdpki renew --dir pki --member cp2 --add-ip 10.0.1.12 --remove-ip 10.0.0.12`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := memberNamesFlag(members...); err != nil {
				return err
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
			for _, k := range res.Kept {
				doc.Kept = append(doc.Kept, keptDoc{k.Member, k.Kind, k.NotAfter.UTC()})
			}
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
	return cmd
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
