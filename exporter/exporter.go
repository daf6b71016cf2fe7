// Package exporter serves an etcd cluster's certificate expiry, check
// findings and (optionally) live probe results as Prometheus metrics,
// rescanning the members' directories on an interval.
//
// The certificate metrics keep the names and labels of
// x509-certificate-exporter (x509_cert_not_after, x509_cert_expired, …
// with subject_CN, issuer_CN, serial_number, filepath), plus member and
// kind, so its dashboards and alerts work unchanged; what only etcdpki
// knows is under etcdpki_.
package exporter

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
	"github.com/etcdpki/etcdpki/spec"
)

// DefaultInterval is how often Serve rescans.
const DefaultInterval = time.Minute

// Options configure an Exporter.
type Options struct {
	// Dirs are the member directories, as for check; each is scanned on
	// its own, so one unreadable directory does not hide the others.
	Dirs []string
	// Spec, when set, names the members whose directories do not.
	Spec *spec.Cluster
	// Discover is how the directories are read, as check's --layout and
	// --etcd-flags say.
	Discover member.DiscoverOptions
	// StripPrefix is removed from the filepath label: the node's / is
	// mounted under it (a pod's /host), and alerts should name the path
	// on the node.
	StripPrefix string
	// WarnWithin is check's expiry warning window (audit.Options).
	WarnWithin time.Duration
	// Probe, when set, probes the live cluster on every scan.
	Probe *probe.Options
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BuildInfo labels etcdpki_build_info.
	BuildInfo BuildInfo
	// Peers are other nodes' exporters (ParsePeers' bundle URLs, or
	// PeersAuto): every scan fetches their bundles and checks this
	// node's members with theirs, for the cluster's verdict.
	Peers []string
	// PeerPort is the port PeersAuto assumes the peers' exporters
	// listen on; empty means DefaultListen's.
	PeerPort string
	// PeerTimeout bounds each peer's fetch; 0 means DefaultPeerTimeout.
	PeerTimeout time.Duration
	// PeerClient fetches the peers' bundles; nil means
	// http.DefaultClient.
	PeerClient *http.Client
	// LookupHost resolves the names of dns+ peers; nil means
	// net.DefaultResolver's.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// BuildInfo is what etcdpki_build_info says of the binary.
type BuildInfo struct{ Version, Go, Etcd string }

// DefaultListen is the exporter's default address: not 9793, which
// x509-certificate-exporter listens on (and 19793 its pprof), since
// operators often run both on a control-plane node.
const DefaultListen = ":9794"

// Exporter is a prometheus.Collector of the last scan's results.
type Exporter struct {
	opts       Options
	reg        *prometheus.Registry
	scanErrors atomic.Int64

	mu   sync.RWMutex
	last *snapshot

	peers peers
	// instance is a random ID served with /bundle (instanceHeader).
	instance string
	// interval is Serve's, for the page's refresh.
	interval time.Duration
	// firstScan, set by Serve, is closed when its first scan is done.
	firstScan chan struct{}
}

// snapshot is what one scan found.
type snapshot struct {
	at       time.Time
	duration time.Duration
	ok       bool
	certs    []certSample
	findings map[findingKey]int
	verdict  audit.Verdict
	members  int
	probe    *probe.Report // nil without --probe or when it failed
	probeOK  bool
	err      error
	// bundle is the scanned members' public facts, for /bundle.
	bundle []byte
	// report is check's report over every member seen: the scanned
	// ones and the peers'.
	report *audit.Report
	// seen are those members, for the page's expiry table and graph.
	seen []*member.Member
	// peers are the peers' states after this scan, in Options.Peers
	// order.
	peers []peerState
	// page is what / shows of the scan.
	page *page
}

type certSample struct {
	labels              []string // certLabels order
	notBefore, notAfter time.Time
}

type findingKey struct{ source, rule, severity, member string }

// New returns an Exporter with a registry of its own (nothing is
// registered globally), which Handler serves and WriteText writes.
func New(opts Options) *Exporter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Exporter{opts: opts, reg: prometheus.NewRegistry(), instance: rand.Text()}
	// Go's and the process's own metrics, as every Prometheus exporter
	// serves them.
	e.reg.MustRegister(e, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return e
}

// Registry is the exporter's own registry.
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// Scan reads every member directory, checks them and, if configured,
// probes the cluster, then replaces the metrics with what it found. It
// returns the scan's errors (unreadable directories, unusable probe
// credentials), which also count in etcdpki_scan_errors_total; what is wrong
// with the PKI itself is a finding, not an error.
func (e *Exporter) Scan(ctx context.Context) error {
	start := e.opts.Now()
	s := &snapshot{at: start, findings: map[findingKey]int{}}
	var errs []error
	var members []*member.Member
	for _, d := range e.opts.Dirs {
		ms, err := member.LoadDirs([]string{d}, e.opts.Spec, e.opts.Discover)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		members = append(members, ms...)
	}
	if e.opts.Probe != nil {
		po := *e.opts.Probe
		po.Now = start
		pr, err := probe.Run(ctx, po)
		if err != nil {
			errs = append(errs, fmt.Errorf("probe: %w", err))
		} else {
			s.probe, s.probeOK = pr, true
			for _, f := range pr.Findings {
				s.findings[findingKey{"probe", string(f.Rule), f.Severity.String(), f.Member}]++
			}
		}
	}
	// The peers' bundles make the view the cluster's: check judges the
	// conditions across members (R2, R3, membership) only over all of
	// them. A peer that did not answer is a scan error, so no verdict is
	// claimed, and its last bundle is still judged.
	all := members
	if urls := e.opts.Peers; len(urls) > 0 {
		var err error
		if urls[0] == PeersAuto {
			if urls, err = e.discoverPeers(s.probe, members); err != nil {
				errs = append(errs, err)
			}
		} else if urls, err = e.resolvePeers(ctx, urls); err != nil {
			errs = append(errs, err)
		}
		s.peers = e.fetchPeers(ctx, urls, members, memberList(s.probe))
		all = slices.Clone(members)
		for _, p := range s.peers {
			if p.self {
				continue
			}
			if p.err != nil {
				errs = append(errs, fmt.Errorf("peer %s: %w", p.url, p.err))
			}
			all = append(all, p.members...)
		}
	}
	// The live member list says who the cluster is: a member it names
	// that no bundle holds was not seen (no exporter on its node, or one
	// the peer list misses), and no verdict is claimed without it.
	if len(e.opts.Peers) > 0 && s.probe != nil {
		if err := unseen(s.probe, all); err != nil {
			errs = append(errs, err)
		}
	}
	// Check makes member names distinct, which the certificate series
	// rely on: take the samples after it.
	report := audit.Check(all, audit.Options{Now: start, WarnWithin: e.opts.WarnWithin})
	s.members, s.verdict, s.report = len(all), report.Verdict, report
	for _, f := range report.Findings {
		s.findings[findingKey{"check", string(f.Rule), f.Severity.String(), f.Member}]++
	}
	// Certificate series are this node's only: each peer's exporter
	// serves its own, and Prometheus scrapes them all.
	s.certs = certSamples(members, e.opts.StripPrefix)
	s.seen = all
	// The node's bundle, as etcdpki collect writes it: public facts only,
	// for an exporter elsewhere to judge the cluster across nodes.
	var err error
	if s.bundle, err = member.EncodeBundle(members, start); err != nil {
		errs = append(errs, fmt.Errorf("bundle: %w", err))
	}
	s.err = errors.Join(errs...)
	s.ok = s.err == nil
	s.page = buildPage(s)
	s.duration = e.opts.Now().Sub(start)
	e.scanErrors.Add(int64(len(errs)))
	e.mu.Lock()
	e.last = s
	e.mu.Unlock()
	return s.err
}

// certSamples lists every member's leaves (the first certificate of each
// file) and every CA in its trusted CA files, once per label set.
func certSamples(members []*member.Member, strip string) []certSample {
	var out []certSample
	seen := map[string]bool{}
	add := func(m *member.Member, kind pki.Kind, path string, c *x509.Certificate) {
		labels := []string{m.Name, string(kind), filepath.Base(path), nodePath(path, strip), c.Subject.CommonName, c.Issuer.CommonName, c.SerialNumber.String()}
		if k := strings.Join(labels, "\x00"); !seen[k] {
			seen[k] = true
			out = append(out, certSample{labels: labels, notBefore: c.NotBefore, notAfter: c.NotAfter})
		}
	}
	for _, m := range members {
		for _, f := range []*member.File{m.CA, m.PeerCA} {
			if f != nil {
				for _, c := range f.Certs {
					add(m, pki.KindCA, f.CertPath, c)
				}
			}
		}
		for _, kind := range pki.LeafKinds(true) {
			if c := m.Files[kind].Cert(); c != nil {
				add(m, kind, m.Files[kind].CertPath, c)
			}
		}
	}
	return out
}

// nodePath is path without the prefix the node's / is mounted at: /host
// and /host/etc/kubernetes/pki/etcd/peer.crt give
// /etc/kubernetes/pki/etcd/peer.crt. A path not under it is kept.
func nodePath(path, prefix string) string {
	prefix = strings.TrimSuffix(filepath.Clean("/"+prefix), "/")
	if prefix == "" {
		return path
	}
	if rest, ok := strings.CutPrefix(path, prefix); ok && strings.HasPrefix(rest, "/") {
		return rest
	}
	return path
}

// Run rescans every interval until ctx ends. It does not scan at once:
// call Scan first. onError, when not nil, hears each failed scan.
func (e *Exporter) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.Scan(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}

// WriteText writes the current metrics in Prometheus' text format, e.g.
// for node_exporter's textfile collector.
func (e *Exporter) WriteText(w io.Writer) error {
	mfs, err := e.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}
