package audit

import (
	"time"

	"github.com/etcdpki/etcdpki/member"
)

// NewReport assembles a report from findings made elsewhere (the live
// probe uses it), with the same ordering and verdict as Check.
func NewReport(schema string, at time.Time, members []MemberSummary, findings []Finding) *Report {
	ms := make([]*member.Member, len(members))
	for i, s := range members {
		ms[i] = &member.Member{Name: s.Name}
	}
	if findings == nil {
		findings = []Finding{}
	}
	sortFindings(findings, ms)
	return &Report{SchemaVersion: schema, CheckedAt: at.UTC(), Members: members, Findings: findings, Verdict: verdict(ms, findings)}
}

// NewFinding makes a finding of rule with the catalogue's severity; impact
// is one of BreaksPeers, BreaksClients, BreaksBoth or empty.
func NewFinding(rule RuleID, memberName, file, impact, format string, args ...any) Finding {
	f := newFinding(rule, memberName, file, format, args...)
	f.Breaks = impact
	return f
}
