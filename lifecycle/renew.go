package lifecycle

import (
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// RenewOptions select what Renew re-issues. The zero value re-issues every
// leaf certificate of every member with new keys.
type RenewOptions struct {
	// Members limits the renewal to these members; empty means all.
	Members []string
	// Kinds limits it to these kinds of leaf; empty means all.
	Kinds []pki.Kind
	// ExpiringWithin, when positive, renews only certificates that expire
	// before Now+ExpiringWithin.
	ExpiringWithin time.Duration
	// ReuseKey keeps each certificate's key instead of making a new one.
	ReuseKey bool
	// AddIPs, AddDNSNames, RemoveIPs and RemoveDNSNames change the
	// addresses of the one member named in Members, in the spec
	// (cluster.yaml) and so in its server and peer certificates.
	AddIPs, AddDNSNames, RemoveIPs, RemoveDNSNames []string
	// Now is the issue time; zero means time.Now().
	Now time.Time

	// signer, when set, signs instead of the CA that signed each
	// certificate, and a certificate it signed already is kept (rotate-ca
	// reissue on member directories); op names the command for backups
	// and refusals.
	signer *pki.CA
	op     string

	// missing issues certificates that are not there at all (a rebuilt
	// member's, ReplaceMember) instead of refusing.
	missing bool
}

func (o *RenewOptions) editsSANs() bool {
	return len(o.AddIPs)+len(o.AddDNSNames)+len(o.RemoveIPs)+len(o.RemoveDNSNames) > 0
}

// RenewResult says what Renew did.
type RenewResult struct {
	Result
	// Issued lists the certificates re-issued; Kept those that ExpiringWithin
	// left alone.
	Issued []Issued
	Kept   []Kept
	// SpecChanged is true when cluster.yaml was updated (a changed address).
	SpecChanged bool
	// PeerURL is set when the member's advertised peer URL changed: the
	// running cluster's membership must be told too (etcdctl member update),
	// or the others keep dialing the old address.
	PeerURL *URLChange
	// CA is the CA that signed the certificates. A certificate never
	// outlives it (pki.CA.Issue), so a CA close to expiry shortens them.
	CA *x509.Certificate
}

// Kept is a certificate that Renew left alone.
type Kept struct {
	Member   string
	Kind     pki.Kind
	NotAfter time.Time
}

// URLChange is a member's old and new URL.
type URLChange struct {
	Member   string
	Old, New string
}

// Renew re-issues leaf certificates of the PKI directory out from its CA
// (<out>/ca), which it never changes: every leaf of every member, or those
// opts selects. SANs come from the spec, so a renewed certificate is the
// one init would issue today; opts can change one member's addresses, which
// updates the spec first. Replaced files are backed up. etcd serves a
// renewed certificate from its next TLS handshake on, without a restart
// (its GetCertificate callback re-reads the files, see the package
// documentation).
func Renew(out string, opts RenewOptions) (*RenewResult, error) {
	const op = "renew"
	d, cs, unlock, err := begin(out, op, opts.Now)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := cs.now
	if err := d.refuseDuringRotation(op); err != nil {
		return nil, err
	}
	kinds, err := d.selectKinds(op, opts.Kinds)
	if err != nil {
		return nil, err
	}
	members, err := d.members(op, opts.Members)
	if err != nil {
		return nil, err
	}
	res := &RenewResult{}

	// A changed address goes into the spec before any certificate: a run
	// interrupted after that is re-run with the same flags, which change
	// nothing more in the spec and re-issue the certificates. Everything
	// that could refuse is checked before the first write.
	var edited string
	var specData []byte
	if opts.editsSANs() {
		if len(opts.Members) != 1 {
			return nil, &RefusedError{Op: op, Detail: "adding or removing addresses changes one member: name exactly one member",
				Hint: "e.g. etcdpki renew --dir " + out + " --member cp2 --add-ip 10.0.0.22"}
		}
		for _, k := range sanKinds(d.Spec.SplitCredentials) {
			if !slices.Contains(kinds, k) {
				return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("a changed address must be in the %s certificates, but the selected kinds leave out %s", joinKinds(sanKinds(d.Spec.SplitCredentials)), k),
					Hint: "leave out the kind selection, or include " + string(k)}
			}
		}
		edited = opts.Members[0]
		newSpec, change, err := d.editSpec(op, edited, opts)
		if err != nil {
			return nil, err
		}
		if change != nil {
			if specData, err = spec.Marshal(newSpec); err != nil {
				return nil, err
			}
			res.SpecChanged = true
			if change.Old != change.New {
				res.PeerURL = change
			}
		}
		d.Spec = newSpec
		if members, err = d.members(op, opts.Members); err != nil {
			return nil, err
		}
	}

	ca, err := d.CA()
	if err != nil {
		return nil, err
	}
	res.CA = ca.Cert
	var jobs []leafJob
	for _, m := range members {
		for _, kind := range kinds {
			j, err := d.readLeaf(op, m, kind, opts.ReuseKey)
			if err != nil && !(opts.missing && !exists(j.cert) && !exists(j.key)) {
				return nil, err
			}
			mustRenew := m.Name == edited && slices.Contains(sanKinds(d.Spec.SplitCredentials), kind)
			if opts.ExpiringWithin > 0 && j.old != nil && !mustRenew && j.old.NotAfter.After(now.Add(opts.ExpiringWithin)) {
				res.Kept = append(res.Kept, Kept{Member: m.Name, Kind: kind, NotAfter: j.old.NotAfter})
				continue
			}
			jobs = append(jobs, j)
		}
	}
	if specData != nil {
		if err := cs.apply(change1(layout.SpecFile(out), specData)); err != nil {
			res.Result = *cs.res
			return res, err
		}
	}
	res.Issued, err = issueLeaves(cs, d.Spec, ca, jobs, now)
	res.Result = *cs.res
	return res, err
}

