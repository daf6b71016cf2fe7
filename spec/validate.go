package spec

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

// FieldError is one invalid field of a spec. Field is a path such as
// "members[1].ips[0]" or, for specs made from flags, "--member cp2".
type FieldError struct {
	Field  string
	Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Detail }

// ValidationError collects every FieldError of a spec, so a user fixes them
// all in one go.
type ValidationError struct {
	Errors []*FieldError
}

func (e *ValidationError) Error() string {
	var lines []string
	for _, fe := range e.Errors {
		lines = append(lines, fe.Error())
	}
	return "invalid cluster spec: " + strings.Join(lines, "; ")
}

// dnsLabel is an RFC 1123 label; names are lower-case because
// Kubernetes, kubeadm and etcd's --name all use them that way.
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// reservedNames cannot be member names because etcdpki uses them as
// directory and file names next to the members' trees: init's CA and spec
// (layout.CADir and layout.SpecFile), the new CA during a CA rotation and
// the old one kept after it, and the backups of replaced files (package
// lifecycle).
var reservedNames = map[string]bool{"ca": true, "cluster.yaml": true, "ca-next": true, "ca-retired": true, "backups": true}

// Validate checks c (after WithDefaults) and returns a *ValidationError
// listing every problem, or nil.
func (c *Cluster) Validate() error {
	var errs []*FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	if _, err := pki.ParseAlgorithm(string(c.Algorithm)); err != nil {
		add("algorithm", "%v", err)
	}
	if c.Layout != LayoutKubeadm && c.Layout != LayoutEtcd {
		add("layout", "unknown layout %q (want %s or %s)", c.Layout, LayoutKubeadm, LayoutEtcd)
	}
	for _, p := range []struct {
		field string
		port  int
	}{{"clientPort", c.ClientPort}, {"peerPort", c.PeerPort}, {"metricsPort", c.MetricsPort}} {
		if p.port < 1 || p.port > 65535 {
			add(p.field, "port %d out of range 1-65535", p.port)
		}
	}
	if c.ClientPort == c.PeerPort {
		add("peerPort", "must differ from clientPort (%d)", c.ClientPort)
	}
	if c.MetricsPort == c.ClientPort || c.MetricsPort == c.PeerPort {
		add("metricsPort", "must differ from clientPort and peerPort")
	}
	// Under an hour a PKI is expired, or all but, before it reaches the
	// nodes (and leaves are backdated by pki.Backdate): refuse it rather
	// than write certificates that fail at once.
	if c.CAValidity <= 0 {
		add("caValidity", "must be positive")
	} else if time.Duration(c.CAValidity) < MinValidity {
		add("caValidity", "%s is under %s: the CA would expire before it is in use", c.CAValidity, MinValidity)
	}
	if c.CertValidity <= 0 {
		add("certValidity", "must be positive")
	} else if time.Duration(c.CertValidity) < MinValidity {
		add("certValidity", "%s is under %s: the certificates would expire before they are in use", c.CertValidity, MinValidity)
	}
	if time.Duration(c.CertValidity) > time.Duration(c.CAValidity) {
		add("certValidity", "%s outlives the CA (caValidity %s): leaves would stop verifying when the CA expires", c.CertValidity, c.CAValidity)
	}
	memberNames, memberAddrs := c.owners()
	// A member's certs name its own addresses only; a name of another
	// member in them would let this member's key impersonate that one.
	notOthers := func(field, san string, self int) {
		k, ok := memberNames.other(san, self)
		if !ok {
			k, ok = memberAddrs.other(san, self)
		}
		if ok {
			add(field, "%q is member %s's; a member's certs must not name another member, or its key could impersonate %[2]s", san, c.Members[k].Name)
		}
	}
	clusterSelf := -1 // cluster extra SANs go into every member's certs
	if len(c.Members) == 1 {
		clusterSelf = 0
	}
	for i, s := range c.ExtraSANs {
		g := fmt.Sprintf("extraSANs[%d]", i)
		if err := checkSAN(s); err != nil {
			add(g, "%v", err)
		} else {
			notOthers(g, s, clusterSelf)
		}
	}
	if len(c.Members) == 0 {
		add("members", "no members: give at least one (--member NAME=IP or members: in the spec)")
	}
	names := map[string]string{}
	ips := map[string]string{}
	hosts := map[string]string{}
	for i, m := range c.Members {
		f := fmt.Sprintf("members[%d]", i)
		switch {
		case m.Name == "":
			add(f+".name", "missing")
		case !dnsName.MatchString(m.Name) || len(m.Name) > 253:
			add(f+".name", "%q is not a valid member name (lower-case letters, digits, '-' and '.')", m.Name)
		case reservedNames[m.Name]:
			add(f+".name", "%q is reserved (etcdpki keeps <out>/ca, <out>/ca-next, <out>/ca-retired, <out>/backups and <out>/cluster.yaml next to the members' directories)", m.Name)
		case names[m.Name] != "":
			add(f+".name", "duplicate member name %q (also %s)", m.Name, names[m.Name])
		default:
			names[m.Name] = f
		}
		if len(m.IPs) == 0 && len(m.DNSNames) == 0 {
			add(f, "member %q has no IP address or DNS name to advertise", m.Name)
		}
		for j, s := range m.IPs {
			g := fmt.Sprintf("%s.ips[%d]", f, j)
			ip := net.ParseIP(s)
			switch {
			case ip == nil:
				add(g, "%q is not a valid IP address", s)
			case ip.IsUnspecified():
				add(g, "%s cannot be advertised; give the member's own address", s)
			case ips[ip.String()] != "":
				add(g, "duplicate IP %s (also %s): each member needs its own address", s, ips[ip.String()])
			default:
				ips[ip.String()] = g
			}
		}
		for j, s := range m.DNSNames {
			g := fmt.Sprintf("%s.dnsNames[%d]", f, j)
			switch {
			case looksLikeIP(s):
				// A DNS SAN never matches a dialed IP address.
				add(g, "%q is an IP address; list it under ips", s)
			case !dnsName.MatchString(strings.ToLower(s)):
				add(g, "%q is not a valid DNS name", s)
			case memberNames.has(s, i):
				notOthers(g, s, i)
			case hosts[strings.ToLower(s)] != "":
				add(g, "duplicate DNS name %q (also %s)", s, hosts[strings.ToLower(s)])
			default:
				hosts[strings.ToLower(s)] = g
			}
		}
		for j, s := range m.ExtraSANs {
			g := fmt.Sprintf("%s.extraSANs[%d]", f, j)
			if err := checkSAN(s); err != nil {
				add(g, "%v", err)
			} else {
				notOthers(g, s, i)
			}
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// sanOwners maps a SAN (see sanKey) to the indexes of the members it
// belongs to.
type sanOwners map[string][]int

// owners indexes the members' names and their addresses (IPs and DNS
// names). Loopback addresses and localhost belong to no member: kubeadm puts
// them in every member's certs.
func (c *Cluster) owners() (names, addrs sanOwners) {
	names, addrs = sanOwners{}, sanOwners{}
	for i, m := range c.Members {
		names.add(m.Name, i)
		for _, s := range m.IPs {
			addrs.add(s, i)
		}
		for _, s := range m.DNSNames {
			addrs.add(s, i)
		}
	}
	return names, addrs
}

func (o sanOwners) add(san string, member int) {
	k := sanKey(san)
	if ip := net.ParseIP(k); (ip != nil && ip.IsLoopback()) || k == "localhost" {
		return
	}
	o[k] = append(o[k], member)
}

// other returns a member other than self that san belongs to.
func (o sanOwners) other(san string, self int) (int, bool) {
	for _, k := range o[sanKey(san)] {
		if k != self {
			return k, true
		}
	}
	return 0, false
}

// has reports whether san belongs to a member other than self.
func (o sanOwners) has(san string, self int) bool {
	_, ok := o.other(san, self)
	return ok
}

// sanKey is the form in which two SANs compare equal: IPs canonical
// (::ffff:10.0.0.1 is 10.0.0.1), DNS names lower-case.
func sanKey(s string) string {
	if ip := net.ParseIP(s); ip != nil {
		return ip.String()
	}
	return strings.ToLower(s)
}

// checkSAN accepts an IP address, a DNS name or a wildcard DNS name.
func checkSAN(s string) error {
	if net.ParseIP(s) != nil {
		return nil
	}
	if looksLikeIP(s) {
		return fmt.Errorf("%q is not a valid IP address", s)
	}
	name := strings.TrimPrefix(strings.ToLower(s), "*.")
	if !dnsName.MatchString(name) {
		return fmt.Errorf("%q is neither an IP address nor a valid DNS name", s)
	}
	return nil
}

// looksLikeIP catches typos such as 10.0.0.300 or 10.0.0, which would
// otherwise pass as (odd) DNS names.
func looksLikeIP(s string) bool {
	if strings.Contains(s, ":") {
		return true
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return s != ""
}

// IsValidationError reports whether err is a spec validation error (a usage
// error: exit code 2).
func IsValidationError(err error) bool {
	var v *ValidationError
	var f *FieldError
	return errors.As(err, &v) || errors.As(err, &f)
}

// MinValidity is the shortest lifetime the spec accepts for the CA and
// the leaves.
const MinValidity = time.Hour
