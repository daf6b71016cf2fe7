package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// SchemaVersion identifies the probe report format; it extends the check
// report (audit.SchemaVersion) with the endpoints.
const SchemaVersion = "etcdpki.io/probe/v1"

// Ports of an etcd member.
const (
	PortClient = "client"
	PortPeer   = "peer"
)

// Limits of a probe.
const (
	// Slack is what a probe may take past Options.Timeout: Run returns
	// within Timeout+Slack however many endpoints black-hole or answer
	// slowly, for the cleanup of what the deadline cut short.
	Slack = 500 * time.Millisecond
	// MaxDiscovered caps how many URLs learnt from MemberList are probed
	// (the given endpoints always are): enough for a 32-member cluster's
	// client and peer URLs, and few enough to probe all at once within
	// one timeout. The URLs past it are named in a finding.
	MaxDiscovered = 64
)

// Options configure a probe.
type Options struct {
	// Endpoints are client URLs to start from (etcdctl's --endpoints).
	Endpoints []string
	// CACert, Cert and Key are files, as etcdctl's --cacert, --cert, --key.
	CACert, Cert, Key string
	// Timeout bounds each network step (dial, handshake, read), and
	// Timeout+Slack the whole probe; default 2s.
	Timeout time.Duration
	// NoDiscover probes only Endpoints, without asking for MemberList.
	NoDiscover bool
	// MemberDirs are the members' certificate directories (as for check);
	// when given, the served certs are compared with the files.
	MemberDirs []string
	// Now and WarnWithin judge validity, as in audit.Options.
	Now        time.Time
	WarnWithin time.Duration
	// Concurrency bounds simultaneous endpoint probes (each makes up to
	// four connections at once) and MemberList calls; default 64.
	Concurrency int
}

// Endpoint is what one URL served and refused.
type Endpoint struct {
	Member string `json:"member,omitempty"`
	URL    string `json:"url"`
	Port   string `json:"port"`
	// Reachable is true when the endpoint served its certificate in a TLS
	// handshake (which, over TLS 1.2, ends there if it refuses the
	// probe's client cert); TCPOpen, for an unreachable endpoint, whether
	// it accepted a TCP connection.
	Reachable  bool        `json:"reachable"`
	TCPOpen    bool        `json:"tcpOpen,omitempty"`
	TLSVersion string      `json:"tlsVersion,omitempty"`
	Served     *ServedCert `json:"served,omitempty"`
	// The checks: nil when not run (e.g. unreachable).
	ChainOK          *bool  `json:"chainOK,omitempty"`
	NameOK           *bool  `json:"nameOK,omitempty"`
	NoCertRefused    *bool  `json:"noCertRefused,omitempty"`
	ForeignCARefused *bool  `json:"foreignCARefused,omitempty"`
	OldTLSRefused    *bool  `json:"oldTLSRefused,omitempty"`
	ReadOK           *bool  `json:"readOK,omitempty"`
	Error            string `json:"error,omitempty"`
	Millis           int64  `json:"millis"`

	badURL   bool // the URL could not be dialed at all
	given    bool // one of Options.Endpoints, probed as a client port
	unlisted bool // given, on a host the member list does not name
	etcd     bool // answered GET /version as etcd
	// cut is what the probe's time limit interrupted: cutTurn, cutHandshake,
	// cutChecks, or empty.
	cut string
}

// What the time limit cut short, as Endpoint.cut.
const (
	cutTurn      = "turn"
	cutHandshake = "handshake"
	cutChecks    = "checks"
)

// errTimeLimit ends a probe at Options.Timeout+Slack.
var errTimeLimit = errors.New("the probe's time limit ran out")

// ServedCert describes the leaf certificate an endpoint served.
type ServedCert struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	Fingerprint string    `json:"fingerprint"`
	NotAfter    time.Time `json:"notAfter"`
	DNSNames    []string  `json:"dnsNames,omitempty"`
	IPs         []string  `json:"ips,omitempty"`

	cert *x509.Certificate
	akid string
}

// Report is a probe's result: the check report's members, findings and
// verdict, plus every endpoint probed.
type Report struct {
	audit.Report
	Endpoints []Endpoint `json:"endpoints"`
}

