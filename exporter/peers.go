package exporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/etcdpki/etcdpki/internal/readfile"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
)

// PeersAuto, as the only entry of Options.Peers, discovers the peers from
// the live cluster's member list (which needs Options.Probe): every member
// but the scanned ones, at the host of its first peer URL and PeerPort.
const PeersAuto = "auto"

// DefaultPeerTimeout bounds the fetch of one peer's bundle.
const DefaultPeerTimeout = 5 * time.Second

// dnsPrefix marks a peer URL whose host name resolves, at every scan, to
// the addresses of all the exporters (dns+http://NAME:PORT, as Thanos and
// Cortex name DNS service discovery): a Kubernetes headless Service's
// name resolves to every ready pod's address, so a DaemonSet's exporters
// find each other with no list to keep.
const dnsPrefix = "dns+"

// ParsePeers normalises peer addresses to the URLs of their bundles:
// "host:port", "http://host:port" and "https://host:port/prefix" all name
// the exporter there, whose bundle is at /bundle; a URL whose path already
// ends in /bundle is kept. "dns+http://NAME:PORT" names every address
// NAME resolves to, at each scan. PeersAuto is kept as it is. The error
// names the address that is not one.
func ParsePeers(peers []string) ([]string, error) {
	var out []string
	for _, p := range peers {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if p == PeersAuto {
			if n := slices.IndexFunc(peers, func(q string) bool { q = strings.TrimSpace(q); return q != "" && q != PeersAuto }); n >= 0 {
				return nil, fmt.Errorf("%q discovers every peer from the member list: give it alone, or list the peers", PeersAuto)
			}
			return []string{PeersAuto}, nil
		}
		dns := strings.HasPrefix(p, dnsPrefix)
		p = strings.TrimPrefix(p, dnsPrefix)
		if !strings.Contains(p, "://") {
			p = "http://" + p
		}
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("peer %q is not an exporter's address (host:port, http://host:port or dns+http://name:port)", p)
		}
		if dns && u.Port() == "" {
			return nil, fmt.Errorf("peer %q: give the exporters' port (dns+http://name:9794)", p)
		}
		if !strings.HasSuffix(u.Path, "/bundle") {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/bundle"
		}
		s := u.String()
		if dns {
			s = dnsPrefix + s
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// resolvePeers expands every dns+ URL of urls to one URL per address its
// host resolves to now (Options.LookupHost), sorted; other URLs are kept.
// A name that does not resolve is an error naming it, and the other
// entries are still returned.
func (e *Exporter) resolvePeers(ctx context.Context, urls []string) ([]string, error) {
	lookup := e.opts.LookupHost
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	// The names are resolved at once, each within 5 s.
	resolved := make([][]string, len(urls))
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, raw := range urls {
		if !strings.HasPrefix(raw, dnsPrefix) {
			resolved[i] = []string{raw}
			continue
		}
		wg.Go(func() {
			u, err := url.Parse(strings.TrimPrefix(raw, dnsPrefix))
			if err != nil {
				errs[i] = err
				return
			}
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			addrs, err := lookup(lctx, u.Hostname())
			if err != nil {
				errs[i] = fmt.Errorf("peers: resolving %s: %w", u.Hostname(), err)
				return
			}
			slices.Sort(addrs)
			for _, a := range slices.Compact(addrs) {
				v := *u
				v.Host = net.JoinHostPort(a, u.Port())
				resolved[i] = append(resolved[i], v.String())
			}
		})
	}
	wg.Wait()
	var out []string
	for _, r := range resolved {
		for _, s := range r {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if len(out) > maxPeers {
		errs = append(errs, fmt.Errorf("peers: %d addresses, more than the %d a scan fetches; the first %d are fetched", len(out), maxPeers, maxPeers))
		out = out[:maxPeers]
	}
	return out, errors.Join(errs...)
}

// peerState is what the exporter knows of one peer: the last bundle it
// fetched, which it keeps judging when a later fetch fails (certificates
// rarely change), and whether this scan's fetch worked.
type peerState struct {
	url       string
	members   []*member.Member
	collected time.Time // the bundle's collectedAt
	fresh     bool      // fetched in the last scan
	err       error     // the last scan's fetch error
	// self is true when the URL is this exporter's own: one peer list
	// given to every node (a DaemonSet's arguments) names each node too.
	self bool
}

// instanceHeader carries an exporter's random instance ID on /bundle, by
// which an exporter knows its own address in a peer list.
const instanceHeader = "Etcdpki-Exporter-Instance"

// peers is the exporter's view of its peers, by URL.
type peers struct {
	mu    sync.Mutex
	state map[string]*peerState
}

// maxPeers bounds how many peers a scan fetches at once, and how many
// addresses the dns+ names may resolve to: fetches wait on the network,
// not the CPU, so the bound is not GOMAXPROCS (a pod limited to 200m CPU
// has 2).
const maxPeers = 64

// fetchPeers fetches every peer's bundle at once and returns the state
// of each after this scan, in urls' order, then the peers gone from the
// list whose members no one else holds. Members of a bundle fetched
// earlier are kept when this fetch fails. A peer gone from the list (its
// address no longer resolved, its pod replaced or deleted) is forgotten
// once a peer still listed, or this node, holds its members, or the
// member list (listed, when known) no longer names them; until then it
// stays, stale, with an error, and its last bundle is judged.
func (e *Exporter) fetchPeers(ctx context.Context, urls []string, local []*member.Member, listed map[string]bool) []peerState {
	fetched := make([]peerState, len(urls))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxPeers)
	for i := range urls {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ms, collected, err := e.fetchBundle(ctx, urls[i])
			fetched[i] = peerState{url: urls[i], members: ms, collected: collected, fresh: err == nil, err: err}
			// This exporter, by its instance ID; or, when that cannot
			// tell (--once serves nothing), a bundle of this node's
			// own members.
			if errors.Is(err, errSelf) || (err == nil && sameNode(ms, local)) {
				fetched[i] = peerState{url: urls[i], fresh: true, self: true}
			}
		})
	}
	wg.Wait()
	e.peers.mu.Lock()
	defer e.peers.mu.Unlock()
	if e.peers.state == nil {
		e.peers.state = map[string]*peerState{}
	}
	out := make([]peerState, 0, len(urls))
	held := map[string]bool{}
	for _, m := range local {
		held[m.Name] = true
	}
	for _, f := range fetched {
		if old := e.peers.state[f.url]; !f.fresh && old != nil {
			f.members, f.collected = old.members, old.collected
		}
		for _, m := range f.members {
			held[m.Name] = true
		}
		st := f
		e.peers.state[f.url] = &st
		out = append(out, f)
	}
	var gone []string
	for u, st := range e.peers.state {
		if slices.Contains(urls, u) {
			continue
		}
		keep := false
		for _, m := range st.members {
			if !held[m.Name] && (listed == nil || listed[m.Name]) {
				keep = true
			}
		}
		if !keep {
			delete(e.peers.state, u)
			continue
		}
		st.fresh, st.err = false, errors.New("no longer among the peers (a dns+ name no longer resolves to it, or the member list no longer names its host), and no other peer holds its members")
		gone = append(gone, u)
	}
	slices.Sort(gone)
	for _, u := range gone {
		out = append(out, *e.peers.state[u])
	}
	return out
}

// sameNode reports whether a peer's members are this node's own: the
// same names with the same serving certificate (member names are unique
// in a cluster, and a certificate is a node's).
func sameNode(peer, local []*member.Member) bool {
	if len(peer) == 0 || len(peer) != len(local) {
		return false
	}
	for i, m := range peer {
		l := local[i]
		pc, lc := m.Files[pki.KindServer].Cert(), l.Files[pki.KindServer].Cert()
		if m.Name != l.Name || pc == nil || lc == nil || !bytes.Equal(pc.Raw, lc.Raw) {
			return false
		}
	}
	return true
}

// peerClient fetches peers' bundles: straight to the peer, never through
// a proxy from the environment (HTTP_PROXY set in a pod would send pod
// addresses to it), and never following a redirect elsewhere.
var peerClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// errSelf is fetchBundle's answer for this exporter's own URL.
var errSelf = errors.New("this exporter itself")

// fetchBundle GETs one peer's bundle, bounded in time (PeerTimeout) and
// size (readfile.MaxSize, as a bundle file is), and reads its members.
// The error says what failed: the connection, the status, the body.
func (e *Exporter) fetchBundle(ctx context.Context, u string) ([]*member.Member, time.Time, error) {
	timeout := e.opts.PeerTimeout
	if timeout <= 0 {
		timeout = DefaultPeerTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	client := e.opts.PeerClient
	if client == nil {
		client = peerClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, time.Time{}, fmt.Errorf("no answer within %s", timeout)
		}
		return nil, time.Time{}, errors.Unwrap(err) // the url.Error's cause: the URL is said by the caller
	}
	defer resp.Body.Close()
	if resp.Header.Get(instanceHeader) == e.instance {
		return nil, time.Time{}, errSelf
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, time.Time{}, fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, readfile.MaxSize+1))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading the bundle: %w", err)
	}
	if len(data) > readfile.MaxSize {
		return nil, time.Time{}, fmt.Errorf("the bundle is larger than %d bytes", readfile.MaxSize)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/") {
		return nil, time.Time{}, fmt.Errorf("answered %s, not a bundle: is this an etcdpki exporter's /bundle?", ct)
	}
	b, err := member.ReadBundle(bytes.NewReader(data))
	if err != nil {
		return nil, time.Time{}, err
	}
	ms, err := b.Load()
	if err != nil {
		return nil, time.Time{}, err
	}
	return ms, b.CollectedAt, nil
}

