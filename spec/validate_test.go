package spec_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/spec"
)

// validYAML is a three-member spec that passes validation; the table
// below breaks one thing at a time.
const validYAML = `
name: prod-etcd
algorithm: ecdsa-p256
members:
- name: cp1
  ips: [10.0.0.11]
- name: cp2
  ips: [10.0.0.12]
  dnsNames: [cp2.example.com]
- name: cp3
  ips: [10.0.0.13, "fd00::13"]
`

// threeMembers returns the parsed validYAML.
func threeMembers(t *testing.T) spec.Cluster {
	t.Helper()
	c, err := spec.Parse([]byte(validYAML), "cluster.yaml")
	if err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
	return *c
}

// fieldErrors returns the fields that err names, failing unless err is a
// *ValidationError.
func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	var ve *spec.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T), want a *spec.ValidationError", err, err)
	}
	if !spec.IsValidationError(err) {
		t.Error("IsValidationError is false for a *ValidationError")
	}
	fields := map[string]string{}
	for _, fe := range ve.Errors {
		fields[fe.Field] = fe.Detail
		if !strings.Contains(err.Error(), fe.Field+": ") {
			t.Errorf("error text %q does not name %s", err, fe.Field)
		}
	}
	return fields
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(c *spec.Cluster)
		wantField string
		wantText  string // part of the field's detail
	}{
		{"duplicate name", func(c *spec.Cluster) { c.Members[1].Name = "cp1" }, "members[1].name", "duplicate member name"},
		{"duplicate IP across members", func(c *spec.Cluster) { c.Members[2].IPs[0] = "10.0.0.11" }, "members[2].ips[0]", "duplicate IP"},
		{"duplicate IP spelled differently", func(c *spec.Cluster) { c.Members[1].IPs[0] = "::ffff:10.0.0.11" }, "members[1].ips[0]", "duplicate IP"},
		{"duplicate IPv6 spelled differently", func(c *spec.Cluster) { c.Members[0].IPs = append(c.Members[0].IPs, "FD00:0::13") }, "members[2].ips[1]", "duplicate IP"},
		{"invalid IP", func(c *spec.Cluster) { c.Members[0].IPs[0] = "10.0.0.300" }, "members[0].ips[0]", "not a valid IP"},
		{"unspecified IP", func(c *spec.Cluster) { c.Members[0].IPs[0] = "0.0.0.0" }, "members[0].ips[0]", "cannot be advertised"},
		{"invalid DNS name", func(c *spec.Cluster) { c.Members[1].DNSNames[0] = "cp2_.example.com" }, "members[1].dnsNames[0]", "not a valid DNS name"},
		{"DNS name with a space", func(c *spec.Cluster) { c.Members[1].DNSNames[0] = "cp2 example" }, "members[1].dnsNames[0]", "not a valid DNS name"},
		{"IP in dnsNames", func(c *spec.Cluster) { c.Members[1].DNSNames[0] = "10.0.0.14" }, "members[1].dnsNames[0]", "ips"},
		{"duplicate DNS name across members", func(c *spec.Cluster) { c.Members[0].DNSNames = []string{"CP2.example.com"} }, "members[1].dnsNames[0]", "duplicate DNS name"},
		{"no members", func(c *spec.Cluster) { c.Members = nil }, "members", "no members"},
		{"unknown algorithm", func(c *spec.Cluster) { c.Algorithm = "rsa-1024" }, "algorithm", "unknown key algorithm"},
		{"bad layout", func(c *spec.Cluster) { c.Layout = "kubespray" }, "layout", "unknown layout"},
		{"client port too high", func(c *spec.Cluster) { c.ClientPort = 65536 }, "clientPort", "out of range"},
		{"negative peer port", func(c *spec.Cluster) { c.PeerPort = -1 }, "peerPort", "out of range"},
		{"peer port = client port", func(c *spec.Cluster) { c.PeerPort = c.ClientPort }, "peerPort", "must differ"},
		{"metrics port = peer port", func(c *spec.Cluster) { c.MetricsPort = c.PeerPort }, "metricsPort", "must differ"},
		{"cert outlives CA", func(c *spec.Cluster) {
			c.CAValidity = spec.Duration(24 * time.Hour)
			c.CertValidity = spec.Duration(48 * time.Hour)
		}, "certValidity", "outlives the CA"},
		{"negative CA validity", func(c *spec.Cluster) { c.CAValidity = -1 }, "caValidity", "positive"},
		{"negative cert validity", func(c *spec.Cluster) { c.CertValidity = spec.Duration(-time.Hour) }, "certValidity", "positive"},
		{"reserved name ca", func(c *spec.Cluster) { c.Members[0].Name = "ca" }, "members[0].name", "reserved"},
		// init writes the spec to <out>/cluster.yaml, next to the members'
		// directories.
		{"reserved name cluster.yaml", func(c *spec.Cluster) { c.Members[0].Name = "cluster.yaml" }, "members[0].name", "reserved"},
		{"reserved name ca-retired", func(c *spec.Cluster) { c.Members[0].Name = "ca-retired" }, "members[0].name", "reserved"},
		{"upper-case name", func(c *spec.Cluster) { c.Members[0].Name = "CP1" }, "members[0].name", "not a valid member name"},
		{"name with a slash", func(c *spec.Cluster) { c.Members[0].Name = "../cp1" }, "members[0].name", "not a valid member name"},
		{"empty name", func(c *spec.Cluster) { c.Members[0].Name = "" }, "members[0].name", "missing"},
		{"member without address", func(c *spec.Cluster) { c.Members[1].IPs, c.Members[1].DNSNames = nil, nil }, "members[1]", "no IP address or DNS name"},
		{"invalid extra SAN", func(c *spec.Cluster) { c.ExtraSANs = []string{"lb.example.com", "bad_name"} }, "extraSANs[1]", "neither an IP address nor a valid DNS name"},
		{"invalid member extra SAN", func(c *spec.Cluster) { c.Members[2].ExtraSANs = []string{"10.0.0.256"} }, "members[2].extraSANs[0]", "not a valid IP"},
		// A member's certs name its own addresses only: otherwise one
		// member's key impersonates another (DESIGN, R3).
		{"member extra SAN is another member's IP", func(c *spec.Cluster) { c.Members[0].ExtraSANs = []string{"10.0.0.12"} }, "members[0].extraSANs[0]", "cp2"},
		{"member extra SAN is another member's DNS name", func(c *spec.Cluster) { c.Members[0].ExtraSANs = []string{"cp2.example.com"} }, "members[0].extraSANs[0]", "cp2"},
		{"member extra SAN is another member's name", func(c *spec.Cluster) { c.Members[2].ExtraSANs = []string{"cp1"} }, "members[2].extraSANs[0]", "cp1"},
		{"cluster extra SAN is a member's IP", func(c *spec.Cluster) { c.ExtraSANs = []string{"fd00::13"} }, "extraSANs[0]", "cp3"},
		{"DNS name is another member's name", func(c *spec.Cluster) { c.Members[0].DNSNames = []string{"cp3"} }, "members[0].dnsNames[0]", "cp3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := threeMembers(t)
			tt.change(&c)
			fields := fieldErrors(t, c.Validate())
			detail, ok := fields[tt.wantField]
			if !ok {
				t.Fatalf("errors name %v, want %s", fields, tt.wantField)
			}
			if !strings.Contains(detail, tt.wantText) {
				t.Errorf("%s: %q does not say %q", tt.wantField, detail, tt.wantText)
			}
		})
	}
}

