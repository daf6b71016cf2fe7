package spec_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/spec"
)

func TestParseMember(t *testing.T) {
	tests := []struct {
		in        string
		want      spec.Member
		wantError string // part of the error; "" for success
	}{
		{in: "cp1=10.0.0.11", want: spec.Member{Name: "cp1", IPs: []string{"10.0.0.11"}}},
		{in: "cp2=10.0.0.12,cp2.example.com", want: spec.Member{Name: "cp2", IPs: []string{"10.0.0.12"}, DNSNames: []string{"cp2.example.com"}}},
		{in: "cp3=cp3.example.com,10.0.0.13,fd00::13", want: spec.Member{Name: "cp3", IPs: []string{"10.0.0.13", "fd00::13"}, DNSNames: []string{"cp3.example.com"}}},
		{in: "cp1=10.0.0.11, cp1.example.com", want: spec.Member{Name: "cp1", IPs: []string{"10.0.0.11"}, DNSNames: []string{"cp1.example.com"}}},
		// Broken IPs stay IPs so that Validate can say what is wrong
		// with them, instead of passing as odd DNS names.
		{in: "cp1=10.0.0.300", want: spec.Member{Name: "cp1", IPs: []string{"10.0.0.300"}}},
		{in: "cp1=10.0.0", want: spec.Member{Name: "cp1", IPs: []string{"10.0.0"}}},
		{in: "cp1=fe80::1%eth0", want: spec.Member{Name: "cp1", IPs: []string{"fe80::1%eth0"}}},
		{in: "cp1", wantError: "want NAME=IP"},
		{in: "cp1:10.0.0.11", wantError: "want NAME=IP"},
		{in: "=10.0.0.11", wantError: "want NAME=IP"},
		{in: "cp1=", wantError: "want NAME=IP"},
		{in: "", wantError: "want NAME=IP"},
		{in: "cp1=10.0.0.11,", wantError: "empty address"},
		{in: "cp1=,10.0.0.11", wantError: "empty address"},
		{in: "cp1=10.0.0.11,,cp1.example.com", wantError: "empty address"},
		{in: "cp1= ", wantError: "empty address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := spec.ParseMember(tt.in)
			if tt.wantError != "" {
				var fe *spec.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("ParseMember = %+v, %v; want a *FieldError", m, err)
				}
				if fe.Field != "--member "+tt.in || !strings.Contains(fe.Detail, tt.wantError) {
					t.Errorf("error %q, want field %q and %q", err, "--member "+tt.in, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != tt.want.Name || !slices.Equal(m.IPs, tt.want.IPs) || !slices.Equal(m.DNSNames, tt.want.DNSNames) {
				t.Errorf("ParseMember = %+v, want %+v", m, tt.want)
			}
		})
	}
}

func TestFromFlags(t *testing.T) {
	base := spec.Cluster{Algorithm: "ed25519", SplitCredentials: true}
	c, err := spec.FromFlags(base, []string{"cp1=10.0.0.11", "cp2=10.0.0.12,cp2.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Members) != 2 || c.Members[1].DNSNames[0] != "cp2.example.com" {
		t.Errorf("members = %+v", c.Members)
	}
	if c.Algorithm != "ed25519" || !c.SplitCredentials || c.ClientPort != 2379 {
		t.Errorf("base settings or defaults lost: %+v", c)
	}

	tests := []struct {
		name      string
		members   []string
		wantField string
	}{
		{"malformed flag", []string{"cp1=10.0.0.11", "cp2"}, "--member cp2"},
		{"duplicate IP", []string{"cp1=10.0.0.11", "cp2=10.0.0.11"}, "members[1].ips[0]"},
		{"invalid IP", []string{"cp1=10.0.0.300"}, "members[0].ips[0]"},
		{"no members", nil, "members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := spec.FromFlags(base, tt.members)
			if !spec.IsValidationError(err) {
				t.Fatalf("error %v, want a validation error", err)
			}
			if !strings.Contains(err.Error(), tt.wantField+": ") {
				t.Errorf("error %q does not name %s", err, tt.wantField)
			}
		})
	}
}

func TestLoopback(t *testing.T) {
	c, err := spec.Loopback(3, 2379, 2380, 2381)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct{ name, ip string }{{"etcd-1", "127.0.0.1"}, {"etcd-2", "127.0.0.2"}, {"etcd-3", "127.0.0.3"}} {
		m := c.Members[i]
		if m.Name != want.name || !slices.Equal(m.IPs, []string{want.ip}) || !m.OnLoopback() {
			t.Errorf("member %d = %+v, want %s on %s", i, m, want.name, want.ip)
		}
	}
	for _, n := range []int{0, -1, 255} {
		if _, err := spec.Loopback(n, 2379, 2380, 2381); !spec.IsValidationError(err) {
			t.Errorf("Loopback(%d): %v, want a validation error", n, err)
		}
	}
	if _, err := spec.Loopback(3, 2379, 2379, 2381); !spec.IsValidationError(err) {
		t.Errorf("Loopback with equal ports: %v, want a validation error", err)
	}
}
