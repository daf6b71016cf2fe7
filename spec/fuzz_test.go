package spec_test

import (
	"testing"

	"github.com/etcdpki/etcdpki/spec"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		validYAML,
		"",
		"members: [\n",
		"member:\n- name: cp1\n",
		"members: [{name: cp1, ips: [10.0.0.300]}]",
		"certValidity: 365d\ncaValidity: 3650d\nmembers: [{name: cp1, ips: [10.0.0.11]}]",
		"certValidity: 99999999999999d\nmembers: [{name: cp1, ips: [10.0.0.11]}]",
		"extraSANs: ['*.example.com', '::1']\nmembers: [{name: cp1, dnsNames: [cp1.example.com], extraSANs: [cp2]}, {name: cp2, ips: ['::ffff:10.0.0.1']}]",
		"a: &a [*a]",
		`{"members": [{"name": "cp1", "ips": ["10.0.0.11"]}], "clientPort": 1e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := spec.Parse(data, "fuzz.yaml")
		if err != nil {
			if !spec.IsValidationError(err) {
				t.Fatalf("error %v (%T) is not a validation error: the CLI would not exit 2", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse returned a spec that does not validate: %v", err)
		}
		for i := range c.Members {
			c.SANs(&c.Members[i])
			c.ClientURL(&c.Members[i])
		}
		// What init stores reads back as the same spec.
		out, err := spec.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := spec.Parse(out, "cluster.yaml")
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, out)
		}
		if out2, _ := spec.Marshal(again); string(out2) != string(out) {
			t.Fatalf("round trip changed the spec:\n%s\n---\n%s", out, out2)
		}
	})
}

func FuzzParseMember(f *testing.F) {
	for _, s := range []string{"cp1=10.0.0.11", "cp2=10.0.0.12,cp2.example.com", "cp1", "=", "cp1=,", "a=b=c", "cp1=fe80::1%eth0", "cp1= 10.0.0.1 ,x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := spec.ParseMember(s)
		if err != nil {
			if !spec.IsValidationError(err) {
				t.Fatalf("error %v (%T) is not a validation error", err, err)
			}
			return
		}
		if m.Name == "" || len(m.IPs)+len(m.DNSNames) == 0 {
			t.Fatalf("ParseMember(%q) = %+v: no name or no address", s, m)
		}
		for _, a := range append(m.IPs, m.DNSNames...) {
			if a == "" {
				t.Fatalf("ParseMember(%q) = %+v: an empty address", s, m)
			}
		}
		c := spec.Cluster{Members: []spec.Member{m}}.WithDefaults()
		_ = c.Validate()
		c.SANs(&c.Members[0])
	})
}
