// Package graph draws an etcd cluster's trust graph: which CA signs which
// certificate, which certificate each member's client port (2379) and peer
// port (2380) serves and dials with, and which CA each port verifies its
// clients and peers with. Edges that a check finding breaks are marked
// with the rule ID. It renders Graphviz DOT and Mermaid, and SVG through
// Graphviz's dot program.
package graph

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// Node kinds.
const (
	NodeCA     = "ca"     // a CA in some member's trusted CA file
	NodeIssuer = "issuer" // the issuer of a certificate that no member's CA signed
	NodeCert   = "cert"   // a member's leaf certificate file
	NodePort   = "port"   // a member's client or peer port
)

// Node is a CA, a certificate file or a port.
type Node struct {
	ID    string
	Kind  string
	Label []string // lines
	// Member is the member the node belongs to ("" for CAs and issuers).
	Member string
	// Rules are findings that concern the node but no single edge, e.g.
	// a client-cert-auth flag left off on a port.
	Rules    []string
	Severity audit.Severity
}

// Edge is a relation between two nodes: signs, serves, dials with,
// client of, verifies clients/peers with.
type Edge struct {
	From, To string
	Label    string
	// Rules are the IDs of the findings that break the edge; Severity is
	// the worst of them.
	Rules    []string
	Severity audit.Severity
}

// Broken reports whether a finding marks the edge.
func (e *Edge) Broken() bool { return len(e.Rules) > 0 }

// Member is a member's box: its name and the findings that concern the
// member as a whole.
type Member struct {
	ID, Name string
	Rules    []string
	Severity audit.Severity
}

// Graph is the trust graph of a cluster.
type Graph struct {
	Nodes   []*Node
	Edges   []*Edge
	Members []*Member
}

// Build draws the graph of members, marking what report's findings (at
// warning and above) break. Use the report of audit.Check on the same
// members.
func Build(members []*member.Member, report *audit.Report) *Graph {
	g := &Graph{}
	cas := member.Authorities(members)
	caID := map[*member.Authority]string{}
	for i, a := range cas {
		id := fmt.Sprintf("ca%d", i+1)
		caID[a] = id
		label := []string{a.Name, "CA, expires " + day(a.Cert.NotAfter)}
		if a.ExternallyManaged() {
			label = append(label, "key not on any member")
		}
		g.Nodes = append(g.Nodes, &Node{ID: id, Kind: NodeCA, Label: label})
	}
	issuers := map[string]string{} // issuer DN → node ID
	fb := newFindingIndex(report)
	for i, m := range members {
		gm := &Member{ID: fmt.Sprintf("m%d", i+1), Name: m.Name}
		g.Members = append(g.Members, gm)
		client := &Node{ID: gm.ID + "_client_port", Kind: NodePort, Member: m.Name, Label: []string{"client :" + port(m.ClientURLs, "2379")}}
		peer := &Node{ID: gm.ID + "_peer_port", Kind: NodePort, Member: m.Name, Label: []string{"peer :" + port(m.PeerURLs, "2380")}}
		g.Nodes = append(g.Nodes, client, peer)
		// The trusted CAs of each port.
		trust := func(f *member.File, p *Node, label string) {
			if f == nil {
				return
			}
			for _, c := range f.Certs {
				if a := authorityOf(cas, c); a != nil {
					g.edge(caID[a], p.ID, label, fb.take(m.Name, anyRule, f.CertPath, f.KeyPath))
				}
			}
		}
		trust(m.CA, client, "verifies clients")
		trust(m.PeerCA, peer, "verifies peers")
		// Each leaf: who signed it, and where it is used.
		_, split := m.Files[pki.KindPeerClient]
		for _, kind := range pki.LeafKinds(true) {
			f := m.Files[kind]
			cert := f.Cert()
			if cert == nil {
				continue
			}
			n := &Node{ID: gm.ID + "_" + strings.ReplaceAll(string(kind), "-", "_"), Kind: NodeCert, Member: m.Name,
				Label: []string{filepath.Base(f.CertPath), "CN " + cert.Subject.CommonName, "expires " + day(cert.NotAfter)}}
			g.Nodes = append(g.Nodes, n)
			issuer := ""
			if a := member.IssuerOf(cas, cert); a != nil {
				issuer = caID[a]
			} else {
				dn := cert.Issuer.String()
				if issuers[dn] == "" {
					id := fmt.Sprintf("issuer%d", len(issuers)+1)
					issuers[dn] = id
					g.Nodes = append(g.Nodes, &Node{ID: id, Kind: NodeIssuer, Label: []string{"issuer " + cert.Issuer.CommonName, "not a member's CA"}})
				}
				issuer = issuers[dn]
			}
			g.edge(issuer, n.ID, "signs", fb.take(m.Name, isChainRule, f.CertPath, f.KeyPath))
			use := fb.take(m.Name, func(f audit.Finding) bool { return !isChainRule(f) }, f.CertPath, f.KeyPath)
			switch kind {
			case pki.KindServer:
				g.edge(n.ID, client.ID, "serves", use)
			case pki.KindPeer:
				label := "serves, dials with"
				if split {
					label = "serves"
				}
				g.edge(n.ID, peer.ID, label, use)
			case pki.KindPeerClient:
				g.edge(n.ID, peer.ID, "dials with", use)
			case pki.KindServerClient:
				g.edge(n.ID, client.ID, "gateway dials with", use)
			default:
				g.edge(n.ID, client.ID, "client of", use)
			}
		}
		// What is left concerns a port (by what it breaks) or the member.
		for _, f := range fb.rest(m.Name) {
			breaks := f.Breaks
			if breaks == "" {
				breaks = portRules[f.Rule]
			}
			if f.Rule == audit.RuleCertAuthImplied {
				// One rule for both flags: the detail names which.
				breaks = audit.BreaksClients
				if strings.HasPrefix(f.Detail, "--peer-") {
					breaks = audit.BreaksPeers
				}
			}
			switch breaks {
			case audit.BreaksClients:
				client.mark(f)
			case audit.BreaksPeers:
				peer.mark(f)
			case audit.BreaksBoth:
				client.mark(f)
				peer.mark(f)
			default:
				gm.Rules, gm.Severity = addRule(gm.Rules, gm.Severity, f)
			}
		}
	}
	return g
}

