package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/exporter"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/spec"
)

func newExporterCmd() *cobra.Command {
	var (
		mf          memberFlags
		listen      string
		interval    time.Duration
		once        bool
		withProbe   bool
		pf          probeFlags
		warnWithin  *durationFlag
		peers       []string
		peerPort    string
		peerWait    time.Duration
		stripPrefix string
	)
	cmd := &cobra.Command{
		Use:   "exporter [--listen ADDR] DIR...",
		Short: "Serve certificate expiry, check findings and probe results as Prometheus metrics",
		Long: `Serve Prometheus metrics about the members' certificates, rescanning the
directories every --interval:

  x509_cert_not_after, x509_cert_not_before     Unix seconds
  x509_cert_expires_in_seconds, x509_cert_valid_since_seconds, x509_cert_expired
      per certificate, labelled member, kind, filename, filepath,
      subject_CN, issuer_CN, serial_number (decimal):
      x509-certificate-exporter's names and labels, so its dashboards and
      alerts work as they are. It labels subject and issuer fields beyond
      the CN (subject_O, …) that these do not; member and kind are etcdpki's;
      its x509_read_errors is etcdpki_scan_errors_total here.
  etcdpki_findings{source,rule,severity,member} what check (and probe) found
  etcdpki_check_cluster_forms, etcdpki_check_clients_connect   check's verdict,
      0 after a scan that failed or read no member
  etcdpki_scan_errors_total, etcdpki_last_scan_timestamp_seconds,
  etcdpki_last_scan_success, etcdpki_scan_duration_seconds, etcdpki_members
  etcdpki_build_info{version,goversion,etcd_version}, and Go's and the
  process's own metrics (go_*, process_*)

The default address is :9794, not 9793, where x509-certificate-exporter
listens: both can run on one node.

With --probe, every scan also probes the live cluster as 'etcdpki probe'
does (--endpoints, --cacert, --cert, --key, or ETCDCTL_* variables) and adds
etcdpki_probe_success, etcdpki_probe_endpoint_reachable{member,url,port},
etcdpki_probe_served_cert_not_after and the probe's findings.

Run on each control-plane node, an exporter sees one member, and check's
conditions across members (R2, R3, the membership rules) cannot be judged.
With --peers, every scan also fetches the other nodes' exporters' bundles
(/bundle) and checks all the members together: etcdpki_findings and the
verdict are then the cluster's, and etcdpki_peer_bundle_fresh{peer} and
etcdpki_peer_bundle_age_seconds{peer} say what each peer gave. A peer that
does not answer is a scan error: its last bundle is still judged, and no
verdict is claimed (etcdpki_check_cluster_forms 0) until it answers again.
--peers auto finds the peers in the live cluster's member list (--probe):
each member's peer URL host, at --peer-port. --peers dns+http://NAME:PORT
fetches every address NAME resolves to at each scan: a headless Service's
name, which resolves to every exporter pod of a DaemonSet. A list may name
this exporter too (one list for every node): it knows itself and skips it
(with --once, which serves nothing, by its members' certificates). A peer
gone from the list (its address no longer resolved) stays, stale and an
error, until another peer holds its members or the member list (--probe)
drops them; with --probe, a member of the live member list that no bundle
holds is an error too.
The certificate series stay this node's own.

/metrics serves the metrics, /bundle the node's public facts as 'etcdpki
collect' writes them (check reads it as the node; peers' exporters fetch
it), / a page with the verdict, the findings by member, the expiry table
and the trust graph. SIGINT or SIGTERM shuts the server down gracefully. --once prints the metrics once and exits, e.g.
for node_exporter's textfile collector.`,
		Example: `  etcdpki exporter /etc/kubernetes                 # serves :9794
  etcdpki exporter --listen 127.0.0.1:9794 --interval 5m --probe cp1/ cp2/ cp3/
  etcdpki exporter --once /etc/kubernetes > /var/lib/node_exporter/textfile/etcdpki.prom
  etcdpki exporter --peers 10.0.0.12:9794,10.0.0.13:9794 /etc/kubernetes   # the cluster's verdict, on cp1
  # alert: x509_cert_expires_in_seconds{kind!="ca"} < 30*86400 or etcdpki_findings{severity="error"} > 0`,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			v := currentVersion()
			opts := exporter.Options{Dirs: dirs, BuildInfo: exporter.BuildInfo{Version: v.Etcdpki, Go: v.Go, Etcd: v.Etcd}}
			if len(dirs) == 0 {
				return withHint(usagef("no member directories given"), "give one directory per member, or init's output directory")
			}
			if mf.layout != "" {
				if _, err := member.LookupDistribution(mf.layout); err != nil {
					return usagef("--layout: %v", err)
				}
			}
			opts.Discover = member.DiscoverOptions{Layout: mf.layout, SettingsFile: mf.etcdFlags}
			opts.StripPrefix = stripPrefix
			if mf.config != "" {
				c, err := spec.Load(mf.config)
				if err != nil {
					return err
				}
				opts.Spec = c
			}
			opts.WarnWithin = warnWindow(warnWithin)
			var err error
			if opts.Peers, err = exporter.ParsePeers(peers); err != nil {
				return usagef("--peers: %v", err)
			}
			if len(opts.Peers) == 1 && opts.Peers[0] == exporter.PeersAuto && !withProbe {
				return withHint(usagef("--peers auto reads the live cluster's member list, which needs --probe"), "add --probe with the client credentials (--cacert, --cert, --key), or list the peers' exporters")
			}
			opts.PeerPort, opts.PeerTimeout = peerPort, peerWait
			if withProbe {
				po, err := pf.resolve(cmd)
				if err != nil {
					return err
				}
				po.MemberDirs = dirs
				opts.Probe = &po
			}
			e := exporter.New(opts)
			stderr := cmd.ErrOrStderr()
			logErr := func(err error) { fmt.Fprintf(stderr, "etcdpki: scan: %v\n", err) }
			if once {
				scanErr := e.Scan(cmd.Context())
				if scanErr != nil {
					logErr(scanErr)
				}
				// The metrics say what failed too (etcdpki_scan_errors_total).
				if err := e.WriteText(cmd.OutOrStdout()); err != nil {
					return err
				}
				if scanErr != nil {
					return &silentError{code: exitFailure}
				}
				return nil
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(stderr, "etcdpki: serving metrics on http://%s/metrics, rescanning every %s\n", ln.Addr(), interval)
			if err := e.Serve(ctx, ln, interval, logErr); err != nil {
				return err
			}
			fmt.Fprintln(stderr, "etcdpki: shut down")
			return nil
		},
	}
	mf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&listen, "listen", exporter.DefaultListen, "serve HTTP on this `ADDR`, e.g. 127.0.0.1:9794 (the default port is not 9793, x509-certificate-exporter's)")
	f.DurationVar(&interval, "interval", exporter.DefaultInterval, "rescan the directories (and probe) this often")
	f.BoolVar(&once, "once", false, "scan once, print the metrics in Prometheus' text format and exit")
	warnWithin = durationVar(f, "warn-within", audit.DefaultWarnWithin, "check's expiry warning window for etcdpki_findings; 0 disables")
	f.BoolVar(&withProbe, "probe", false, "also probe the live cluster on every scan")
	pf.register(cmd, "with --probe: ")
	f.StringSliceVar(&peers, "peers", nil, "other nodes' exporters (`HOST:PORT`, URL or dns+http://NAME:PORT, comma-separated, or auto: from the member list, with --probe) whose bundles every scan fetches, to judge the whole cluster")
	_, defaultPort, _ := net.SplitHostPort(exporter.DefaultListen)
	f.StringVar(&peerPort, "peer-port", defaultPort, "with --peers auto: the `PORT` the peers' exporters listen on")
	f.StringVar(&stripPrefix, "strip-prefix", "", "remove this `PREFIX` from the filepath label: where the node's / is mounted, e.g. /host in a pod")
	f.DurationVar(&peerWait, "peer-timeout", exporter.DefaultPeerTimeout, "how long to wait for each peer's bundle")
	return cmd
}
