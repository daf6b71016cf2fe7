package audit

import (
	"path"
	"strings"

	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
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

// applyRemedies sets each finding's Fix from its member's distribution,
// with kubeadm's file names (server.crt, etcd/ca.crt, …) replaced by the
// member's own (kubespray's member-HOST.pem, k3s's server-client.crt).
func applyRemedies(fs []Finding, members []*member.Member) {
	byName := map[string]*member.Member{}
	for _, m := range members {
		if m.Input != nil {
			byName[m.Name] = m
		}
	}
	for i := range fs {
		m := byName[fs[i].Member]
		if m == nil {
			continue
		}
		d := m.Input.Distribution
		if fix := remedy(&fs[i], d); fix != "" {
			fs[i].Fix = fix
		}
		if d != nil && d.Name != "kubeadm" {
			fs[i].Fix = ownFileNames(m).Replace(fs[i].Fix)
		}
	}
}

// ownFileNames replaces kubeadm's file names in a fix text with the
// member's: longest names first, so etcd/ca.crt is one name.
func ownFileNames(m *member.Member) *strings.Replacer {
	base := func(f *member.File) string {
		if f == nil || f.NodeCertPath == "" {
			return ""
		}
		return path.Base(f.NodeCertPath)
	}
	var pairs []string
	add := func(kubeadm, own string) {
		if own != "" && own != kubeadm {
			pairs = append(pairs, kubeadm, own)
		}
	}
	if s := m.Settings; s != nil {
		add("manifests/etcd.yaml", path.Base(s.Source))
	}
	add("apiserver-etcd-client.crt", base(m.Files[pki.KindAPIServerClient]))
	add("healthcheck-client.crt", base(m.Files[pki.KindHealthcheckClient]))
	add("peer-client.crt", base(m.Files[pki.KindPeerClient]))
	add("etcd/ca.crt", base(m.CA))
	add("server.crt", base(m.Files[pki.KindServer]))
	add("peer.crt", base(m.Files[pki.KindPeer]))
	add("ca.crt", base(m.CA))
	if m.CA != nil && m.CA.NodeCertPath != "" {
		add("ca.key", path.Base(member.KeyPathFor(m.CA.NodeCertPath)))
	}
	if m.Host != "" {
		add("-HOST", "-"+m.Host) // kubespray's member-HOST.pem in its remedy
	}
	return strings.NewReplacer(pairs...)
}
