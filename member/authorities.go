package member

import (
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/etcdpki/etcdpki/pki"
)

// Authority is one distinct CA certificate among the members' trusted CA
// files (during a CA rotation a bundle holds two), with the members that
// trust it and those that hold its key.
type Authority struct {
	Cert *x509.Certificate
	// Name is the CA's common name, with " #2", " #3" … appended when
	// distinct CAs share one (every init run makes an "etcd-ca").
	Name        string
	Fingerprint string
	// Members trust it (it is in their trusted CA file); KeyOn hold its
	// private key next to that file, as kubeadm HA nodes do.
	Members []string
	KeyOn   []string
	// Files are the trusted CA files (on this machine) that hold it.
	Files []string
}

// ExternallyManaged is kubeadm's notion: no member holds the CA's key, so
// neither the CA nor what it signs can be renewed on the nodes.
func (a *Authority) ExternallyManaged() bool { return len(a.KeyOn) == 0 }

// KeyOnMember reports whether member holds the CA's key.
func (a *Authority) KeyOnMember(member string) bool { return slices.Contains(a.KeyOn, member) }

// Authorities lists the distinct CAs in the members' trusted CA files
// (client and peer port), in the order first met.
func Authorities(members []*Member) []*Authority {
	var out []*Authority
	byFP := map[string]*Authority{}
	for _, m := range members {
		for _, f := range []*File{m.CA, m.PeerCA} {
			if f == nil {
				continue
			}
			for _, c := range f.Certs {
				fp := pki.Fingerprint(c)
				a := byFP[fp]
				if a == nil {
					a = &Authority{Cert: c, Name: c.Subject.CommonName, Fingerprint: fp}
					byFP[fp] = a
					out = append(out, a)
				}
				if !slices.Contains(a.Members, m.Name) {
					a.Members = append(a.Members, m.Name)
				}
				if !slices.Contains(a.Files, f.CertPath) {
					a.Files = append(a.Files, f.CertPath)
				}
				if f.KeyMatches(c.PublicKey) && !slices.Contains(a.KeyOn, m.Name) {
					a.KeyOn = append(a.KeyOn, m.Name)
				}
			}
		}
	}
	seen := map[string]int{}
	for _, a := range out {
		seen[a.Name]++
		if n := seen[a.Name]; n > 1 {
			a.Name = fmt.Sprintf("%s #%d", a.Name, n)
		}
	}
	return out
}

// IssuerOf returns the authority that signed cert, or nil when none did.
func IssuerOf(as []*Authority, cert *x509.Certificate) *Authority {
	for _, a := range as {
		if pki.SignedBy(cert, a.Cert) == nil {
			return a
		}
	}
	return nil
}
