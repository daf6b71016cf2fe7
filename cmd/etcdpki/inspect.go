package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/inspect"
)

func newInspectCmd() *cobra.Command {
	var (
		opts inspect.Options
		out  outputFlag
	)
	cmd := &cobra.Command{
		Use:   "inspect FILE|URL",
		Short: "Describe a certificate, bundle, key or live endpoint, and the etcd roles it can fill",
		Long: `Describe one thing in etcd's terms: a certificate or a bundle (subject,
issuer, serial, SANs, key usages, validity, key type, SHA-256 fingerprints,
and which etcd roles it can fill: server, peer, client, CA, and why not the
others), a private key (its type and public key fingerprint only: key
material is never shown), or what a live endpoint https://HOST:PORT serves.

For a key, --cert says whether it belongs to that certificate; for a
certificate, --key does the same. For an endpoint, --cert/--key are the
client credential to present and --cacert verifies the served chain and
name; they default to ETCDCTL_CERT, ETCDCTL_KEY and ETCDCTL_CACERT.

Exit status 1 when a given key and certificate do not match or a served
chain does not verify against --cacert.`,
		Example: `  etcdpki inspect pki/cp1/etc/kubernetes/pki/etcd/peer.crt
  etcdpki inspect pki/cp1/etc/kubernetes/pki/etcd/peer.key --cert pki/cp1/etc/kubernetes/pki/etcd/peer.crt
  etcdpki inspect https://10.0.0.11:2379 --cacert ca.crt --cert healthcheck-client.crt --key healthcheck-client.key
  etcdpki inspect -o json server.crt | jq '.certificates[0].roles'
  etcdpki inspect -o yaml peer.crt`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withHint(usagef("give one FILE or https://HOST:PORT (got %d arguments)", len(args)), "e.g. etcdpki inspect /etc/kubernetes/pki/etcd/peer.crt")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			var (
				r   *inspect.Result
				err error
			)
			if inspect.IsURL(args[0]) {
				fromEnv(cmd, "cacert", &opts.CACert, "ETCDCTL_CACERT")
				fromEnv(cmd, "cert", &opts.Cert, "ETCDCTL_CERT")
				fromEnv(cmd, "key", &opts.Key, "ETCDCTL_KEY")
				r, err = inspect.URL(cmd.Context(), args[0], opts)
			} else {
				r, err = inspect.File(args[0], opts)
			}
			if err != nil {
				return err
			}
			if err := out.write(cmd.OutOrStdout(), writtenJSON(r.WriteJSON), r.WriteText); err != nil {
				return err
			}
			if mismatch(r) {
				return &silentError{code: exitFailure}
			}
			return nil
		},
	}
	f := cmd.Flags()
	out.register(cmd)
	f.StringVar(&opts.Cert, "cert", "", "certificate `FILE`: the one a key should match, or the client certificate for an endpoint")
	f.StringVar(&opts.Key, "key", "", "key `FILE`: the one a certificate should match, or the client key for an endpoint")
	f.StringVar(&opts.CACert, "cacert", "", "CA bundle `FILE` to verify an endpoint's chain")
	f.DurationVar(&opts.Timeout, "timeout", 5*time.Second, "timeout of an endpoint's dial and handshake")
	return cmd
}

// mismatch reports whether something the user asked to compare did not
// match: a key and a certificate, or a served chain and the CA.
func mismatch(r *inspect.Result) bool {
	if r.Key != nil && r.Key.Matches != nil && !*r.Key.Matches {
		return true
	}
	if len(r.Certs) > 0 && r.Certs[0].MatchesKey != nil && !*r.Certs[0].MatchesKey {
		return true
	}
	e := r.Endpoint
	return e != nil && ((e.ChainOK != nil && !*e.ChainOK) || (e.NameOK != nil && !*e.NameOK))
}