// Run probes the cluster. It returns an error only for unusable options
// (unreadable cert files); everything the cluster does wrong is a finding.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.WarnWithin == 0 {
		opts.WarnWithin = audit.DefaultWarnWithin
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("no endpoints given")
	}
	p, err := newProber(opts)
	if err != nil {
		return nil, err
	}
	// One deadline for everything: each step's own timeout (dial,
	// handshake, read) is cut short by it.
	ctx, cancel := context.WithDeadlineCause(ctx, time.Now().Add(opts.Timeout+Slack), errTimeLimit)
	defer cancel()
	var findings []audit.Finding
	// The given endpoints are probed while MemberList is asked, so that
	// endpoints that black-hole both cost one timeout, not two.
	given := givenTargets(opts.Endpoints)
	var wg sync.WaitGroup
	givenEps := p.probeAll(ctx, &wg, given)
	members, err := p.discover(ctx)
	if err != nil {
		findings = append(findings, audit.NewFinding(audit.RuleProbeDiscovery, "", "", audit.BreaksClients,
			"MemberList through %s failed: %v; probing the given endpoints only", strings.Join(opts.Endpoints, ", "), err))
	}
	listed, skipped := listedTargets(members, given)
	if len(skipped) > 0 {
		findings = append(findings, skippedFinding(len(listed)+len(skipped), skipped))
	}
	listedEps := p.probeAll(ctx, &wg, listed)
	wg.Wait()
	eps := nameGiven(members, append(givenEps, listedEps...))
	nameAliases(eps)
	for i := range eps {
		findings = append(findings, p.endpointFindings(&eps[i])...)
	}
	findings = r2Rewrite(eps, findings)
	findings = append(findings, crossEndpoint(eps)...)
	if len(opts.MemberDirs) > 0 {
		disk, err := diskFindings(opts.MemberDirs, eps)
		if err != nil {
			return nil, err
		}
		findings = append(findings, disk...)
	}
	sort.Slice(members, func(i, j int) bool { return members[i].name < members[j].name })
	sort.SliceStable(eps, func(i, j int) bool {
		if eps[i].Member != eps[j].Member {
			return eps[i].Member < eps[j].Member
		}
		return eps[i].Port < eps[j].Port
	})
	var summaries []audit.MemberSummary
	for _, m := range members {
		summaries = append(summaries, audit.MemberSummary{Name: m.name, NameFrom: "member list", ClientURLs: m.clientURLs, PeerURLs: m.peerURLs, Files: []string{}})
	}
	if len(summaries) == 0 {
		for _, t := range given {
			summaries = append(summaries, audit.MemberSummary{Name: t.member, NameFrom: "endpoint", ClientURLs: []string{t.url}, Files: []string{}})
		}
	}
	r := &Report{Report: *audit.NewReport(SchemaVersion, opts.Now, summaries, findings), Endpoints: eps}
	if len(members) == 0 && !slices.ContainsFunc(eps, func(e Endpoint) bool { return e.etcd }) {
		// The verdict counts the endpoints as members with no
		// peer-breaking finding, and so as a cluster that forms; but
		// nothing answered as etcd, so nothing shows a cluster at all.
		r.Verdict.ClusterForms, r.Verdict.ClientsConnect = false, false
		r.Verdict.Summary = fmt.Sprintf("no endpoint answered as etcd (%d probed, MemberList failed): nothing shows that a cluster forms or that clients connect", len(eps))
	}
	return r, nil
}

type prober struct {
	opts    Options
	roots   *x509.CertPool
	cas     []*x509.Certificate
	client  tls.Certificate
	foreign tls.Certificate
	// sem bounds the endpoint probes in flight (Concurrency).
	sem chan struct{}
}

func newProber(opts Options) (*prober, error) {
	p := &prober{opts: opts, roots: x509.NewCertPool(), sem: make(chan struct{}, opts.Concurrency)}
	cas, err := layout.ReadCerts(opts.CACert)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	for _, c := range cas {
		p.roots.AddCert(c)
	}
	p.cas = cas
	kp, err := layout.ReadKeyPair(opts.Cert, opts.Key)
	if err != nil {
		return nil, fmt.Errorf("--cert/--key: %w", err)
	}
	p.client = tls.Certificate{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}
	if p.foreign, err = foreignClientCert(); err != nil {
		return nil, err
	}
	return p, nil
}

type memberInfo struct {
	name                 string
	clientURLs, peerURLs []string
}

