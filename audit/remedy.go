package audit

import (
	"strings"

	"github.com/etcdpki/etcdpki/member"
)

// reissueRules are the rules a re-issued leaf certificate repairs.
var reissueRules = map[RuleID]bool{
	RuleServerCA: true, RulePeerCA: true, RuleClientCA: true, RuleServerSAN: true, RuleServerLoopback: true,
	RulePeerSAN: true, RulePeerClientSAN: true, RuleEKUServer: true, RuleEKUServerGateway: true, RuleEKUPeerServer: true,
	RuleEKUPeerClient: true, RuleEKUClient: true, RuleExpired: true, RuleExpiring: true, RuleNotYetValid: true,
	RuleKeyMismatch: true, RuleWeakKey: true, RuleWeakSignature: true,
}

// sanRules are repaired only by a certificate with new SANs: kubeadm's
// renew keeps the old ones (cmd/kubeadm/app/phases/certs/renewal: the
// renewed cert copies the old cert's SANs).
var sanRules = map[RuleID]bool{RuleServerSAN: true, RuleServerLoopback: true, RulePeerSAN: true, RulePeerClientSAN: true}

// remedy is the fix for a finding on a member of distribution d, in
// that distribution's terms, or "" to keep the catalogue's. Outside
// kubeadm, the catalogue's kubeadm advice is dropped: a kubespray or k3s
// user is never told to run kubeadm.
func remedy(f *Finding, d *member.Distribution) string {
	if d == nil {
		return ""
	}
	cat := f.CatalogueRule()
	if !reissueRules[f.Rule] {
		if cat == nil || d.Name == "kubeadm" || !strings.Contains(cat.Fix, "kubeadm") {
			return ""
		}
		return withoutKubeadm(cat.Fix)
	}
	own := d.Renew
	if sanRules[f.Rule] && d.RenewSAN != "" {
		own = d.RenewSAN
	}
	if own == "" {
		return ""
	}
	what := "Re-issue the certificate"
	if cat != nil {
		what = strings.TrimSuffix(strings.SplitN(withoutKubeadm(cat.Fix), " (", 2)[0], ".")
	}
	return what + ". On " + d.Title + ": " + own + "."
}

// withoutKubeadm drops the parts of a fix that speak of kubeadm: its
// parentheticals, and a trailing ", as kubeadm does".
func withoutKubeadm(fix string) string {
	for {
		i := strings.Index(fix, "kubeadm")
		if i < 0 {
			return fix
		}
		open := strings.LastIndex(fix[:i], "(")
		close := strings.Index(fix[i:], ")")
		switch {
		case open >= 0 && close >= 0:
			fix = strings.TrimRight(fix[:open], " ") + fix[i+close+1:]
		case strings.Contains(fix, ", as kubeadm does"):
			fix = strings.Replace(fix, ", as kubeadm does", "", 1)
		case strings.Contains(fix, " as kubeadm does"):
			fix = strings.Replace(fix, " as kubeadm does", "", 1)
		default:
			return fix[:max(0, strings.LastIndex(fix[:i], ". ")+1)] // the sentences before it
		}
	}
}

// applyRemedies sets each finding's Fix from its member's distribution.
func applyRemedies(fs []Finding, members []*member.Member) {
	byName := map[string]*member.Distribution{}
	for _, m := range members {
		if m.Input != nil {
			byName[m.Name] = m.Input.Distribution
		}
	}
	for i := range fs {
		if fix := remedy(&fs[i], byName[fs[i].Member]); fix != "" {
			fs[i].Fix = fix
		}
	}
}
