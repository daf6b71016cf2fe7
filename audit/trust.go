package audit

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// The seed names three logically separate CAs per member: the one it
// verifies the other members' serving certs with when it dials them, the
// one it authenticates members that dial it with, and the one port 2379
// authenticates clients with. etcd folds the first two into
// --peer-trusted-ca-file and keeps the third as --trusted-ca-file
// (go.etcd.io/etcd/server/v3@v3.7.3 embed/config.go: PeerTLSInfo and
// ClientTLSInfo are separate transport.TLSInfo values). So R2 is judged
// per port: k3s, RKE2 and kops really use separate client and peer CAs.

// portTrust is R2 for both ports. A member is at fault on a port when
// most other members and it cannot trust each other there, and their CA
// files differ (a leaf that its own member's CA does not sign is R1's).
func portTrust(members []*member.Member) []Finding {
	peerOdd := oddMembers(members, peerTrusts, func(m *member.Member) *member.File { return m.PeerCA })
	clientOdd := oddMembers(members, clientTrusts, func(m *member.Member) *member.File { return m.CA })
	var out []Finding
	for _, m := range members {
		po, co := peerOdd[m], clientOdd[m]
		switch {
		case po != nil && co != nil && m.CA == m.PeerCA:
			// One file is both ports' trust (kubeadm's etcd/ca.crt).
			f := newFinding(RuleCAMismatch, m.Name, m.CA.CertPath, "holds CA %s, but %s: both ports reject it", caDesc(m.CA), po.others)
			f.Breaks = BreaksBoth
			out = append(out, f)
		default:
			if po != nil {
				f := newFinding(RulePeerTrust, m.Name, fileOf(m.PeerCA), "peer port: its peer trusted CA %s and %s: the member cannot join", caDesc(m.PeerCA), po.others)
				f.Breaks = BreaksPeers
				out = append(out, f)
			}
			if co != nil {
				f := newFinding(RuleClientTrust, m.Name, fileOf(m.CA), "client port: its client trusted CA %s and %s: the member joins, but %s", caDesc(m.CA), co.others, co.clients)
				f.Breaks = BreaksClients
				out = append(out, f)
			}
		}
	}
	return out
}

type oddness struct {
	others  string // who disagrees, for the detail
	clients string // which clients fail (client port)
}

// oddMembers finds the members that cannot trust, or be trusted by, most
// other members on one port, where the port's CA files differ.
func oddMembers(members []*member.Member, trusts func(a, b *member.Member) (bool, string), caOf func(*member.Member) *member.File) map[*member.Member]*oddness {
	out := map[*member.Member]*oddness{}
	if len(members) < 2 {
		return out
	}
	// The usual case, one trust for everyone, costs one pass: only
	// members whose CA files differ are compared.
	sets := make(map[*member.Member]string, len(members))
	groups := map[string]int{}
	for _, m := range members {
		sets[m] = caSet(caOf(m))
		groups[sets[m]]++
	}
	if len(groups) < 2 {
		return out
	}
	for _, m := range members {
		var bad []string
		var clients []string
		others := 0
		for _, o := range members {
			if o == m {
				continue
			}
			others++
			if sets[m] == sets[o] {
				continue
			}
			okMO, whyMO := trusts(m, o) // m trusts o's certs
			okOM, whyOM := trusts(o, m)
			if !okMO || !okOM {
				bad = append(bad, o.Name)
				for _, w := range []string{whyMO, whyOM} {
					if w != "" {
						clients = appendUnique(clients, w)
					}
				}
			}
		}
		// Most of the others disagree with m: m is the odd one (with
		// two members, both are).
		if len(bad) > 0 && 2*len(bad) > others {
			other := members[0]
			if other == m {
				other = members[1]
			}
			for _, o := range members {
				if o != m && contains(bad, o.Name) {
					other = o
					break
				}
			}
			out[m] = &oddness{
				others:  fmt.Sprintf("%s hold%s %s, which do not trust each other's certificates", names(byName(members, bad)), plural(byName(members, bad)), caDesc(caOf(other))),
				clients: strings.Join(clients, "; "),
			}
		}
	}
	return out
}

// peerTrusts reports whether a's peer trusted CA verifies b's peer
// serving cert and b's peer credential (what a checks when it dials b
// and when b dials it).
func peerTrusts(a, b *member.Member) (bool, string) {
	if a.PeerCA == nil || len(a.PeerCA.Certs) == 0 {
		return true, "" // FLAG-TRUSTED-CA or FILE-MISSING says so
	}
	for _, k := range pki.Kinds() {
		if k.Port != pki.PortPeer {
			continue
		}
		if leaf := b.Files[k.Kind].Cert(); leaf != nil && !signedByAny(leaf, a.PeerCA.Certs) {
			return false, ""
		}
	}
	return true, ""
}

