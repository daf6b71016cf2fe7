package release

import (
	"strings"
	"testing"
)

func TestParseEtcd(t *testing.T) {
	for in, want := range map[string]string{
		"3.4": "3.4", "v3.5": "3.5", "3.5.21": "3.5.21", "3.6.5-0": "3.6.5", "v3.5.21-k3s1": "3.5.21", " 3.7 ": "3.7",
	} {
		e, err := ParseEtcd(in)
		if err != nil || e.String() != want {
			t.Errorf("ParseEtcd(%q) = %v, %v; want %s", in, e, err, want)
		}
	}
	for _, in := range []string{"", "3", "3.3", "3.8", "4.0", "latest", "1.34"} {
		if e, err := ParseEtcd(in); err == nil {
			t.Errorf("ParseEtcd(%q) = %v, want an error", in, e)
		}
	}
}

func TestEtcdFromImage(t *testing.T) {
	for in, want := range map[string]string{
		"registry.k8s.io/etcd:3.6.5-0":                          "3.6.5",
		"quay.io/coreos/etcd:v3.5.9":                            "3.5.9",
		"rancher/hardened-etcd:v3.5.21-k3s1-build20250411":      "3.5.21",
		"localhost:5000/etcd:3.4.13-0":                          "3.4.13",
		"registry.k8s.io/etcd:3.6.5-0@sha256:0123456789abcdef0": "3.6.5",
		"registry.k8s.io/etcd@sha256:0123456789abcdef":          "",
		"registry.k8s.io/etcd":                                  "",
		"localhost:5000/etcd":                                   "",
		"registry.k8s.io/kube-apiserver:v1.34.4":                "",
		"registry.k8s.io/etcd:latest":                           "",
	} {
		e, ok := EtcdFromImage(in)
		if got := map[bool]string{true: e.String()}[ok]; got != want {
			t.Errorf("EtcdFromImage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFlagFacts holds the facts the renderer and check rely on (each was
// read off the real binaries; the interop tests re-prove the whole table).
func TestFlagFacts(t *testing.T) {
	cases := []struct {
		flag  string
		knows [4]bool // 3.4 3.5 3.6 3.7
	}{
		{"cert-file", [4]bool{true, true, true, true}},
		{"client-cert-file", [4]bool{false, true, true, true}},
		{"peer-client-key-file", [4]bool{false, true, true, true}},
		{"feature-gates", [4]bool{false, false, true, true}},
		{"watch-progress-notify-interval", [4]bool{false, false, true, true}},
		{"experimental-watch-progress-notify-interval", [4]bool{true, true, true, false}},
		{"experimental-initial-corrupt-check", [4]bool{true, true, true, false}},
		{"experimental-peer-skip-client-san-verification", [4]bool{true, true, true, false}},
		{"peer-skip-client-san-verification", [4]bool{false, false, true, true}},
		{"snapshot-count", [4]bool{true, true, true, true}},
		{"no-such-flag", [4]bool{}},
	}
	for _, c := range cases {
		for i, e := range EtcdVersions {
			if got := e.KnowsFlag(c.flag); got != c.knows[i] {
				t.Errorf("etcd %s KnowsFlag(%s) = %t, want %t", e, c.flag, got, c.knows[i])
			}
		}
	}
	// The zero Etcd (what a failed parse returns) knows nothing, and
	// does not panic.
	if (Etcd{}).KnowsFlag("cert-file") || (Etcd{}).KnowsFlag("feature-gates") {
		t.Error("the zero Etcd knows flags")
	}
	if got := Etcd37.FlagAdvice("experimental-initial-corrupt-check"); got != "--feature-gates=InitialCorruptCheck=true" {
		t.Errorf("3.7 advice for --experimental-initial-corrupt-check = %q", got)
	}
	if got := Etcd35.FlagAdvice("feature-gates"); got != "--experimental-initial-corrupt-check=true" {
		t.Errorf("3.5 advice for --feature-gates = %q", got)
	}
	if got := Etcd34.FlagAdvice("client-cert-file"); got != "" {
		t.Errorf("3.4 advice for --client-cert-file = %q, want none", got)
	}
	if got := Etcd35.UnknownFlags([]string{"cert-file", "feature-gates", "watch-progress-notify-interval"}); strings.Join(got, ",") != "feature-gates,watch-progress-notify-interval" {
		t.Errorf("3.5 UnknownFlags = %q", got)
	}
}

func TestHealthProbes(t *testing.T) {
	for in, want := range map[string]string{"3.4": "/health?exclude=NOSPACE&serializable=true", "3.5.10": "/health?exclude=NOSPACE&serializable=true", "3.5.11": "/livez", "3.5": "/livez", "3.6": "/livez"} {
		e, _ := ParseEtcd(in)
		if live, _ := e.HealthProbes(); live != want {
			t.Errorf("etcd %s liveness = %s, want %s", in, live, want)
		}
	}
}

func TestKubeadmReleases(t *testing.T) {
	for in, want := range map[string]string{"1.29": "3.5", "1.33": "3.5", "v1.34.4": "3.6", "1.36": "3.6", "1.37": "3.7"} {
		k, err := ParseKubernetes(in)
		if err != nil || k.Etcd().Line().String() != want {
			t.Errorf("ParseKubernetes(%q) pins etcd %v (%v), want %s", in, k.Etcd(), err, want)
		}
	}
	if k := DefaultKubeadm(); k.Minor != 34 || k.EtcdImageTag != "3.6.5-0" {
		t.Errorf("default kubeadm = %+v, want 1.34 with 3.6.5-0", k)
	}
	for _, in := range []string{"1.28", "1.38", "2.0", "v1", ""} {
		if _, err := ParseKubernetes(in); err == nil {
			t.Errorf("ParseKubernetes(%q) succeeded", in)
		}
	}
	k34, _ := ParseKubernetes("1.34")
	if err := k34.Supports(Etcd34); err == nil || !strings.Contains(err.Error(), "3.5.24") {
		t.Errorf("kubeadm 1.34 with etcd 3.4: %v, want a refusal naming 3.5.24", err)
	}
	if e, _ := ParseEtcd("3.5.21"); k34.Supports(e) == nil {
		t.Error("kubeadm 1.34 accepts etcd 3.5.21, below its MinExternalEtcdVersion")
	}
	k30, _ := ParseKubernetes("1.30")
	if err := k30.Supports(Etcd34); err != nil {
		t.Errorf("kubeadm 1.30 with etcd 3.4: %v", err)
	}
	// Every release's pinned etcd knows the flags its manifest needs.
	for _, k := range KubeadmReleases {
		if k.Etcd().Patch < 0 || k.Supports(k.Etcd()) != nil {
			t.Errorf("kubeadm %s pins %s, which it does not accept", k, k.EtcdImageTag)
		}
	}
}
