package probe

import (
	"crypto/x509"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/audit"
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
	add := func(rule, breaks, format string, args ...any) {
		out = append(out, audit.NewFinding(rule, ep.Member, ep.URL, breaks, format, args...))
	}
	if !ep.Reachable {
		switch {
		case strings.Contains(ep.Error, "first record does not look like a TLS handshake"):
			add(audit.RuleProbeNotTLS, impact(ep.Port), "%s port answers in plain text: %s", ep.Port, ep.Error)
		case strings.HasPrefix(ep.Error, "URL scheme"), strings.HasPrefix(ep.Error, "no port"):
			add(audit.RuleProbeUnreachable, impact(ep.Port), "cannot probe %s: %s", ep.URL, ep.Error)
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
			add(audit.RuleProbeClientRefused, impact(ep.Port), "with the probe's client cert (%q): %s", p.client.Leaf.Subject.CommonName, lastPart(ep.Error))
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
	add := func(rule, breaks, format string, args ...any) {
		out = append(out, audit.NewFinding(rule, ep.Member, ep.URL, breaks, format, args...))
	}
	peer := ep.Port == PortPeer
	pick := func(client, peerRule string) string {
		if peer {
			return peerRule
		}
		return client
	}
	if ep.ChainOK != nil && !*ep.ChainOK {
		// Classify with the validity and usage checks switched off, so
		// each cause gets its own rule.
		_, err := cert.Verify(x509.VerifyOptions{Roots: p.roots, CurrentTime: cert.NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			// R1 or, when the member's other port uses the same foreign
			// CA, R2: decided in crossEndpoint. Mark it for now.
			add(pick(audit.RuleServerCA, audit.RulePeerCA), impact(ep.Port), "served certificate %q (issuer %q) does not verify against the CA given: %v",
				cert.Subject.CommonName, cert.Issuer.CommonName, err)
		}
		var usage x509.CertificateInvalidError
		if _, err := cert.Verify(x509.VerifyOptions{Roots: p.roots, CurrentTime: cert.NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); errors.As(err, &usage) && usage.Reason == x509.IncompatibleUsage {
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
	// R3: the same served certificate on more than one member.
	byFP := map[string][]*Endpoint{}
	for i := range eps {
		if s := eps[i].Served; s != nil {
			byFP[s.Fingerprint] = append(byFP[s.Fingerprint], &eps[i])
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
			out = append(out, audit.NewFinding(audit.RuleSharedLeaf, e.Member, e.URL, "", "the same certificate (SHA256 %s…) is served by %s", fp[:23], strings.Join(who, ", ")))
		}
	}
	return out
}

// r2Rewrite turns R1 findings into R2 when a member serves certs of one
// foreign CA on all its ports: the member has its own CA, not one stray
// cert. It is applied to the whole finding list.
func r2Rewrite(eps []Endpoint, fs []audit.Finding) []audit.Finding {
	// Issuers (by AKID) each member serves.
	issuers := map[string]map[string]bool{}
	count := map[string]int{}
	for _, e := range eps {
		if e.Served == nil {
			continue
		}
		if issuers[e.Member] == nil {
			issuers[e.Member] = map[string]bool{}
		}
		issuers[e.Member][e.Served.akid] = true
		count[e.Served.akid]++
	}
	majority, best := "", -1
	for akid, n := range count {
		if n > best || (n == best && akid < majority) {
			majority, best = akid, n
		}
	}
	ownCA := map[string]bool{}
	for m, set := range issuers {
		if len(set) == 1 && !set[majority] {
			ownCA[m] = true
		}
	}
	var out []audit.Finding
	reported := map[string]bool{}
	for _, f := range fs {
		if ownCA[f.Member] && (f.Rule == audit.RuleServerCA || f.Rule == audit.RulePeerCA) {
			if reported[f.Member] {
				continue
			}
			reported[f.Member] = true
			out = append(out, audit.NewFinding(audit.RuleCAMismatch, f.Member, "", audit.BreaksBoth,
				"every port of %s serves certificates of another CA than the rest of the cluster", f.Member))
			continue
		}
		out = append(out, f)
	}
	return out
}

// diskFindings compares served certificates with the members' files.
func diskFindings(dirs []string, eps []Endpoint) ([]audit.Finding, error) {
	onDisk := map[string]map[string]string{} // member → port → fingerprint
	paths := map[string]map[string]string{}
	for _, d := range dirs {
		ins, err := audit.Discover(d)
		if err != nil {
			return nil, err
		}
		for _, in := range ins {
			m := audit.LoadMember(in)
			onDisk[m.Name] = map[string]string{}
			paths[m.Name] = map[string]string{}
			for port, kind := range map[string]pki.Kind{PortClient: pki.KindServer, PortPeer: pki.KindPeer} {
				if f := m.Files[kind]; f.Cert() != nil {
					onDisk[m.Name][port] = pki.Fingerprint(f.Cert())
					paths[m.Name][port] = f.CertPath
				}
			}
		}
	}
	var out []audit.Finding
	for _, e := range eps {
		if e.Served == nil {
			continue
		}
		want, ok := onDisk[e.Member][e.Port]
		if !ok {
			continue
		}
		if want != e.Served.Fingerprint {
			out = append(out, audit.NewFinding(audit.RuleProbeDiskMismatch, e.Member, e.URL, "",
				"serves %s… but %s holds %s…", e.Served.Fingerprint[:23], paths[e.Member][e.Port], want[:23]))
		}
	}
	return out, nil
}