// discover asks the cluster for its members through every given endpoint
// at once and takes the first answer, so that endpoints that black-hole
// cost one timeout, not one each.
func (p *prober) discover(ctx context.Context) ([]memberInfo, error) {
	if p.opts.NoDiscover {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		i       int
		members []memberInfo
		err     error
	}
	answers := make(chan answer, len(p.opts.Endpoints))
	sem := make(chan struct{}, p.opts.Concurrency)
	for i, ep := range p.opts.Endpoints {
		go func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				answers <- answer{i, nil, ctx.Err()}
				return
			}
			ms, err := p.memberList(ctx, ep)
			answers <- answer{i, ms, err}
		}()
	}
	errs := make([]error, len(p.opts.Endpoints))
	for range p.opts.Endpoints {
		a := <-answers
		if a.err == nil {
			return a.members, nil
		}
		errs[a.i] = a.err
	}
	return nil, errs[0]
}

func (p *prober) memberList(ctx context.Context, ep string) ([]memberInfo, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{ep},
		TLS:         p.tlsConfig(ep, true),
		DialTimeout: p.opts.Timeout,
		Logger:      zap.NewNop(),
		Context:     ctx,
	})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	resp, err := cli.MemberList(ctx)
	if err != nil {
		// gRPC reports TLS failures as a deadline; the endpoint probe
		// shows the real TLS error.
		return nil, err
	}
	var out []memberInfo
	for _, m := range resp.Members {
		name := m.Name
		if name == "" {
			name = fmt.Sprintf("%x (not started)", m.ID)
		}
		out = append(out, memberInfo{name: name, clientURLs: m.ClientURLs, peerURLs: m.PeerURLs})
	}
	return out, nil
}

// tlsConfig is a verifying client config for url with our client cert.
func (p *prober) tlsConfig(rawURL string, withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: p.roots, ServerName: hostOf(rawURL), MinVersion: tls.VersionTLS12}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.client}
	}
	return cfg
}

type target struct {
	member, url, port string
	// addr is what url dials; empty when it cannot be dialed.
	addr string
	// given is one of Options.Endpoints, probed as a client port.
	given bool
}

func newTarget(member, url, port string) target {
	t := target{member: member, url: url, port: port}
	t.addr, _ = hostPort(url)
	return t
}

// key identifies what a target dials: URLs that dial the same address
// (https://10.0.0.11:2379, 10.0.0.11:2379, …/) are probed once.
func (t target) key() string {
	if t.addr != "" {
		return t.addr
	}
	return t.url
}

// givenTargets are the given endpoints, each probed as a client port and
// named after its host until the member list names it (nameGiven).
func givenTargets(given []string) []target {
	seen := map[string]bool{}
	var ts []target
	for _, u := range given {
		if t := newTarget(hostOf(u), u, PortClient); !seen[t.key()] {
			seen[t.key()] = true
			t.given = true
			ts = append(ts, t)
		}
	}
	return ts
}

// listedTargets are the members' client and peer URLs that given does not
// already probe, in member order, the first MaxDiscovered of them; skipped
// are the rest. A given endpoint that is a member's peer URL is probed
// again, as a peer port (the client-port probe reads KV through it),
// whatever the cap.
func listedTargets(members []memberInfo, given []target) (listed, skipped []target) {
	isGiven := map[string]bool{}
	for _, t := range given {
		isGiven[t.key()] = true
	}
	seen := map[string]bool{}
	discovered := 0
	add := func(t target) {
		k := t.key()
		switch {
		case seen[k]:
		case isGiven[k] && t.port == PortClient:
		case isGiven[k]:
			listed = append(listed, t)
		case discovered == MaxDiscovered:
			skipped = append(skipped, t)
		default:
			discovered++
			listed = append(listed, t)
		}
		seen[k] = true
	}
	for _, m := range members {
		for _, u := range m.clientURLs {
			add(newTarget(m.name, u, PortClient))
		}
		for _, u := range m.peerURLs {
			add(newTarget(m.name, u, PortPeer))
		}
	}
	return listed, skipped
}

// skippedFinding names the listed URLs past MaxDiscovered: the report's
// members still list every URL.
func skippedFinding(n int, skipped []target) audit.Finding {
	var names []string
	for _, t := range skipped {
		names = append(names, t.member+" "+t.url)
	}
	return audit.NewFinding(audit.RuleProbeUnreachable, "", "", "",
		"MemberList lists %d URLs to probe, more than the %d a probe dials; %d were not probed: %s (the report's members list every URL)",
		n, MaxDiscovered, len(skipped), listSome(names))
}

