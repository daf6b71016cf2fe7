package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/probe"
)

func newProbeCmd() *cobra.Command {
	var (
		pf         probeFlags
		rf         reportFlags
		noDiscover bool
	)
	cmd := &cobra.Command{
		Use:   "probe [MEMBER-DIR...]",
		Short: "Audit a running cluster's TLS: what every client and peer URL serves and refuses",
		Long: `Probe a running etcd cluster: discover its members (MemberList), then
handshake with every client and peer URL concurrently and check what is
served (chain, names, expiry) and what is refused (no client cert, a client
cert from a foreign CA, TLS 1.0/1.1). Across members: one CA, no shared certs.
Given the members' directories too, the served certs are compared with the
files.

Endpoints and credentials default to etcdctl's environment variables
ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY.
Findings, output formats and exit codes are those of 'etcdpki check'.`,
		Example: `  etcdpki probe --endpoints https://10.0.0.11:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt \
    --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key
  eval "$(etcdpki flags --dir pki --member cp1 --format etcdctl)"; etcdpki probe
  etcdpki probe -o json cp1/ cp2/ cp3/`,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if err := rf.validate(); err != nil {
				return err
			}
			opts, err := pf.resolve(cmd)
			if err != nil {
				return err
			}
			opts.NoDiscover = noDiscover
			opts.MemberDirs = dirs
			opts.WarnWithin = rf.warn()
			rep, err := probe.Run(cmd.Context(), opts)
			if err != nil {
				return usageErr(err)
			}
			return rf.emit(cmd, rep)
		},
	}
	pf.register(cmd, "")
	cmd.Flags().BoolVar(&noDiscover, "no-discover", false, "probe only --endpoints, without MemberList")
	rf.register(cmd, "warn about served certificates expiring within this window")
	return cmd
}

// fromEnv fills an unset flag from an environment variable, as etcdctl
// reads its ETCDCTL_* variables.
func fromEnv(cmd *cobra.Command, flag string, v *string, env string) {
	if !cmd.Flags().Changed(flag) && *v == "" {
		*v = os.Getenv(env)
	}
}
