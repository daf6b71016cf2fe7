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

// Options configure a probe.
type Options struct {
	// Endpoints are client URLs to start from (etcdctl's --endpoints).
	Endpoints []string
	// CACert, Cert and Key are files, as etcdctl's --cacert, --cert, --key.
	CACert, Cert, Key string
	// Timeout bounds each network step (dial, handshake, read); default 2s.
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
	unlisted bool // given, on a host the member list does not name
}

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
	var findings []audit.Finding
	members, err := p.discover(ctx)
	if err != nil {
		findings = append(findings, audit.NewFinding(audit.RuleProbeDiscovery, "", "", audit.BreaksClients,
			"MemberList through %s failed: %v; probing the given endpoints only", strings.Join(opts.Endpoints, ", "), err))
	}
	targets := targetsFor(members, opts.Endpoints)
	eps := p.probeAll(ctx, targets)
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
		for _, t := range targets {
			summaries = append(summaries, audit.MemberSummary{Name: t.member, NameFrom: "endpoint", ClientURLs: []string{t.url}, Files: []string{}})
		}
	}
	r := &Report{Report: *audit.NewReport(SchemaVersion, opts.Now, summaries, findings), Endpoints: eps}
	return r, nil
}

type prober struct {
	opts    Options
	roots   *x509.CertPool
	cas     []*x509.Certificate
	client  tls.Certificate
	foreign tls.Certificate
}

func newProber(opts Options) (*prober, error) {
	p := &prober{opts: opts, roots: x509.NewCertPool()}
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
	// unlisted is a given endpoint on a host that MemberList did not
	// list.
	unlisted bool
}

// targetsFor lists every client and peer URL of the members, plus given
// endpoints that MemberList did not mention. URLs that dial the same
// address (https://10.0.0.11:2379, 10.0.0.11:2379, …/) are probed once.
func targetsFor(members []memberInfo, given []string) []target {
	seen := map[string]bool{}
	var ts []target
	add := func(t target) {
		k := t.url
		if addr, err := hostPort(t.url); err == nil {
			k = addr
		}
		if !seen[k] {
			seen[k] = true
			ts = append(ts, t)
		}
	}
	for _, m := range members {
		for _, u := range m.clientURLs {
			add(target{member: m.name, url: u, port: PortClient})
		}
		for _, u := range m.peerURLs {
			add(target{member: m.name, url: u, port: PortPeer})
		}
	}
	// A member that has not published itself (not ready) is in the list
	// with its peer URLs only; name a given endpoint after the member
	// whose peer URL has the same host.
	byHost := map[string]string{}
	for _, m := range members {
		for _, u := range m.peerURLs {
			byHost[hostOf(u)] = m.name
		}
	}
	for _, u := range given {
		name, unlisted := byHost[hostOf(u)], false
		if name == "" {
			name, unlisted = hostOf(u), len(members) > 0
		}
		add(target{member: name, url: u, port: PortClient, unlisted: unlisted})
	}
	return ts
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

// probeAll probes targets concurrently, bounded by Concurrency, so the
// whole probe takes about one timeout however many endpoints black-hole.
func (p *prober) probeAll(ctx context.Context, ts []target) []Endpoint {
	eps := make([]Endpoint, len(ts))
	sem := make(chan struct{}, p.opts.Concurrency)
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			eps[i] = p.probe(ctx, t)
		}()
	}
	wg.Wait()
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