// listSome joins the first few of names, and counts the rest, so that a
// detail stays one readable line.
func listSome(names []string) string {
	const shown = 8
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}

// nameGiven names the endpoints of the given URLs after the members:
// a member's own URL after it (and as the list spells it), and a given URL the list does not have
// after the member whose peer URL has the same host (a member that has
// not published itself, not ready, is listed with its peer URLs only).
// It drops the client-port probe of a given URL that is a member's peer
// URL, which listedTargets probed again as a peer port.
func nameGiven(members []memberInfo, eps []Endpoint) []Endpoint {
	if len(members) == 0 {
		return eps
	}
	type listed struct{ member, url string }
	owner := map[string]listed{}
	byHost := map[string]string{}
	peerAddr := map[string]bool{}
	for _, m := range members {
		for _, u := range m.clientURLs {
			if a, err := hostPort(u); err == nil {
				owner[a] = listed{m.name, u}
			}
		}
		for _, u := range m.peerURLs {
			byHost[hostOf(u)] = m.name
			if a, err := hostPort(u); err == nil {
				peerAddr[a] = true
			}
		}
	}
	out := eps[:0]
	for _, e := range eps {
		if !e.given {
			out = append(out, e)
			continue
		}
		a, _ := hostPort(e.URL)
		switch m, ok := owner[a]; {
		case a != "" && peerAddr[a] && !ok:
			continue
		case ok:
			e.Member, e.URL = m.member, m.url
		case byHost[hostOf(e.URL)] != "":
			e.Member = byHost[hostOf(e.URL)]
		default:
			e.unlisted = true
		}
		out = append(out, e)
	}
	return out
}

// nameAliases names each given endpoint on a host that MemberList did not
// list (a DNS name, a load balancer) after the listed member that serves
// the same key: it is that member reached another way, not a second member serving
// the member's key (R3).
func nameAliases(eps []Endpoint) {
	owner := map[string]string{}
	for _, e := range eps {
		if !e.unlisted && e.Served != nil {
			owner[string(e.Served.cert.RawSubjectPublicKeyInfo)] = e.Member
		}
	}
	for i := range eps {
		if e := &eps[i]; e.unlisted && e.Served != nil {
			if m, ok := owner[string(e.Served.cert.RawSubjectPublicKeyInfo)]; ok {
				e.Member = m
			}
		}
	}
}

// probeAll starts probing targets concurrently, bounded by Concurrency
// across calls, and returns the slice the probes fill in by wg.Wait().
// A target still waiting for its turn when ctx ends is not probed.
func (p *prober) probeAll(ctx context.Context, wg *sync.WaitGroup, ts []target) []Endpoint {
	eps := make([]Endpoint, len(ts))
	for i, t := range ts {
		wg.Go(func() {
			select {
			case p.sem <- struct{}{}:
				defer func() { <-p.sem }()
				eps[i] = p.probe(ctx, t)
			case <-ctx.Done():
				eps[i] = Endpoint{Member: t.member, URL: t.url, Port: t.port, Error: "not probed: " + context.Cause(ctx).Error(), cut: cutTurn}
			}
			eps[i].given = t.given
		})
	}
	return eps
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		h, _, err := net.SplitHostPort(rawURL)
		if err == nil {
			return h
		}
		return rawURL
	}
	return u.Hostname()
}

// hostPort is the address to dial for an endpoint URL. Like etcdctl, it
// takes a bare host:port too, which it dials with TLS.
func hostPort(rawURL string) (string, error) {
	if !strings.Contains(rawURL, "://") {
		if _, port, err := net.SplitHostPort(rawURL); err == nil && port != "" {
			return rawURL, nil
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("URL scheme %q: want https://HOST:PORT", u.Scheme)
	}
	if u.Port() == "" {
		return "", fmt.Errorf("no port in %q", rawURL)
	}
	return u.Host, nil
}

func boolp(b bool) *bool { return &b }

func describe(c *x509.Certificate) *ServedCert {
	s := &ServedCert{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: pki.Serial(c),
		Fingerprint: pki.Fingerprint(c), NotAfter: c.NotAfter.UTC(), DNSNames: c.DNSNames,
		cert: c, akid: hex.EncodeToString(c.AuthorityKeyId),
	}
	for _, ip := range c.IPAddresses {
		s.IPs = append(s.IPs, ip.String())
	}
	if s.akid == "" {
		s.akid = "issuer:" + c.Issuer.String()
	}
	return s
}