// discoverPeers lists the bundle URLs of the members the probe's member
// list names that are not among the scanned ones: the host of each one's
// first peer URL, at PeerPort. Without a member list it returns an error.
func (e *Exporter) discoverPeers(pr *probe.Report, local []*member.Member) ([]string, error) {
	if pr == nil {
		return nil, errors.New("peers: auto needs the live cluster's member list, and the probe did not run")
	}
	mine := map[string]bool{}
	for _, m := range local {
		mine[m.Name] = true
		for _, u := range m.PeerURLs {
			if h := urlHost(u); h != "" {
				mine[h] = true
			}
		}
	}
	port := e.opts.PeerPort
	if port == "" {
		_, port, _ = net.SplitHostPort(DefaultListen)
	}
	var out []string
	listed := false
	for _, m := range pr.Members {
		if m.NameFrom != "member list" {
			continue
		}
		listed = true
		if mine[m.Name] || len(m.PeerURLs) == 0 {
			continue
		}
		h := urlHost(m.PeerURLs[0])
		if h == "" || mine[h] {
			continue
		}
		out = append(out, "http://"+net.JoinHostPort(h, port)+"/bundle")
	}
	if !listed {
		return nil, errors.New("peers: auto needs the live cluster's member list, which the probe could not get")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// urlHost is the host of a URL, without port and brackets.
func urlHost(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// memberList is the names of the live member list the probe read, or nil
// without one. A member added but not started has no name there yet
// (probe names it "ID (not started)"); it is left out.
func memberList(pr *probe.Report) map[string]bool {
	if pr == nil {
		return nil
	}
	var names map[string]bool
	for _, m := range pr.Members {
		if m.NameFrom != "member list" {
			continue
		}
		if names == nil {
			names = map[string]bool{}
		}
		if m.Name != "" && !strings.HasSuffix(m.Name, "(not started)") {
			names[m.Name] = true
		}
	}
	return names
}

// unseen returns an error naming the members of the probe's member list
// that none of seen is, by name; nil when the list was not read.
func unseen(pr *probe.Report, seen []*member.Member) error {
	names := map[string]bool{}
	for _, m := range seen {
		names[m.Name] = true
	}
	var missing []string
	for name := range memberList(pr) {
		if !names[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("peers: no bundle holds member %s of the cluster's member list: run an exporter on its node and list it in --peers", strings.Join(missing, ", "))
}
