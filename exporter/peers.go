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
			if len(peers) > 1 {
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
	var out []string
	var errs []error
	for _, raw := range urls {
		if !strings.HasPrefix(raw, dnsPrefix) {
			out = append(out, raw)
			continue
		}
		u, err := url.Parse(strings.TrimPrefix(raw, dnsPrefix))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := lookup(lctx, u.Hostname())
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("peers: resolving %s: %w", u.Hostname(), err))
			continue
		}
		slices.Sort(addrs)
		for _, a := range slices.Compact(addrs) {
			v := *u
			v.Host = net.JoinHostPort(a, u.Port())
			if s := v.String(); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
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

// fetchPeers fetches every peer's bundle in parallel and returns, in
// urls' order, the state of each after this scan. Members of a bundle
// fetched earlier are kept when this fetch fails.
func (e *Exporter) fetchPeers(ctx context.Context, urls []string) []peerState {
	fetched := make([]peerState, len(urls))
	member.ForEach(len(urls), func(i int) {
		ms, collected, err := e.fetchBundle(ctx, urls[i])
		fetched[i] = peerState{url: urls[i], members: ms, collected: collected, fresh: err == nil, err: err}
		if errors.Is(err, errSelf) {
			fetched[i] = peerState{url: urls[i], fresh: true, self: true}
		}
	})
	e.peers.mu.Lock()
	defer e.peers.mu.Unlock()
	if e.peers.state == nil {
		e.peers.state = map[string]*peerState{}
	}
	out := make([]peerState, len(urls))
	for i, f := range fetched {
		if old := e.peers.state[f.url]; !f.fresh && old != nil {
			f.members, f.collected = old.members, old.collected
		}
		st := f
		e.peers.state[f.url] = &st
		out[i] = f
	}
	// Peers no longer listed (a member removed) are forgotten.
	for u := range e.peers.state {
		if !slices.Contains(urls, u) {
			delete(e.peers.state, u)
		}
	}
	return out
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
		client = http.DefaultClient
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

// unseen returns an error naming the members of the probe's member list
// that none of seen is, by name; nil when the list was not read.
func unseen(pr *probe.Report, seen []*member.Member) error {
	names := map[string]bool{}
	for _, m := range seen {
		names[m.Name] = true
	}
	var missing []string
	for _, m := range pr.Members {
		if m.NameFrom == "member list" && m.Name != "" && !names[m.Name] {
			missing = append(missing, m.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("peers: no bundle holds member %s of the cluster's member list: run an exporter on its node and list it in --peers", strings.Join(missing, ", "))
}
