package audit

import (
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// ProblemFindings turns what went wrong while loading a member into
// findings: a missing file is FILE-MISSING (FLAG-FILE when a setting
// names it), an unusable one FILE-INVALID, a path outside the tree
// FLAG-FILE.
func ProblemFindings(m *member.Member) []Finding {
	var out []Finding
	for _, p := range m.Problems {
		rule := RuleFileInvalid
		switch p.Kind {
		case member.ProblemMissing:
			rule = RuleFileMissing
		case member.ProblemFlagFile, member.ProblemOutside:
			rule = RuleFlagFile
		case member.ProblemKeyInCert:
			rule = RuleKeyInCert
		case member.ProblemSettings:
			rule = RuleSettingsInvalid
		}
		impact := ""
		switch {
		case p.Kind == member.ProblemSettings && p.Role == "":
			// etcd refuses to start on settings it cannot read.
			impact = BreaksBoth
		case p.Harmless, p.Kind == member.ProblemOutside, p.Kind == member.ProblemKeyInCert:
		case p.Role == pki.KindCA && p.Key:
			// etcd never reads ca.key; only issuing on the node needs it.
		case p.Role != "":
			impact = loadImpact(p.Role)
		}
		out = append(out, NewFinding(rule, m.Name, p.File, impact, "%s", p.Detail))
	}
	return out
}
