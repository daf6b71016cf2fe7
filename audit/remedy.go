package audit

import (
	"crypto/x509"
	"net"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// A catalogue fix names the etcdpki command that repairs the rule with
// these placeholders, which a finding's fix fills in for its member
// (docs/rules.md explains them to readers of the catalogue).
const (
	// phMemberDir is the member for etcdpki renew and etcdpki flags: its
	// directory as given to check, --local for the node itself, or
	// --dir DIR --member NAME for a member of init's output.
	phMemberDir = "MEMBER_DIR"
	// phMemberDirs is every member checked, for etcdpki rotate-ca.
	phMemberDirs = "MEMBER_DIRS"
	// phHealthy is a member that holds the cluster's CA and its key, for
	// etcdpki replace-member.
	phHealthy = "HEALTHY_MEMBER_DIR"
	phName    = "NAME"
	phOut     = "OUT_DIR"
	// phKind is the --kind of the certificate at fault; without one the
	// flag is dropped and renew re-issues all the member's leaves.
	phKind = " --kind KIND"
)

// reissueRules are the rules a re-issued leaf certificate repairs: the
// distribution's own way to re-issue one is named next to etcdpki's. A
// separate peer credential (R4-PEER-CLIENT-SAN) is etcdpki's split
// credentials; no distribution issues one.
var reissueRules = map[RuleID]bool{
	RuleServerCA: true, RulePeerCA: true, RuleClientCA: true, RuleServerSAN: true, RuleServerLoopback: true,
	RulePeerSAN: true, RuleEKUServer: true, RuleEKUServerGateway: true, RuleEKUPeerServer: true,
	RuleEKUPeerClient: true, RuleEKUClient: true, RuleExpired: true, RuleExpiring: true, RuleNotYetValid: true,
	RuleKeyMismatch: true, RuleWeakKey: true, RuleWeakSignature: true, RuleSharedLeaf: true, RuleKeyInCert: true,
}

// profileRules are repaired only by a certificate issued from the
// profile, not copied from the old one: kubeadm's renew copies the old
// certificate's SANs and extended key usages (kubernetes
// cmd/kubeadm/app/phases/certs/renewal/manager.go, certToConfig), so the
// distribution's RenewSAN is named instead of its Renew.
var profileRules = map[RuleID]bool{
	RuleServerSAN: true, RuleServerLoopback: true, RulePeerSAN: true,
	RuleEKUServer: true, RuleEKUServerGateway: true, RuleEKUPeerServer: true, RuleEKUPeerClient: true, RuleEKUClient: true,
}

// sanRules are repaired by names the member's settings give; the old
// certificate's other names are merged in by etcdpki renew on a member
// directory, so another member's address in them is removed explicitly.
var sanRules = map[RuleID]bool{RuleServerSAN: true, RuleServerLoopback: true, RulePeerSAN: true, RulePeerClientSAN: true, RuleSharedLeaf: true}

// r2Rules make a member unfit to issue for the others.
var r2Rules = map[RuleID]bool{RuleCAMismatch: true, RulePeerTrust: true, RuleClientTrust: true, RuleCAKey: true}

// remedies is what a finding's fix is filled in from: the members
// checked and which of them each rule fired on.
type remedies struct {
	members []*member.Member
	fired   map[RuleID]map[string]bool
	// all fills MEMBER_DIRS.
	all string
}

// newRemedies reads the members (those loaded from a directory) and the
// findings on them.
func newRemedies(fs []Finding, members []*member.Member) *remedies {
	r := &remedies{fired: map[RuleID]map[string]bool{}}
	for _, m := range members {
		if m.Input != nil {
			r.members = append(r.members, m)
		}
	}
	for _, f := range fs {
		if r.fired[f.Rule] == nil {
			r.fired[f.Rule] = map[string]bool{}
		}
		r.fired[f.Rule][f.Member] = true
	}
	// rotate-ca takes init's output directory, or every member's.
	var dirs []string
	initDir := ""
	for i, m := range r.members {
		if i == 0 {
			initDir = m.Input.InitDir
		} else if m.Input.InitDir != initDir {
			initDir = ""
		}
		dirs = append(dirs, m.Input.Dir)
	}
	if initDir != "" {
		dirs = []string{"--dir " + initDir}
	}
	r.all = strings.Join(dirs, " ")
	return r
}

// applyRemedies sets each finding's Fix for its member: the catalogue's
// fix in the member's distribution's terms (kubeadm's advice only on
// kubeadm, kubeadm's file names replaced by the member's own:
// kubespray's member-HOST.pem, k3s's server-client.crt), with the
// etcdpki command filled in for the member and the distribution's own
// remedy next to it.
func applyRemedies(fs []Finding, members []*member.Member) {
	r := newRemedies(fs, members)
	for i := range fs {
		for _, m := range r.members {
			if m.Name == fs[i].Member {
				if fix := r.fix(&fs[i], m); fix != "" {
					fs[i].Fix = fix
				}
				break
			}
		}
	}
}

// fix is the finding's fix on member m, or "" to keep the catalogue's.
func (r *remedies) fix(f *Finding, m *member.Member) string {
	cat := f.CatalogueRule()
	if cat == nil {
		return ""
	}
	d := m.Input.Distribution
	kind, known := kindOf(m, f.File)
	text := cat.Fix
	onCA := known && kind == pki.KindCA && cat.FixCA != ""
	if onCA {
		text = cat.FixCA
	}
	own := ""
	if d != nil && reissueRules[f.Rule] && !onCA {
		own = d.Renew
		if profileRules[f.Rule] && d.RenewSAN != "" {
			own = d.RenewSAN
		}
		if strings.HasPrefix(own, "etcdpki ") {
			own = "" // etcdpki's own command is named already
		}
	}
	text = forDistribution(text, d, own != "")
	if m.Input.InitDir == "" {
		// etcdpki flags renders a member from init's spec only.
		text = editText(text, nil, func(s string) bool { return strings.Contains(s, "etcdpki flags") })
	}
	healthy := r.healthy(f.Rule, m)
	if strings.Contains(text, "etcdpki renew ") {
		if ca := portCA(m, kind); ca == nil || !ca.HasKey() {
			text += " etcdpki renew needs the CA's key, which this member's directory lacks: run it on a copy of a node that holds it"
			if healthy != nil {
				text += ", or give the member a full set with etcdpki replace-member " + phHealthy + " --member " + phName + " --out " + phOut
			}
			text += "."
		}
	}
	if healthy == nil && strings.Contains(text, phHealthy) {
		text += " No member checked here holds the cluster's CA with its key: " + phHealthy + " is a copy of one that does."
	}
	if own != "" {
		text += " On " + d.Title + ": " + own + "."
	}
	if d != nil && d.Name != "kubeadm" {
		text = ownFileNames(m).replace(text)
	}
	return r.fill(text, f, m, kind, known, healthy)
}

// fill replaces the placeholders with the member's values.
func (r *remedies) fill(text string, f *Finding, m *member.Member, kind pki.Kind, known bool, healthy *member.Member) string {
	in := m.Input
	target := in.Dir
	switch {
	case in.InitDir != "":
		target = "--dir " + in.InitDir + " --member " + m.Name
	case filepath.Clean(in.Dir) == "/":
		target = "--local"
	}
	kindFlag := ""
	if known && kind != pki.KindCA {
		kindFlag = " --kind " + string(kind)
		if sanRules[f.Rule] && in.InitDir == "" && (in.Distribution == nil || !in.Distribution.SharedSANs) {
			for _, ip := range r.othersIPs(m, m.Files[kind].Cert()) {
				kindFlag += " --remove-ip " + ip
			}
		}
	}
	pairs := []string{phKind, kindFlag, phHealthy, phHealthy, phMemberDirs, r.all, phMemberDir, target, phOut, "new-" + m.Name, phName, m.Name}
	if healthy != nil {
		pairs[3] = healthy.Input.Dir
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// healthy is a member to issue m's certificates from: the first other
// member that rule (and no R2 rule) did not fire on and that holds its
// CA's key, or nil.
func (r *remedies) healthy(rule RuleID, m *member.Member) *member.Member {
	for _, o := range r.members {
		if o == m || r.fired[rule][o.Name] || o.CA == nil || !o.CA.HasKey() {
			continue
		}
		ok := true
		for id := range r2Rules {
			if r.fired[id][o.Name] {
				ok = false
			}
		}
		if ok {
			return o
		}
	}
	return nil
}

// othersIPs are the IP SANs of m's cert that are another member's
// address and not m's own: etcdpki renew on a member directory keeps the
// old certificate's names unless told to drop them.
func (r *remedies) othersIPs(m *member.Member, cert *x509.Certificate) []string {
	if cert == nil {
		return nil
	}
	own := urlHosts(append(slices.Clone(m.ClientURLs), m.PeerURLs...))
	var out []string
	for _, ip := range cert.IPAddresses {
		s := ip.String()
		if ip.IsLoopback() || slices.Contains(own, s) || slices.Contains(out, s) {
			continue
		}
		for _, o := range r.members {
			if o != m && slices.ContainsFunc(urlHosts(append(slices.Clone(o.ClientURLs), o.PeerURLs...)), func(h string) bool {
				oip := net.ParseIP(h)
				return oip != nil && oip.Equal(ip)
			}) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// kindOf is the kind of the member's file at path (a certificate or its
// key), and whether it is one of the member's.
func kindOf(m *member.Member, file string) (pki.Kind, bool) {
	if file == "" {
		return "", false
	}
	for _, ca := range []*member.File{m.CA, m.PeerCA} {
		if ca != nil && (ca.CertPath == file || ca.KeyPath == file) {
			return pki.KindCA, true
		}
	}
	for _, k := range m.SortedKinds() {
		if f := m.Files[k]; f.CertPath == file || f.KeyPath == file {
			return k, true
		}
	}
	return "", false
}

// forDistribution keeps the parts of a catalogue fix that apply to
// distribution d: a parenthesis that opens with distribution names
// ("(kubeadm: …)", "(k3s/RKE2: …)") only on those, and not when the
// distribution's own remedy (ownGiven) takes its place; outside kubeadm,
// nothing that speaks of kubeadm (its parentheses, ", as kubeadm does",
// sentences). A nil d keeps everything.
func forDistribution(fix string, d *member.Distribution, ownGiven bool) string {
	if d == nil {
		return fix
	}
	kubeadm := d.Name == "kubeadm"
	if !kubeadm {
		fix = strings.ReplaceAll(fix, ", as kubeadm does", "")
	}
	return editText(fix, func(inner string) bool {
		if names, ok := distributionNames(inner); ok {
			return ownGiven || !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, d.Name) || strings.EqualFold(n, d.Title) })
		}
		return !kubeadm && strings.Contains(inner, "kubeadm")
	}, func(sentence string) bool {
		return !kubeadm && strings.Contains(sentence, "kubeadm")
	})
}

// distributionNames reads "k3s/RKE2: …", the opening of a parenthesis
// for some distributions only.
func distributionNames(inner string) ([]string, bool) {
	head, _, ok := strings.Cut(inner, ": ")
	if !ok {
		return nil, false
	}
	names := strings.Split(head, "/")
	for _, n := range names {
		if _, err := member.LookupDistribution(strings.ToLower(n)); err != nil || strings.EqualFold(n, "etcd") {
			return nil, false
		}
	}
	return names, true
}

// editText drops, from a fix of sentences, the parentheses (outermost)
// whose inside dropParen accepts, then the sentences dropSentence
// accepts; either may be nil. Sentences end at a period followed by a
// space or the end, outside parentheses.
func editText(text string, dropParen, dropSentence func(string) bool) string {
	var kept []string
	for _, s := range sentences(text) {
		if dropParen != nil {
			s = dropParens(s, dropParen)
		}
		s = strings.TrimSpace(s)
		if s == "" || dropSentence != nil && dropSentence(s) {
			continue
		}
		kept = append(kept, s)
	}
	return strings.Join(kept, " ")
}

func sentences(text string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '.':
			if depth == 0 && (i+1 == len(text) || text[i+1] == ' ') {
				out = append(out, strings.TrimSpace(text[start:i+1]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(text[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

func dropParens(s string, drop func(string) bool) string {
	var b strings.Builder
	depth, open := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '(':
			if depth == 0 {
				open = i
			}
			depth++
			continue
		case s[i] == ')' && depth > 0:
			depth--
			if depth == 0 {
				if inner := s[open+1 : i]; !drop(inner) {
					b.WriteString(s[open : i+1])
				} else {
					// "x (y)." loses the space before the parenthesis too.
					out := strings.TrimRight(b.String(), " ")
					b.Reset()
					b.WriteString(out)
				}
			}
			continue
		}
		if depth == 0 {
			b.WriteByte(s[i])
		}
	}
	if depth > 0 {
		b.WriteString(s[open:]) // unbalanced: keep it as written
	}
	return b.String()
}

// fileNames replaces kubeadm's file names in a fix text with a member's.
type fileNames struct{ pairs [][2]string }

// ownFileNames maps kubeadm's file names to the member's, longest first
// so etcd/ca.crt is one name.
func ownFileNames(m *member.Member) *fileNames {
	base := func(f *member.File) string {
		if f == nil || f.NodeCertPath == "" {
			return ""
		}
		return path.Base(f.NodeCertPath)
	}
	n := &fileNames{}
	add := func(kubeadm, own string) {
		if own != "" && own != kubeadm {
			n.pairs = append(n.pairs, [2]string{kubeadm, own})
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
	return n
}

// replace replaces whole file names only: ca.crt in "etcd/ca.crt" or
// "(ca.crt", not in k3s's own peer-ca.crt. A name that starts with "-"
// is a part of a name and replaced wherever it is.
func (n *fileNames) replace(s string) string {
	nameChar := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	var b strings.Builder
outer:
	for i := 0; i < len(s); {
		for _, p := range n.pairs {
			old := p[0]
			if !strings.HasPrefix(s[i:], old) {
				continue
			}
			if old[0] != '-' && i > 0 && (nameChar(s[i-1]) || s[i-1] == '.') {
				continue
			}
			if end := i + len(old); old[0] != '-' && end < len(s) && nameChar(s[end]) {
				continue
			}
			b.WriteString(p[1])
			i += len(old)
			continue outer
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
