package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/expiry"
)

func newExpiryCmd() *cobra.Command {
	var (
		mf         memberFlags
		out        outputFlag
		failWithin *durationFlag
		noColor    bool
	)
	cmd := &cobra.Command{
		Use:   "expiry DIR...",
		Short: "When every member's certificates and CAs expire, soonest first",
		Long: `List when each certificate of every member expires, as 'kubeadm certs
check-expiration' does for one node: the leaves (etcd-server, etcd-peer,
etcd-healthcheck-client, apiserver-etcd-client, split credentials) with their
member, then the CAs in a table of their own with the members that trust
them. Soonest first.

CERTIFICATE AUTHORITY is the member's CA that signed the certificate.
EXTERNALLY MANAGED means what it means to kubeadm: the CA's key is not on the
member (an external CA), so the certificate cannot be renewed there.

DIRs are read as 'etcdpki check' reads them, ssh://[user@]host[:port][/path]
nodes too (see 'etcdpki help check'). With --fail-within, exit 1 when
anything expires within that window (or has expired).`,
		Example: `  etcdpki expiry pki/                        # init's output: every member
  etcdpki expiry cp1/ cp2/ cp3/              # copies of each node's /etc/kubernetes
  etcdpki expiry ssh://cp1 ssh://cp2 ssh://cp3   # the nodes themselves, over ssh
  etcdpki expiry --fail-within 30d cp1/ cp2/ cp3/ || alert "etcd certs expire soon"
  etcdpki expiry -o json pki/ | jq '.certificates[0]'`,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			members, err := mf.load(dirs)
			if err != nil {
				return err
			}
			r := expiry.Scan(members, time.Now())
			w := cmd.OutOrStdout()
			switch out.format {
			case "json":
				err = r.WriteJSON(w)
			case "yaml":
				err = r.WriteYAML(w)
			default:
				err = r.WriteText(w, !noColor && isTerminal(w))
			}
			if err != nil {
				return err
			}
			if failWithin.set {
				if soon := r.Within(failWithin.Duration()); len(soon) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "etcdpki: %d expire within %s: %s\n", len(soon), failWithin, strings.Join(soon, ", "))
					return &silentError{code: exitFailure}
				}
			}
			return nil
		},
	}
	mf.register(cmd)
	mf.registerRemote(cmd)
	f := cmd.Flags()
	out.register(cmd)
	failWithin = durationVar(f, "fail-within", 0, "exit 1 when a certificate or CA expires within this window, e.g. 30d, 1y or 720h")
	f.BoolVar(&noColor, "no-color", false, "never colour the text output")
	return cmd
}
