package spec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	full := `
name: prod-etcd
algorithm: ed25519
layout: etcd
clientPort: 12379
peerPort: 12380
metricsPort: 12381
caValidity: 3650d
certValidity: 2160h
splitCredentials: true
externalCA: true
extraSANs: [etcd.example.com, 192.0.2.10]
members:
- name: cp1
  ips: [10.0.0.11]
  extraSANs: [cp1.lb.example.com]
- name: cp2
  dnsNames: [cp2.example.com]
`
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := spec.Cluster{
		Name:             "prod-etcd",
		Algorithm:        pki.Ed25519,
		Layout:           spec.LayoutEtcd,
		ClientPort:       12379,
		PeerPort:         12380,
		MetricsPort:      12381,
		CAValidity:       spec.Duration(3650 * 24 * time.Hour),
		CertValidity:     spec.Duration(2160 * time.Hour),
		SplitCredentials: true,
		ExternalCA:       true,
		ExtraSANs:        []string{"etcd.example.com", "192.0.2.10"},
		Members: []spec.Member{
			{Name: "cp1", IPs: []string{"10.0.0.11"}, ExtraSANs: []string{"cp1.lb.example.com"}},
			{Name: "cp2", DNSNames: []string{"cp2.example.com"}},
		},
	}
	if got, want := marshal(t, c), marshal(t, &want); got != want {
		t.Errorf("loaded\n%s\nwant\n%s", got, want)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := spec.Parse([]byte("members:\n- name: cp1\n  ips: [10.0.0.11]\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"name", c.Name, "etcd-cluster"},
		{"algorithm", c.Algorithm, pki.RSA2048},
		{"layout", c.Layout, spec.LayoutKubeadm},
		{"clientPort", c.ClientPort, 2379},
		{"peerPort", c.PeerPort, 2380},
		{"metricsPort", c.MetricsPort, 2381},
		{"caValidity", time.Duration(c.CAValidity), 10 * 365 * 24 * time.Hour},
		{"certValidity", time.Duration(c.CertValidity), 365 * 24 * time.Hour},
		{"splitCredentials", c.SplitCredentials, false},
		{"externalCA", c.ExternalCA, false},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.what, ch.got, ch.want)
		}
	}
}

// A spec written by init (Marshal) reads back as the same spec.
func TestMarshalRoundTrip(t *testing.T) {
	c := threeMembers(t)
	c.SplitCredentials = true
	c.ExtraSANs = []string{"lb.example.com"}
	c.CertValidity = spec.Duration(90 * 24 * time.Hour)
	data, err := spec.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	again, err := spec.Parse(data, "cluster.yaml")
	if err != nil {
		t.Fatalf("Parse(Marshal(c)): %v\n%s", err, data)
	}
	if got, want := marshal(t, again), string(data); got != want {
		t.Errorf("round trip changed the spec:\n%s\nwant\n%s", got, want)
	}
	if again.CertValidity != c.CertValidity || !again.SplitCredentials || again.Members[2].IPs[1] != "fd00::13" {
		t.Errorf("round trip lost fields: %+v", again)
	}
}

func marshal(t *testing.T, c *spec.Cluster) string {
	t.Helper()
	data, err := spec.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		yaml      string // written to a file unless path is set
		path      string
		wantField string // "" means the file's path
		wantText  string
	}{
		{name: "missing file", path: filepath.Join(dir, "nope.yaml"), wantField: "--config", wantText: "no such file"},
		{name: "directory", path: dir, wantField: "--config", wantText: "directory"},
		{name: "invalid YAML", yaml: "members: [\n", wantText: "line"},
		{name: "tab indentation", yaml: "members:\n\t- name: cp1\n", wantText: "line"},
		{name: "typo member", yaml: "member:\n- name: cp1\n  ips: [10.0.0.11]\n", wantText: `unknown field "member"`},
		{name: "typo ip", yaml: "members:\n- name: cp1\n  ip: 10.0.0.11\n", wantText: `unknown field "ip"`},
		{name: "typo at top level", yaml: "algo: ed25519\nmembers: [{name: cp1, ips: [10.0.0.11]}]\n", wantText: `unknown field "algo"`},
		{name: "duplicate key", yaml: "name: a\nname: b\nmembers: [{name: cp1, ips: [10.0.0.11]}]\n", wantText: "name"},
		{name: "wrong type", yaml: "clientPort: twenty\nmembers: [{name: cp1, ips: [10.0.0.11]}]\n", wantText: "clientPort"},
		{name: "ips not a list", yaml: "members: [{name: cp1, ips: 10.0.0.11}]\n", wantText: "ips"},
		{name: "duration as number", yaml: "certValidity: 100\nmembers: [{name: cp1, ips: [10.0.0.11]}]\n", wantText: "duration must be a string"},
		{name: "bad duration", yaml: "certValidity: 1y\nmembers: [{name: cp1, ips: [10.0.0.11]}]\n", wantText: `invalid duration "1y"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = filepath.Join(dir, "spec"+string(rune('a'+i))+".yaml")
				if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want := tt.wantField
			if want == "" {
				want = path
			}
			c, err := spec.Load(path)
			if err == nil {
				t.Fatalf("loaded %+v, want an error", c)
			}
			var fe *spec.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *spec.FieldError", err, err)
			}
			if fe.Field != want {
				t.Errorf("field %q, want %q", fe.Field, want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
			if !spec.IsValidationError(err) {
				t.Error("IsValidationError is false: the CLI would not exit 2")
			}
		})
	}
}

// An invalid spec in a file fails validation, not parsing, and names the
// field.
func TestLoadInvalidSpec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("members:\n- name: cp1\n  ips: [10.0.0.300]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := spec.Load(path)
	if _, ok := fieldErrors(t, err)["members[0].ips[0]"]; !ok {
		t.Errorf("error %v does not name members[0].ips[0]", err)
	}
}

func TestIsValidationError(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&spec.FieldError{Field: "f", Detail: "d"}, true},
		{&spec.ValidationError{}, true},
		{errors.Join(errors.New("context"), &spec.FieldError{}), true},
		{errors.New("disk full"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := spec.IsValidationError(tt.err); got != tt.want {
			t.Errorf("IsValidationError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
