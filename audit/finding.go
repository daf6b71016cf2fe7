package audit

import (
	"fmt"
	"strings"
)

// Finding is one broken rule, on one member (empty for cluster-wide
// findings) and one file (empty when no single file is at fault).
type Finding struct {
	Rule     RuleID   `json:"rule"`
	Severity Severity `json:"severity"`
	Member   string   `json:"member,omitempty"`
	File     string   `json:"file,omitempty"`
	// Detail says what exactly is wrong, e.g. which address is missing.
	Detail string `json:"detail"`
	// Breaks says what fails at runtime if the finding is an error:
	// BreaksPeers, BreaksClients, BreaksBoth, or empty for findings that
	// weaken security without breaking connections.
	Breaks string `json:"breaks,omitempty"`
	// Fix is how to repair it: the catalogue's fix for the member, with
	// the etcdpki command filled in (etcdpki renew node2 --kind peer) and
	// the member's own distribution's remedy next to it (k3s certificate
	// rotate; kubeadm's, which keeps the old SANs).
	Fix string `json:"fix,omitempty"`
}

// Error renders the finding as one line: member, file, rule ID, severity
// and detail. Findings are errors so library callers can return them.
func (f *Finding) Error() string {
	var b strings.Builder
	if f.Member != "" {
		b.WriteString(f.Member)
		b.WriteString(": ")
	}
	if f.File != "" {
		b.WriteString(f.File)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%s (%s): %s", f.Rule, f.Severity, f.Detail)
	return b.String()
}

// CatalogueRule returns the finding's catalogue entry.
func (f *Finding) CatalogueRule() *Rule {
	r, _ := LookupRule(f.Rule)
	return r
}

// newFinding makes a finding with the rule's catalogue severity.
func newFinding(rule RuleID, memberName, file, format string, args ...any) Finding {
	r, ok := LookupRule(rule)
	if !ok {
		// A programming error; keep it visible rather than panic on input.
		return Finding{Rule: rule, Severity: Error, Member: memberName, File: file, Detail: "unknown rule: " + fmt.Sprintf(format, args...)}
	}
	return Finding{Rule: rule, Severity: r.Severity, Member: memberName, File: file, Detail: fmt.Sprintf(format, args...), Fix: r.Fix}
}
