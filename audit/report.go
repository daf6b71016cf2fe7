package audit

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// SchemaVersion identifies the JSON/YAML report format (docs/rules.md
// documents it). It changes only when a field changes meaning or goes away.
const SchemaVersion = "etcdpki.io/check/v1"

// Report is the result of a check.
type Report struct {
	SchemaVersion string          `json:"schemaVersion"`
	CheckedAt     time.Time       `json:"checkedAt"`
	Members       []MemberSummary `json:"members"`
	Findings      []Finding       `json:"findings"`
	Verdict       Verdict         `json:"verdict"`
}

// MemberSummary says what was checked for one member.
type MemberSummary struct {
	Name string `json:"name"`
	// NameFrom is where the name and addresses came from: "manifest",
	// "config file", "flags file", "spec", "certificate" or "directory".
	NameFrom   string   `json:"nameFrom"`
	Dir        string   `json:"dir"`
	Settings   string   `json:"settings,omitempty"`
	ClientURLs []string `json:"clientURLs,omitempty"`
	PeerURLs   []string `json:"peerURLs,omitempty"`
	// Layout is the distribution the member's files follow ("kubeadm",
	// "k3s", …).
	Layout string `json:"layout,omitempty"`
	// Sources says, per etcd setting, where its value came from.
	Sources map[string]string `json:"sources,omitempty"`
	// CA is the SHA-256 fingerprint of the member's client-port CA
	// (--trusted-ca-file; the first certificate of a bundle).
	CA string `json:"ca,omitempty"`
	// ClientCA and PeerCA are the trusted CA files of the client port
	// (2379) and the peer port (2380), each with its certificates'
	// fingerprints: the same file in kubeadm's layout, two in k3s's.
	ClientCA *TrustSummary `json:"clientCA,omitempty"`
	PeerCA   *TrustSummary `json:"peerCA,omitempty"`
	// Files are the certificate files that were read.
	Files []string `json:"files"`
}

// TrustSummary is one trusted CA file of a member.
type TrustSummary struct {
	File string `json:"file"`
	// Subjects and Fingerprints (SHA-256) of the CAs in it, in order.
	Subjects     []string `json:"subjects"`
	Fingerprints []string `json:"fingerprints"`
}

func trustSummary(f *member.File) *TrustSummary {
	if f == nil {
		return nil
	}
	t := &TrustSummary{File: f.CertPath, Subjects: []string{}, Fingerprints: []string{}}
	for _, c := range f.Certs {
		t.Subjects = append(t.Subjects, c.Subject.CommonName)
		t.Fingerprints = append(t.Fingerprints, pki.Fingerprint(c))
	}
	return t
}

// Verdict answers the two questions an operator has.
type Verdict struct {
	// ClusterForms is true when a quorum of members has no finding that
	// breaks peer connections.
	ClusterForms bool `json:"clusterForms"`
	// ClientsConnect is true when no finding breaks client connections.
	ClientsConnect bool `json:"clientsConnect"`
	// Summary is the one-line verdict.
	Summary  string `json:"summary"`
	Errors   int    `json:"errors"`
	Warnings int    `json:"warnings"`
	Infos    int    `json:"infos"`
}

// Worst returns the highest severity among the findings, and false when
// there are none.
func (r *Report) Worst() (Severity, bool) {
	worst, any := Info, false
	for _, f := range r.Findings {
		if !any || f.Severity > worst {
			worst, any = f.Severity, true
		}
	}
	return worst, any
}

// Fails reports whether any finding is at or above threshold.
func (r *Report) Fails(threshold Severity) bool {
	w, any := r.Worst()
	return any && w >= threshold
}

// RuleIDs returns the distinct rule IDs that fired, sorted.
func (r *Report) RuleIDs() []RuleID {
	seen := map[RuleID]bool{}
	var ids []RuleID
	for _, f := range r.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			ids = append(ids, f.Rule)
		}
	}
	slices.Sort(ids)
	return ids
}

func summarize(m *member.Member) MemberSummary {
	// A URL both listened on and advertised is listed once.
	s := MemberSummary{Name: m.Name, NameFrom: m.NameFrom, Dir: m.Input.Dir, ClientURLs: dedupeURLs(m.ClientURLs), PeerURLs: dedupeURLs(m.PeerURLs), Files: []string{}}
	if m.Settings != nil {
		s.Settings = m.Settings.Source
		s.Sources = m.Settings.Sources
	}
	if m.Input != nil && m.Input.Distribution != nil {
		s.Layout = m.Input.Distribution.Name
	}
	s.ClientCA, s.PeerCA = trustSummary(m.CA), trustSummary(m.PeerCA)
	if c := m.CA.Cert(); c != nil {
		s.CA = pki.Fingerprint(c)
		s.Files = append(s.Files, m.CA.CertPath)
	}
	for _, k := range m.SortedKinds() {
		s.Files = append(s.Files, m.Files[k].CertPath)
	}
	return s
}