// portRules are rules about one port whose findings may break nothing,
// which still belong on that port.
var portRules = map[audit.RuleID]string{
	audit.RuleClientCertAuth: audit.BreaksClients,
	audit.RulePeerClientCert: audit.BreaksPeers,
}

func (g *Graph) edge(from, to, label string, fs []audit.Finding) {
	e := &Edge{From: from, To: to, Label: label}
	for _, f := range fs {
		e.Rules, e.Severity = addRule(e.Rules, e.Severity, f)
	}
	g.Edges = append(g.Edges, e)
}

func (n *Node) mark(f audit.Finding) { n.Rules, n.Severity = addRule(n.Rules, n.Severity, f) }

func addRule(rules []string, worst audit.Severity, f audit.Finding) ([]string, audit.Severity) {
	if len(rules) == 0 || f.Severity > worst {
		worst = f.Severity
	}
	if !slices.Contains(rules, string(f.Rule)) {
		rules = append(rules, string(f.Rule))
	}
	return rules, worst
}

// authorityOf is the authority whose certificate is c.
func authorityOf(cas []*member.Authority, c *x509.Certificate) *member.Authority {
	fp := pki.Fingerprint(c)
	for _, a := range cas {
		if a.Fingerprint == fp {
			return a
		}
	}
	return nil
}

func anyRule(audit.Finding) bool { return true }

// isChainRule selects the R1 findings, which break the signs edge rather
// than the use of the certificate.
func isChainRule(f audit.Finding) bool { return strings.HasPrefix(string(f.Rule), "R1-") }

// port is the port of the first URL that has one, else def.
func port(urls []string, def string) string {
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil && u.Port() != "" {
			return u.Port()
		}
	}
	return def
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// findingIndex hands out each finding (warning and above) to the first
// edge that claims it by file; the rest go to ports and members.
type findingIndex struct {
	byMember map[string][]audit.Finding
	taken    map[string][]bool
}

func newFindingIndex(r *audit.Report) *findingIndex {
	fi := &findingIndex{byMember: map[string][]audit.Finding{}, taken: map[string][]bool{}}
	if r == nil {
		return fi
	}
	for _, f := range r.Findings {
		if f.Severity >= audit.Warning {
			fi.byMember[f.Member] = append(fi.byMember[f.Member], f)
		}
	}
	for m, fs := range fi.byMember {
		fi.taken[m] = make([]bool, len(fs))
	}
	return fi
}

// take returns member's findings on any of files that match. A finding
// may be taken by several edges (a CA file's finding breaks the trust of
// both ports); once taken it is no longer left for rest.
func (fi *findingIndex) take(member string, match func(audit.Finding) bool, files ...string) []audit.Finding {
	var out []audit.Finding
	for i, f := range fi.byMember[member] {
		if f.File != "" && slices.Contains(files, f.File) && match(f) {
			fi.taken[member][i] = true
			out = append(out, f)
		}
	}
	return out
}

// rest returns member's findings no edge took.
func (fi *findingIndex) rest(member string) []audit.Finding {
	var out []audit.Finding
	for i, f := range fi.byMember[member] {
		if !fi.taken[member][i] {
			out = append(out, f)
		}
	}
	return out
}
