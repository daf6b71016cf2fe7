// Package expiry says when each certificate of an etcd cluster expires,
// across all members at once: kubeadm's `certs check-expiration` for a whole
// cluster, from the member directories audit loads.
package expiry

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// SchemaVersion identifies the JSON/YAML form of a Report.
const SchemaVersion = "etcdpki.io/expiry/v1"

// Cert is one leaf certificate of one member.
type Cert struct {
	// Name is kubeadm's name for it: etcd-server, etcd-peer,
	// etcd-healthcheck-client, apiserver-etcd-client, …
	Name   string   `json:"name"`
	Kind   pki.Kind `json:"kind"`
	Member string   `json:"member"`
	File   string   `json:"file"`
	// Subject is the certificate's common name.
	Subject  string    `json:"subject"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"notAfter"`
	// ResidualSeconds is negative once the certificate has expired;
	// Residual is the same in kubeadm's short form (364d, 9y, <invalid>).
	ResidualSeconds int64  `json:"residualSeconds"`
	Residual        string `json:"residual"`
	// Authority is the name of the member's CA that signed it
	// (member.Authority.Name), or the issuer's CN when none of them did.
	Authority string `json:"authority"`
	// SignedByMemberCA is false when no CA the member trusts signed it.
	SignedByMemberCA bool `json:"signedByMemberCA"`
	// ExternallyManaged is kubeadm's column: the signing CA's key is not
	// on the member, so the certificate cannot be renewed there.
	ExternallyManaged bool `json:"externallyManaged"`
	// Missing is true for a certificate the member needs that is absent
	// or unreadable: kubeadm lists it as !MISSING!, and so does the table.
	Missing bool `json:"missing,omitempty"`
}

// Authority is one distinct CA certificate across the members.
type Authority struct {
	Name            string    `json:"name"`
	Fingerprint     string    `json:"fingerprint"`
	Members         []string  `json:"members"`
	NotAfter        time.Time `json:"notAfter"`
	ResidualSeconds int64     `json:"residualSeconds"`
	Residual        string    `json:"residual"`
	// ExternallyManaged is true when no member holds the CA's key; KeyOn
	// lists those that do.
	ExternallyManaged bool     `json:"externallyManaged"`
	KeyOn             []string `json:"keyOn,omitempty"`
}

// Report is every certificate and CA, soonest expiry first.
type Report struct {
	SchemaVersion string      `json:"schemaVersion"`
	CheckedAt     time.Time   `json:"checkedAt"`
	Certificates  []Cert      `json:"certificates"`
	Authorities   []Authority `json:"certificateAuthorities"`
	// Problems are the files that could not be read (missing, invalid),
	// as check reports them.
	Problems []audit.Finding `json:"problems"`
}

// Scan reads the expiry of every member's leaves and trusted CAs at now
// (time.Now() if zero).
func Scan(members []*member.Member, now time.Time) *Report {
	if now.IsZero() {
		now = time.Now()
	}
	r := &Report{SchemaVersion: SchemaVersion, CheckedAt: now.UTC(), Certificates: []Cert{}, Authorities: []Authority{}, Problems: []audit.Finding{}}
	cas := member.Authorities(members)
	order := map[string]int{}
	for i, m := range members {
		order[m.Name] = i
		r.Problems = append(r.Problems, audit.ProblemFindings(m)...)
		for _, kind := range pki.LeafKinds(true) {
			f := m.Files[kind]
			cert := f.Cert()
			if f != nil && cert == nil {
				// Required and not readable: listed first, as kubeadm's
				// check-expiration lists !MISSING! certificates.
				r.Certificates = append(r.Certificates, Cert{Name: Name(kind), Kind: kind, Member: m.Name, File: f.CertPath,
					Residual: "!MISSING!", ResidualSeconds: math.MinInt64, Missing: true})
				continue
			}
			if cert == nil {
				continue
			}
			c := Cert{
				Name: Name(kind), Kind: kind, Member: m.Name, File: f.CertPath,
				Subject: cert.Subject.CommonName, Serial: pki.Serial(cert),
				NotAfter: cert.NotAfter.UTC(), Authority: cert.Issuer.CommonName, ExternallyManaged: true,
			}
			c.ResidualSeconds, c.Residual = residual(cert.NotAfter, now)
			if a := member.IssuerOf(cas, cert); a != nil && memberTrusts(a, m.Name) {
				c.Authority, c.SignedByMemberCA, c.ExternallyManaged = a.Name, true, !a.KeyOnMember(m.Name)
			}
			r.Certificates = append(r.Certificates, c)
		}
	}
	for _, a := range cas {
		e := Authority{Name: a.Name, Fingerprint: a.Fingerprint, Members: a.Members, NotAfter: a.Cert.NotAfter.UTC(),
			ExternallyManaged: a.ExternallyManaged(), KeyOn: a.KeyOn}
		e.ResidualSeconds, e.Residual = residual(a.Cert.NotAfter, now)
		r.Authorities = append(r.Authorities, e)
	}
	kindOrder := map[pki.Kind]int{}
	for i, k := range pki.LeafKinds(true) {
		kindOrder[k] = i
	}
	sort.SliceStable(r.Certificates, func(i, j int) bool {
		a, b := r.Certificates[i], r.Certificates[j]
		if !a.NotAfter.Equal(b.NotAfter) {
			return a.NotAfter.Before(b.NotAfter)
		}
		if order[a.Member] != order[b.Member] {
			return order[a.Member] < order[b.Member]
		}
		return kindOrder[a.Kind] < kindOrder[b.Kind]
	})
	sort.SliceStable(r.Authorities, func(i, j int) bool { return r.Authorities[i].NotAfter.Before(r.Authorities[j].NotAfter) })
	return r
}

func memberTrusts(a *member.Authority, member string) bool {
	for _, m := range a.Members {
		if m == member {
			return true
		}
	}
	return false
}

// Name is kubeadm's name for a certificate kind (the kind table's Name):
// the etcd files are etcd-<kind>, apiserver-etcd-client keeps its own.
func Name(kind pki.Kind) string { return kind.Info().Name }

// Within returns what expires within d of the report's time (already
// expired included), as "member/name" for leaves and "CA name" for CAs.
func (r *Report) Within(d time.Duration) []string {
	limit := int64(d / time.Second)
	var out []string
	for _, c := range r.Certificates {
		if c.ResidualSeconds < limit {
			out = append(out, c.Member+"/"+c.Name)
		}
	}
	for _, a := range r.Authorities {
		if a.ResidualSeconds < limit {
			out = append(out, "CA "+a.Name)
		}
	}
	return out
}

// residual is the time left at now, in seconds and in kubeadm's short
// form.
func residual(notAfter, now time.Time) (int64, string) {
	d := notAfter.Sub(now)
	return int64(d / time.Second), ShortDuration(d)
}

// ShortDuration renders a residual time as kubeadm does (its
// duration.ShortHumanDuration): 45s, 59m, 23h, 364d, 9y, and <invalid>
// once it is past.
func ShortDuration(d time.Duration) string {
	switch s := int64(d / time.Second); {
	case s < -1:
		// kubeadm tolerates a second of clock skew before calling it invalid.
		return "<invalid>"
	case s < 0:
		return "0s"
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 365*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours())/24)
	}
	return fmt.Sprintf("%dy", int(d.Hours()/24/365))
}