// sortFindings orders findings by member (in the order given), then
// severity (worst first), then rule catalogue order, then file.
func sortFindings(fs []Finding, members []*member.Member) {
	memberOrder := map[string]int{}
	for i, m := range members {
		if _, ok := memberOrder[m.Name]; !ok {
			memberOrder[m.Name] = i
		}
	}
	ruleOrder := map[RuleID]int{}
	for i, r := range catalogue {
		ruleOrder[r.ID] = i
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if memberOrder[a.Member] != memberOrder[b.Member] {
			return memberOrder[a.Member] < memberOrder[b.Member]
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if ruleOrder[a.Rule] != ruleOrder[b.Rule] {
			return ruleOrder[a.Rule] < ruleOrder[b.Rule]
		}
		return a.File < b.File
	})
}

// verdict decides whether the cluster forms (a quorum of members without
// peer-breaking errors) and whether clients connect.
func verdict(members []*member.Member, fs []Finding) Verdict {
	var v Verdict
	peerBroken := map[string][]string{}
	oneWay := map[string][]string{}
	clientBroken := map[string][]string{}
	for _, f := range fs {
		switch f.Severity {
		case Error:
			v.Errors++
		case Warning:
			v.Warnings++
		default:
			v.Infos++
		}
		if f.Severity != Error {
			continue
		}
		switch f.Breaks {
		case BreaksPeers:
			peerBroken[f.Member] = appendUnique(peerBroken[f.Member], string(f.Rule))
		case BreaksBoth:
			peerBroken[f.Member] = appendUnique(peerBroken[f.Member], string(f.Rule))
			clientBroken[f.Member] = appendUnique(clientBroken[f.Member], string(f.Rule))
		case BreaksClients:
			clientBroken[f.Member] = appendUnique(clientBroken[f.Member], string(f.Rule))
		case BreaksPeersOneWay:
			oneWay[f.Member] = appendUnique(oneWay[f.Member], string(f.Rule))
		}
	}
	n := len(members)
	healthy := 0
	var broken, degraded []string
	for _, m := range members {
		if rules, bad := peerBroken[m.Name]; bad {
			broken = append(broken, fmt.Sprintf("%s (%s)", m.Name, strings.Join(rules, ", ")))
			// A member that cannot join never becomes ready, and etcd
			// serves its client port only once ready: its clients fail too.
			clientBroken[m.Name] = appendUnique(clientBroken[m.Name], "cannot join")
			continue
		}
		healthy++
		if rules, ok := oneWay[m.Name]; ok {
			degraded = append(degraded, fmt.Sprintf("%s (%s)", m.Name, strings.Join(rules, ", ")))
		}
	}
	v.ClusterForms = n > 0 && healthy > n/2
	// With no member checked nothing is known to connect.
	v.ClientsConnect = n > 0 && len(clientBroken) == 0
	var split []string
	for _, f := range fs {
		if f.Rule == RuleSplitClusters {
			split = append(split, f.Member)
		}
	}
	var parts []string
	switch {
	case n == 0:
		parts = append(parts, "no members checked")
	case len(split) > 1:
		// Members that each bootstrap alone are not one cluster at all.
		v.ClusterForms = false
		parts = append(parts, fmt.Sprintf("the cluster will NOT form: %s each bootstrap a one-member cluster of their own (MEMBERSHIP-SPLIT): %d separate clusters, not one of %d",
			strings.Join(split, ", "), len(split), n))
	case len(broken) == 0:
		parts = append(parts, fmt.Sprintf("the cluster will form (%d of %d members)", n, n))
	case v.ClusterForms:
		parts = append(parts, fmt.Sprintf("the cluster will form without %s: %d of %d members keep quorum", strings.Join(broken, "; "), healthy, n))
	default:
		parts = append(parts, fmt.Sprintf("the cluster will NOT form: %s cannot join, %d of %d members is no quorum", strings.Join(broken, "; "), healthy, n))
	}
	if len(degraded) > 0 {
		parts = append(parts, fmt.Sprintf("%s join%s, but the others reject %s connections in one direction", strings.Join(degraded, "; "), plurals(len(degraded)), possessive(len(degraded))))
	}
	switch {
	case n == 0:
		parts = append(parts, "nothing shows that clients connect")
	case v.ClientsConnect:
		parts = append(parts, "clients will connect")
	default:
		var who []string
		for _, m := range members {
			if rules, bad := clientBroken[m.Name]; bad {
				who = append(who, fmt.Sprintf("%s (%s)", m.Name, strings.Join(rules, ", ")))
			}
		}
		parts = append(parts, "clients will fail on "+strings.Join(who, "; "))
	}
	v.Summary = strings.Join(parts, "; ")
	return v
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func plurals(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

func possessive(n int) string {
	if n == 1 {
		return "its"
	}
	return "their"
}

func dedupeURLs(urls []string) []string {
	var out []string
	for _, u := range urls {
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}
