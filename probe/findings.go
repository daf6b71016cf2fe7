package probe

import (
	"crypto/x509"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// impact is what a broken endpoint breaks.
func impact(port string) string {
	if port == PortPeer {
		return audit.BreaksPeers
	}
	return audit.BreaksClients
}

// endpointFindings turns one endpoint's results into findings.
func (p *prober) endpointFindings(ep *Endpoint) []audit.Finding {
	var out []audit.Finding
	add := func(rule audit.RuleID, breaks, format string, args ...any) {
		out = append(out, audit.NewFinding(rule, ep.Member, ep.URL, breaks, format, args...))
	}
	limit := fmt.Sprintf("%s (--timeout plus %s)", p.opts.Timeout+Slack, Slack)
	// What the time limit cut short is not shown to work: it counts
	// against the port.
	switch ep.cut {
	case cutTurn:
		add(audit.RuleProbeUnreachable, impact(ep.Port), "%s port not probed: the probe's time limit %s ran out before its turn (%d endpoints at a time)",
			ep.Port, limit, p.opts.Concurrency)
		return out
	case cutHandshake:
		add(audit.RuleProbeUnreachable, impact(ep.Port), "%s port did not complete a TLS handshake in the %dms it had before the probe's time limit %s ran out: %s",
			ep.Port, ep.Millis, limit, ep.Error)
		return out
	case cutChecks:
		var unrun []string
		for _, c := range []struct {
			name string
			v    *bool
		}{{"read", ep.ReadOK}, {"no-cert refusal", ep.NoCertRefused}, {"foreign-CA refusal", ep.ForeignCARefused}, {"TLS 1.1 refusal", ep.OldTLSRefused}} {
			if c.v == nil {
				unrun = append(unrun, c.name)
			}
		}
		breaks := ""
		if ep.ReadOK == nil {
			breaks = impact(ep.Port)
		}
		add(audit.RuleProbeUnreachable, breaks, "%s port served TLS, but the probe's time limit %s ran out before these checks finished: %s",
			ep.Port, limit, strings.Join(unrun, ", "))
	}
	if !ep.Reachable {
		switch {
		case strings.Contains(ep.Error, "first record does not look like a TLS handshake"):
			add(audit.RuleProbeNotTLS, impact(ep.Port), "%s port answers in plain text: %s", ep.Port, ep.Error)
		case ep.badURL:
			add(audit.RuleProbeUnreachable, impact(ep.Port), "cannot probe %s: %s", ep.URL, ep.Error)
		case ep.TCPOpen && strings.Contains(ep.Error, "deadline exceeded"):
			why := ""
			if ep.Port == PortClient {
				why = ": etcd serves its client port only once the member is ready (has joined the cluster)"
			}
			add(audit.RuleProbeUnreachable, impact(ep.Port), "%s port accepted TCP but did not complete a TLS handshake within %s%s", ep.Port, p.opts.Timeout, why)
		case ep.TCPOpen:
			add(audit.RuleProbeUnreachable, impact(ep.Port), "%s port accepted TCP but the TLS handshake failed: %s", ep.Port, ep.Error)
		default:
			add(audit.RuleProbeUnreachable, impact(ep.Port), "%s port unreachable within %s: %s", ep.Port, p.opts.Timeout, ep.Error)
		}
		return out
	}
	if s := ep.Served; s != nil {
		out = append(out, p.servedFindings(ep, s.cert)...)
	}
	if ep.ReadOK != nil && !*ep.ReadOK {
		if strings.Contains(ep.Error, "not an etcd endpoint") {
			add(audit.RuleProbeNotEtcd, impact(ep.Port), "%s", lastPart(ep.Error))
		} else {
			add(audit.RuleProbeClientRefused, impact(ep.Port), "with the probe's client cert (%q): %s", p.client.Leaf.Subject.CommonName,
				strings.TrimPrefix(lastPart(ep.Error), clientCertPrefix))
		}
	}
	if ep.NoCertRefused != nil && !*ep.NoCertRefused {
		add(audit.RuleProbeNoClientAuth, "", "the %s port served a client that sent no certificate", ep.Port)
	}
	if ep.ForeignCARefused != nil && !*ep.ForeignCARefused {
		add(audit.RuleProbeForeignCA, "", "the %s port served a client whose certificate is from a foreign CA", ep.Port)
	}
	if ep.OldTLSRefused != nil && !*ep.OldTLSRefused {
		add(audit.RuleProbeOldTLS, "", "the %s port completed a TLS 1.0/1.1 handshake", ep.Port)
	}
	return out
}

func lastPart(s string) string {
	if i := strings.LastIndex(s, "; "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// servedFindings applies the certificate rules to what an endpoint served:
// the chain (R1; R2 is decided across members), the dialed name (R4), key
// usage and validity.
func (p *prober) servedFindings(ep *Endpoint, cert *x509.Certificate) []audit.Finding {
	var out []audit.Finding
	add := func(rule audit.RuleID, breaks, format string, args ...any) {
		out = append(out, audit.NewFinding(rule, ep.Member, ep.URL, breaks, format, args...))
	}
	peer := ep.Port == PortPeer
	pick := func(client, peerRule audit.RuleID) audit.RuleID {
		if peer {
			return peerRule
		}
		return client
	}
	if ep.ChainOK != nil && !*ep.ChainOK {
		// Classify by hand so each cause gets its own rule: the signature
		// (R1; R2 is decided across the member's ports), then the usage;
		// validity is judged below.
		signed := false
		for _, ca := range p.cas {
			if pki.SignedBy(cert, ca) == nil {
				signed = true
			}
		}
		if !signed {
			add(pick(audit.RuleServerCA, audit.RulePeerCA), impact(ep.Port), "served certificate %q (issuer %q) is not signed by the CA given (%s)",
				cert.Subject.CommonName, cert.Issuer.CommonName, p.opts.CACert)
		}
		if !audit.AllowsServerAuth(cert) {
			add(pick(audit.RuleEKUServer, audit.RuleEKUPeerServer), impact(ep.Port), "served certificate lacks serverAuth")
		}
	}
	now := p.opts.Now
	switch {
	case now.After(cert.NotAfter):
		add(audit.RuleExpired, impact(ep.Port), "served certificate %q expired %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		add(audit.RuleNotYetValid, impact(ep.Port), "served certificate %q is valid only from %s", cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.RFC3339))
	case cert.NotAfter.Sub(now) < p.opts.WarnWithin:
		add(audit.RuleExpiring, "", "served certificate %q expires %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if ep.NameOK != nil && !*ep.NameOK {
		add(pick(audit.RuleServerSAN, audit.RulePeerSAN), impact(ep.Port), "served certificate does not name the dialed host %s (it names %s)",
			hostOf(ep.URL), strings.Join(append(append([]string{}, ep.Served.DNSNames...), ep.Served.IPs...), ", "))
	}
	return out
}

// crossEndpoint applies the rules that compare members live: one CA for
// all (R2) and no certificate served by two members (R3).
func crossEndpoint(eps []Endpoint) []audit.Finding {
	var out []audit.Finding
	// R3: the same key served by more than one member (the same cert,
	// or certs re-issued for one key).
	byFP := map[string][]*Endpoint{}
	for i := range eps {
		if s := eps[i].Served; s != nil {
			k := string(s.cert.RawSubjectPublicKeyInfo)
			byFP[k] = append(byFP[k], &eps[i])
		}
	}
	var fps []string
	for fp, list := range byFP {
		members := map[string]bool{}
		for _, e := range list {
			members[e.Member] = true
		}
		if len(members) > 1 {
			fps = append(fps, fp)
		}
	}
	sort.Strings(fps)
	for _, fp := range fps {
		var who []string
		for _, e := range byFP[fp] {
			who = append(who, e.Member+" "+e.URL)
		}
		for _, e := range byFP[fp] {
			out = append(out, audit.NewFinding(audit.RuleSharedLeaf, e.Member, e.URL, "", "the same key is served by %s: one leaked key impersonates all of them", strings.Join(who, ", ")))
		}
	}
	return out
}

// r2Rewrite turns a member's R1 findings into one R2 finding when the
// member trusts another CA than the cluster's: it serves a cert the
// cluster CA does not verify and refuses the probe's client cert, which
// the cluster CA signed. A member that serves a stray cert but accepts the
// cluster's clients has the right CA and one wrong leaf: R1 stays.
func r2Rewrite(eps []Endpoint, fs []audit.Finding) []audit.Finding {
	ownCA := map[string]bool{}
	for _, e := range eps {
		if e.ChainOK != nil && !*e.ChainOK && e.ReadOK != nil && !*e.ReadOK && refusedClient(e.Error) {
			ownCA[e.Member] = true
		}
	}
	var out []audit.Finding
	reported := map[string]bool{}
	for _, f := range fs {
		if ownCA[f.Member] && (f.Rule == audit.RuleServerCA || f.Rule == audit.RulePeerCA) {
			if !reported[f.Member] {
				reported[f.Member] = true
				out = append(out, audit.NewFinding(audit.RuleCAMismatch, f.Member, f.File, audit.BreaksBoth,
					"%s serves a certificate the cluster CA does not verify and refuses clients the cluster CA signed: it holds a CA of its own", f.Member))
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

// refusedClient reports whether a TLS error says our client cert was
// refused by the server.
func refusedClient(err string) bool {
	for _, s := range []string{"unknown certificate authority", "bad certificate", "certificate required"} {
		if strings.Contains(err, s) {
			return true
		}
	}
	return false
}

// diskFindings compares served certificates with the members' files. A
// served endpoint is matched to a directory's member by name or, when the
// names differ (a probe without MemberList names endpoints by host), by
// a URL the member's settings give; a directory's member that matches no
// live member is a finding, not a comparison quietly skipped.
func diskFindings(dirs []string, eps []Endpoint) ([]audit.Finding, error) {
	onDisk := map[string]map[string]string{} // member → port → fingerprint
	paths := map[string]map[string]string{}
	byAddr := map[string]string{} // dialed address → member
	members, err := member.LoadDirs(dirs, nil, member.DiscoverOptions{})
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		onDisk[m.Name] = map[string]string{}
		paths[m.Name] = map[string]string{}
		for port, kind := range map[string]pki.Kind{PortClient: pki.KindServer, PortPeer: pki.KindPeer} {
			if f := m.Files[kind]; f.Cert() != nil {
				onDisk[m.Name][port] = pki.Fingerprint(f.Cert())
				paths[m.Name][port] = f.CertPath
			}
		}
		for _, u := range append(append([]string{}, m.ClientURLs...), m.PeerURLs...) {
			if a, err := hostPort(u); err == nil {
				byAddr[a] = m.Name
			}
		}
	}
	var out []audit.Finding
	matched := map[string]bool{}
	var live []string
	for _, e := range eps {
		if !slices.Contains(live, e.Member) {
			live = append(live, e.Member)
		}
		name := e.Member
		if _, ok := onDisk[name]; !ok {
			a, _ := hostPort(e.URL)
			name = byAddr[a]
		}
		if _, ok := onDisk[name]; !ok {
			continue
		}
		matched[name] = true
		want, ok := onDisk[name][e.Port]
		if !ok || e.Served == nil {
			continue
		}
		if want != e.Served.Fingerprint {
			out = append(out, audit.NewFinding(audit.RuleProbeDiskMismatch, e.Member, e.URL, "",
				"serves %s… but %s holds %s…", e.Served.Fingerprint[:23], paths[name][e.Port], want[:23]))
		}
	}
	sort.Strings(live)
	for _, m := range members {
		if !matched[m.Name] {
			dir := strings.Join(dirs, ", ")
			if m.Input != nil {
				dir = m.Input.Dir
			}
			out = append(out, audit.NewFinding(audit.RuleProbeDiskMismatch, m.Name, dir, "",
				"member %s (from %s) matches no live member by name or URL, so its files were compared with nothing served; the live members are %s",
				m.Name, dir, listSome(live)))
		}
	}
	return out, nil
}