func change1(path string, data []byte) change { return change{path, data, layout.CertPerm} }

// selectKinds checks kinds against the cluster's leaf kinds; empty means
// all of them.
func (d *Dir) selectKinds(op string, kinds []pki.Kind) ([]pki.Kind, error) {
	all := d.LeafKinds()
	if len(kinds) == 0 {
		return all, nil
	}
	var out []pki.Kind
	for _, k := range kinds {
		if !slices.Contains(all, k) {
			return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("unknown certificate kind %q (this cluster's leaves: %s)", k, joinKinds(all))}
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// sanKinds are the kinds whose certificates carry the member's names
// (layout.LeafRequest).
func sanKinds(split bool) []pki.Kind {
	var kinds []pki.Kind
	for _, k := range pki.LeafKinds(split) {
		if k.Info().SANs {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

func joinKinds(kinds []pki.Kind) string {
	var s []string
	for _, k := range kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// editSpec returns a copy of the spec with member name's addresses
// changed as opts says, validated. The URLChange is nil when nothing
// changed; otherwise it holds the member's peer URL before and after.
func (d *Dir) editSpec(op, name string, opts RenewOptions) (*spec.Cluster, *URLChange, error) {
	c := *d.Spec
	c.Members = slices.Clone(d.Spec.Members)
	m, err := c.Member(name)
	if err != nil {
		return nil, nil, &RefusedError{Op: op, Detail: err.Error()}
	}
	before := *m
	m.IPs, m.DNSNames, m.ExtraSANs = slices.Clone(m.IPs), slices.Clone(m.DNSNames), slices.Clone(m.ExtraSANs)
	for _, ip := range opts.AddIPs {
		if !containsSAN(m.IPs, ip) {
			m.IPs = append(m.IPs, ip)
		}
	}
	for _, dns := range opts.AddDNSNames {
		if !containsSAN(m.DNSNames, dns) {
			m.DNSNames = append(m.DNSNames, dns)
		}
	}
	remove := func(what string, sans []string, lists ...*[]string) error {
		for _, s := range sans {
			found := false
			for _, l := range lists {
				n := len(*l)
				*l = slices.DeleteFunc(*l, func(x string) bool { return sanEqual(x, s) })
				found = found || len(*l) != n
			}
			if !found {
				return &RefusedError{Op: op, Detail: fmt.Sprintf("%s %s is not one of member %s's (%s)", what, s, name, strings.Join(memberSANs(&before), ", "))}
			}
		}
		return nil
	}
	if err := remove("IP", opts.RemoveIPs, &m.IPs, &m.ExtraSANs); err != nil {
		return nil, nil, err
	}
	if err := remove("DNS name", opts.RemoveDNSNames, &m.DNSNames, &m.ExtraSANs); err != nil {
		return nil, nil, err
	}
	// Validation names the field of a clash, e.g. "members[2].ips[1]:
	// duplicate IP 10.0.0.11 (also members[0].ips[0])".
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if slices.Equal(before.IPs, m.IPs) && slices.Equal(before.DNSNames, m.DNSNames) && slices.Equal(before.ExtraSANs, m.ExtraSANs) {
		return &c, nil, nil
	}
	return &c, &URLChange{Member: name, Old: d.Spec.PeerURL(&before), New: c.PeerURL(m)}, nil
}

func memberSANs(m *spec.Member) []string {
	return slices.Concat(m.IPs, m.DNSNames, m.ExtraSANs)
}

func containsSAN(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return sanEqual(x, s) })
}

// sanEqual compares SANs as a TLS client does: IPs by value
// (::ffff:10.0.0.1 is 10.0.0.1), DNS names without regard to case.
func sanEqual(a, b string) bool {
	if ipa, ipb := net.ParseIP(a), net.ParseIP(b); ipa != nil || ipb != nil {
		return ipa != nil && ipb != nil && ipa.Equal(ipb)
	}
	return strings.EqualFold(a, b)
}
