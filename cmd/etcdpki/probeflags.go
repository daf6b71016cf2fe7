package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/probe"
)

// probeFlags are the flags that say how to reach a live cluster, as
// etcdctl's: --endpoints, --cacert, --cert, --key (each defaulting to its
// ETCDCTL_* variable) and --timeout.
type probeFlags struct {
	endpoints string
	opts      probe.Options
}

// register adds the flags; prefix starts their help text (e.g. "with
// --probe: ").
func (p *probeFlags) register(cmd *cobra.Command, prefix string) {
	f := cmd.Flags()
	f.StringVar(&p.endpoints, "endpoints", "", prefix+"comma-separated client URLs (default $ETCDCTL_ENDPOINTS)")
	f.StringVar(&p.opts.CACert, "cacert", "", prefix+"CA bundle `FILE` to verify the members (default $ETCDCTL_CACERT)")
	f.StringVar(&p.opts.Cert, "cert", "", prefix+"client certificate `FILE` (default $ETCDCTL_CERT)")
	f.StringVar(&p.opts.Key, "key", "", prefix+"client key `FILE` (default $ETCDCTL_KEY)")
	f.DurationVar(&p.opts.Timeout, "timeout", 2*time.Second, prefix+"timeout of each dial, handshake and read; the whole probe ends within it plus 500ms, and dials at most 64 URLs from the member list")
}

// resolve fills unset flags from the environment and returns the probe
// options, or a usage error when endpoints or credentials are missing.
func (p *probeFlags) resolve(cmd *cobra.Command) (probe.Options, error) {
	fromEnv(cmd, "endpoints", &p.endpoints, "ETCDCTL_ENDPOINTS")
	fromEnv(cmd, "cacert", &p.opts.CACert, "ETCDCTL_CACERT")
	fromEnv(cmd, "cert", &p.opts.Cert, "ETCDCTL_CERT")
	fromEnv(cmd, "key", &p.opts.Key, "ETCDCTL_KEY")
	opts := p.opts
	opts.Endpoints = nil
	for _, e := range strings.Split(p.endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			opts.Endpoints = append(opts.Endpoints, e)
		}
	}
	switch {
	case len(opts.Endpoints) == 0:
		return opts, withHint(usagef("no endpoints: give --endpoints or set ETCDCTL_ENDPOINTS"), "e.g. --endpoints https://10.0.0.11:2379")
	case opts.CACert == "" || opts.Cert == "" || opts.Key == "":
		return opts, withHint(usagef("--cacert, --cert and --key are required (or ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY)"),
			"use the healthcheck-client or apiserver-etcd-client cert and key")
	}
	return opts, nil
}
