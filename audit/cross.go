package audit

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// crossMember applies the rules that compare members: R2 (one CA) and R3
// (no shared leaves).
func crossMember(members []*member.Member) []Finding {
	var out []Finding
	// R2: group members by the fingerprint set of their trusted CA file.
	groups := map[string][]*member.Member{}
	for _, m := range members {
		if fp := caIdentity(m); fp != "" {
			groups[fp] = append(groups[fp], m)
		}
	}
	if len(groups) > 1 && !trustCompatible(members) {
		var keys []string
		for k := range groups {
			keys = append(keys, k)
		}
		// The largest group is "the" cluster CA; ties go to the group of
		// the first member given.
		sort.Slice(keys, func(i, j int) bool {
			if len(groups[keys[i]]) != len(groups[keys[j]]) {
				return len(groups[keys[i]]) > len(groups[keys[j]])
			}
			return indexOf(members, groups[keys[i]][0]) < indexOf(members, groups[keys[j]][0])
		})
		majority := groups[keys[0]]
		for _, k := range keys[1:] {
			for _, m := range groups[k] {
				f := newFinding(RuleCAMismatch, m.Name, m.CA.CertPath, "holds CA %q (SHA256 %s), but %s hold%s %q (SHA256 %s)",
					m.CA.Cert().Subject.CommonName, short(k), names(majority), plural(majority), majority[0].CA.Cert().Subject.CommonName, short(keys[0]))
				f.Breaks = BreaksBoth
				out = append(out, f)
			}
		}
	}
	// R3: the same leaf certificate or key on several members.
	type owner struct {
		m    *member.Member
		kind pki.Kind
		path string
	}
	byKey := map[string][]owner{}
	for _, m := range members {
		for _, kind := range m.SortedKinds() {
			f := m.Files[kind]
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

// trustCompatible reports whether members whose trusted CA files differ
// can still all talk: every member's server and peer certs are signed by a
// CA that every member trusts. That is the middle of a CA rotation (some
// members trust the bundle old+new, leaves still from the old CA), which
// is safe and must not read as R2; a leaf from a CA that some member does
// not trust yet is not.
func trustCompatible(members []*member.Member) bool {
	for _, m := range members {
		for _, kind := range []pki.Kind{pki.KindServer, pki.KindPeer, pki.KindPeerClient} {
			leaf := m.Files[kind].Cert()
			if leaf == nil {
				continue
			}
			for _, other := range members {
				ca := other.CA
				if kind != pki.KindServer {
					ca = other.PeerCA
				}
				if ca == nil || !signedByAny(leaf, ca.Certs) {
					return false
				}
			}
		}
	}
	return true
}

func signedByAny(leaf *x509.Certificate, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if pki.SignedBy(leaf, ca) == nil {
			return true
		}
	}
	return false
}

// caIdentity is the set of fingerprints in a member's trusted CA file.
func caIdentity(m *member.Member) string {
	if m.CA == nil || len(m.CA.Certs) == 0 {
		return ""
	}
	var fps []string
	for _, c := range m.CA.Certs {
		fps = append(fps, pki.Fingerprint(c))
	}
	sort.Strings(fps)
	return strings.Join(fps, "+")
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

func indexOf(ms []*member.Member, m *member.Member) int {
	for i, x := range ms {
		if x == m {
			return i
		}
	}
	return -1
}

func distinctMembers(n int, at func(int) *member.Member) int {
	seen := map[*member.Member]bool{}
	for i := 0; i < n; i++ {
		seen[at(i)] = true
	}
	return len(seen)
}
