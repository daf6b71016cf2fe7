package audit

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// crossMember applies the rules that compare members: R2 per port (one
// trust), R3 (no shared leaves) and the membership settings.
func crossMember(members []*member.Member) []Finding {
	out := portTrust(members)
	out = append(out, extraCAs(members)...)
	out = append(out, membership(members)...)
	// R3: the same member leaf (a serving cert or a member's own
	// credential) or its key on several members. Clients' credentials are
	// left out: one kube-apiserver identity for the whole cluster is how
	// OpenShift's etcd-client secret and kubespray's node-HOST.pem work,
	// and it impersonates a client, not a member.
	type owner struct {
		m    *member.Member
		kind pki.Kind
		path string
	}
	byKey := map[string][]owner{}
	for _, m := range members {
		for _, kind := range m.SortedKinds() {
			f := m.Files[kind]
			if kind.Info().Use == pki.UseClient {
				continue
			}
			if cert := f.Cert(); cert != nil {
				id := string(cert.RawSubjectPublicKeyInfo)
				byKey[id] = append(byKey[id], owner{m, kind, f.CertPath})
			}
		}
	}
	var ids []string
	for id, owners := range byKey {
		if distinctMembers(len(owners), func(i int) *member.Member { return owners[i].m }) > 1 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		owners := byKey[id]
		var where []string
		for _, o := range owners {
			where = append(where, fmt.Sprintf("%s %s", o.m.Name, o.kind))
		}
		for _, o := range owners {
			out = append(out, newFinding(RuleSharedLeaf, o.m.Name, o.path, "the same key is used by %s: one leaked key impersonates all of them", strings.Join(where, ", ")))
		}
	}
	return out
}

func signedByAny(leaf *x509.Certificate, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if pki.SignedBy(leaf, ca) == nil {
			return true
		}
	}
	return false
}

func short(fp string) string {
	if len(fp) > 23 {
		return fp[:23] + "…"
	}
	return fp
}

func names(ms []*member.Member) string {
	var n []string
	for _, m := range ms {
		n = append(n, m.Name)
	}
	return strings.Join(n, ", ")
}

func plural(ms []*member.Member) string {
	if len(ms) == 1 {
		return "s"
	}
	return ""
}

func distinctMembers(n int, at func(int) *member.Member) int {
	seen := map[*member.Member]bool{}
	for i := 0; i < n; i++ {
		seen[at(i)] = true
	}
	return len(seen)
}