// The valid cases next to the invalid ones above: things that look odd but
// are right.
func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *spec.Cluster)
	}{
		{"as given", func(*spec.Cluster) {}},
		{"DNS-only member", func(c *spec.Cluster) { c.Members[1].IPs = nil }},
		{"wildcard extra SAN", func(c *spec.Cluster) { c.ExtraSANs = []string{"*.etcd.example.com"} }},
		{"own address as extra SAN", func(c *spec.Cluster) { c.Members[1].ExtraSANs = []string{"10.0.0.12", "cp2"} }},
		{"loopback extra SAN", func(c *spec.Cluster) { c.ExtraSANs = []string{"127.0.0.1", "localhost", "::1"} }},
		{"cert validity = CA validity", func(c *spec.Cluster) { c.CertValidity = c.CAValidity }},
		{"single member with its IP as cluster SAN", func(c *spec.Cluster) {
			c.Members = c.Members[:1]
			c.ExtraSANs = []string{"10.0.0.11"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := threeMembers(t)
			tt.change(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	c := threeMembers(t)
	c.Algorithm = "dsa"
	c.Members[0].IPs[0] = "10.0.0.300"
	c.Members[2].Name = "cp2"
	fields := fieldErrors(t, c.Validate())
	for _, f := range []string{"algorithm", "members[0].ips[0]", "members[2].name"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("errors %v do not name %s", fields, f)
		}
	}
}

// Algorithm names are matched case-insensitively; the spec must then carry
// the canonical name, which is what key generation switches on.
func TestParseNormalizesAlgorithm(t *testing.T) {
	c, err := spec.Parse([]byte("algorithm: ECDSA-P256\nmembers: [{name: cp1, ips: [10.0.0.11]}]\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Algorithm != "ecdsa-p256" {
		t.Errorf("Algorithm = %q, want ecdsa-p256", c.Algorithm)
	}
}
