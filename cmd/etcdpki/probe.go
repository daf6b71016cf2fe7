package main

import (
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/probe"
	"github.com/etcdpki/etcdpki/spec"
)

func newProbeCmd() *cobra.Command {
	var (
		opts           probe.Options
		endpoints      string
		output, failOn string
		warnWithin     spec.Duration
		noColor        bool
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
			threshold, err := audit.ParseSeverity(failOn)
			if err != nil {
				return usagef("--fail-on: %v", err)
			}
			if output != "text" && output != "json" && output != "yaml" {
				return usagef("unknown output format %q (want text, json or yaml)", output)
			}
			fromEnv(cmd, "endpoints", &endpoints, "ETCDCTL_ENDPOINTS")
			fromEnv(cmd, "cacert", &opts.CACert, "ETCDCTL_CACERT")
			fromEnv(cmd, "cert", &opts.Cert, "ETCDCTL_CERT")
			fromEnv(cmd, "key", &opts.Key, "ETCDCTL_KEY")
			for _, e := range strings.Split(endpoints, ",") {
				if e = strings.TrimSpace(e); e != "" {
					opts.Endpoints = append(opts.Endpoints, e)
				}
			}
			switch {
			case len(opts.Endpoints) == 0:
				return withHint(usagef("no endpoints: give --endpoints or set ETCDCTL_ENDPOINTS"), "e.g. --endpoints https://10.0.0.11:2379")
			case opts.CACert == "" || opts.Cert == "" || opts.Key == "":
				return withHint(usagef("--cacert, --cert and --key are required (or ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY)"),
					"use the healthcheck-client or apiserver-etcd-client cert and key")
			}
			opts.MemberDirs = dirs
			if cmd.Flags().Changed("warn-within") {
				opts.WarnWithin = time.Duration(warnWithin)
				if opts.WarnWithin == 0 {
					opts.WarnWithin = -1
				}
			}
			report, err := probe.Run(cmd.Context(), opts)
			if err != nil {
				return usageErr(err)
			}
			w := cmd.OutOrStdout()
			switch output {
			case "json":
				err = report.WriteJSON(w)
			case "yaml":
				err = report.WriteYAML(w)
			default:
				err = report.WriteText(w, !noColor && isTerminal(w))
			}
			if err != nil {
				return err
			}
			if report.Fails(threshold) {
				return &silentError{code: exitFailure}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoints, "endpoints", "", "comma-separated client URLs (default $ETCDCTL_ENDPOINTS)")
	f.StringVar(&opts.CACert, "cacert", "", "CA bundle `FILE` to verify the members (default $ETCDCTL_CACERT)")
	f.StringVar(&opts.Cert, "cert", "", "client certificate `FILE` (default $ETCDCTL_CERT)")
	f.StringVar(&opts.Key, "key", "", "client key `FILE` (default $ETCDCTL_KEY)")
	f.DurationVar(&opts.Timeout, "timeout", 2*time.Second, "timeout of each dial, handshake and read")
	f.BoolVar(&opts.NoDiscover, "no-discover", false, "probe only --endpoints, without MemberList")
	f.StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	f.StringVar(&failOn, "fail-on", "error", "exit 1 when a finding is at or above this severity: info, warning or error")
	f.Var(&warnWithin, "warn-within", "warn about served certificates expiring within this window (default 30d; 0 disables)")
	f.BoolVar(&noColor, "no-color", false, "never colour the text output")
	return cmd
}

// fromEnv fills an unset flag from an environment variable, as etcdctl
// reads its ETCDCTL_* variables.
func fromEnv(cmd *cobra.Command, flag string, v *string, env string) {
	if !cmd.Flags().Changed(flag) && *v == "" {
		*v = os.Getenv(env)
	}
}