// clientTrusts reports whether a accepts b's client credentials on its
// client port and b's clients accept a's serving cert: a's --trusted-ca-file
// must trust the client certs found on b (kube-apiserver's, the health
// check's), and b's client CA files (its etcd CA, which etcdctl there is
// given, and kube-apiserver's --etcd-cafile) must verify a's server cert.
// The string names the clients that fail.
func clientTrusts(a, b *member.Member) (bool, string) {
	var failing []string
	if a.CA != nil && len(a.CA.Certs) > 0 {
		for _, k := range pki.Kinds() {
			if k.Use != pki.UseClient {
				continue
			}
			if c := b.Files[k.Kind].Cert(); c != nil && !signedByAny(c, a.CA.Certs) {
				failing = append(failing, fmt.Sprintf("%s's %s is refused by %s", b.Name, k.Title, a.Name))
			}
		}
	}
	if srv := a.Files[pki.KindServer].Cert(); srv != nil {
		for _, ca := range []*member.File{b.CA, b.APIServerCA} {
			// Any client on b may dial a: kube-apiserver through its
			// --etcd-servers, etcdctl, backups and monitoring with b's
			// CA file wherever they are pointed.
			if ca != nil && len(ca.Certs) > 0 && !signedByAny(srv, ca.Certs) {
				failing = append(failing, fmt.Sprintf("%s's clients cannot verify %s's serving certificate", b.Name, a.Name))
				break
			}
		}
	}
	return len(failing) == 0, strings.Join(failing, ", ")
}

// caSet is the sorted fingerprints of a trusted CA file.
func caSet(f *member.File) string {
	if f == nil {
		return ""
	}
	var fps []string
	for _, c := range f.Certs {
		fps = append(fps, pki.Fingerprint(c))
	}
	sort.Strings(fps)
	return strings.Join(fps, "+")
}

func caDesc(f *member.File) string {
	if f == nil || len(f.Certs) == 0 {
		return "(none)"
	}
	var d []string
	for _, c := range f.Certs {
		d = append(d, fmt.Sprintf("%q (SHA256 %s)", c.Subject.CommonName, short(pki.Fingerprint(c))))
	}
	return strings.Join(d, " + ")
}

func fileOf(f *member.File) string {
	if f == nil {
		return ""
	}
	return f.CertPath
}

func byName(members []*member.Member, ns []string) []*member.Member {
	var out []*member.Member
	for _, m := range members {
		if contains(ns, m.Name) {
			out = append(out, m)
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// extraCAs flags every CA in a member's trusted CA files that signs
// nothing of the cluster: no leaf on any member (serving certificates,
// credentials, client certificates) chains to it. Anyone with its key
// can connect as a client or a peer. The two CAs of a CA rotation in
// progress (rotate-ca stage's <out>/ca-next and <out>/ca, read from
// init's output directory, or a node's <state>/ca-next and the CA file
// that holds it) are expected: the next signs nothing before
// reissue, the old nothing after it.
func extraCAs(members []*member.Member) []Finding {
	var leaves []*x509.Certificate
	next := map[string]bool{}
	for _, m := range members {
		for _, f := range m.Files {
			if c := f.Cert(); c != nil {
				leaves = append(leaves, c)
			}
		}
		if d := m.Input.InitDir; d != "" {
			// While a rotation is in progress both its CAs are expected:
			// the next one before reissue, the old one until finalize.
			if certs, err := layout.ReadCerts(filepath.Join(layout.NextCADir(d), "ca.crt")); err == nil {
				if old, err := layout.ReadCerts(filepath.Join(layout.CADir(d), "ca.crt")); err == nil {
					certs = append(certs, old...)
				}
				for _, c := range certs {
					next[pki.Fingerprint(c)] = true
				}
			}
		}
		// A rotation on member directories keeps the new CA in the
		// node's state directory (rotate-ca stage on node trees): the
		// member's CA file holding it is the rotation's bundle.
		nd := filepath.Join(layout.NodeStateDir(m.Input.Dir, m.Input.Root), "ca-next", "ca.crt")
		if nc, err := layout.ReadCert(nd); err == nil && m.CA != nil && slices.ContainsFunc(m.CA.Certs, nc.Equal) {
			for _, c := range m.CA.Certs {
				next[pki.Fingerprint(c)] = true
			}
		}
	}
	signsSomething := map[*x509.Certificate]bool{}
	var out []Finding
	for _, m := range members {
		files := []*member.File{m.CA}
		if m.PeerCA != m.CA {
			files = append(files, m.PeerCA)
		}
		for _, f := range files {
			if f == nil || len(f.Certs) < 2 {
				// A single CA that signs nothing is R1's (every leaf
				// then fails against it), not a stowaway's.
				continue
			}
			for _, ca := range f.Certs {
				used, ok := signsSomething[ca]
				if !ok {
					for _, l := range leaves {
						if pki.SignedBy(l, ca) == nil {
							used = true
							break
						}
					}
					signsSomething[ca] = used
				}
				if used || next[pki.Fingerprint(ca)] {
					continue
				}
				out = append(out, newFinding(RuleExtraCA, m.Name, f.CertPath,
					"trusts %q (SHA256 %s), which signs no certificate of the cluster and is not the next CA of a rotation in progress: whoever holds its key is accepted as a client or a peer",
					ca.Subject.CommonName, short(pki.Fingerprint(ca))))
			}
		}
	}
	return out
}
