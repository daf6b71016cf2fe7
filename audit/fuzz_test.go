package audit_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// renderedConfigs are the configurations render produces for a kubeadm
// cluster, a split-credential one and an etcd-layout one: the settings
// files check reads on real nodes.
func renderedConfigs(t testing.TB) []*render.Config {
	t.Helper()
	var out []*render.Config
	for _, c := range []spec.Cluster{
		{Members: []spec.Member{{Name: "cp1", IPs: []string{"10.0.0.11"}}, {Name: "cp2", IPs: []string{"10.0.0.12", "fd00::12"}}}},
		{SplitCredentials: true, Members: []spec.Member{{Name: "cp1", IPs: []string{"10.0.0.11"}}}},
		{Layout: spec.LayoutEtcd, Members: []spec.Member{{Name: "etcd-a", DNSNames: []string{"etcd-a.example.com"}}}},
	} {
		c = c.WithDefaults()
		for _, m := range c.Members {
			cfg, err := render.ForMember(&c, m.Name, render.Options{})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, cfg)
		}
	}
	return out
}

// settingsOf is what check must read back from a rendered configuration.
func settingsOf(source string, cfg *render.Config) *member.Settings {
	return &member.Settings{
		Source:              source,
		Name:                cfg.Name,
		ListenClientURLs:    cfg.ListenClientURLs,
		AdvertiseClientURLs: cfg.AdvertiseClientURLs,
		ListenPeerURLs:      cfg.ListenPeerURLs,
		AdvertisePeerURLs:   cfg.InitialAdvertisePeerURLs,
		CertFile:            cfg.CertFile,
		KeyFile:             cfg.KeyFile,
		ClientCertFile:      cfg.ClientCertFile,
		ClientKeyFile:       cfg.ClientKeyFile,
		TrustedCAFile:       cfg.TrustedCAFile,
		ClientCertAuth:      cfg.ClientCertAuth,
		PeerCertFile:        cfg.PeerCertFile,
		PeerKeyFile:         cfg.PeerKeyFile,
		PeerClientCertFile:  cfg.PeerClientCertFile,
		PeerClientKeyFile:   cfg.PeerClientKeyFile,
		PeerTrustedCAFile:   cfg.PeerTrustedCAFile,
		PeerClientCertAuth:  cfg.PeerClientCertAuth,
	}
}

// TestParseRenderedSettings: each settings parser reads back exactly what
// render writes in its format (manifest, config file, command line, systemd
// unit line), so check sees the flags that etcdpki itself recommends.
func TestParseRenderedSettings(t *testing.T) {
	for _, cfg := range renderedConfigs(t) {
		want := settingsOf("src", cfg)
		manifest, err := cfg.Manifest(&spec.Cluster{MetricsPort: spec.DefaultMetricsPort}, "")
		if err != nil {
			t.Fatal(err)
		}
		configFile, err := cfg.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct {
			format string
			parse  func(string, []byte) (*member.Settings, error)
			data   string
		}{
			{"manifest", member.ParseEtcdManifest, string(manifest)},
			{"config file", member.ParseConfigFile, string(configFile)},
			{"command line", member.ParseFlagsFile, cfg.CommandLine()},
			{"systemd", member.ParseFlagsFile, "# etcd.service\nExecStart=/usr/local/bin/etcd " + strings.Join(cfg.Flags(), " ") + "\n"},
			{"one flag per line", member.ParseFlagsFile, strings.Join(cfg.Flags(), "\n")},
		} {
			got, err := p.parse("src", []byte(p.data))
			if err != nil {
				t.Errorf("%s %s: %v", cfg.Name, p.format, err)
				continue
			}
			if got, want := tlsView(got), tlsView(want); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s:\n got %+v\nwant %+v", cfg.Name, p.format, got, want)
			}
		}
	}
}

// TestParseSettingsQuirks covers the flag spellings etcd accepts beyond
// what render writes.
func TestParseSettingsQuirks(t *testing.T) {
	cases := []struct {
		in   string
		want func(*member.Settings) bool
	}{
		{"etcd --name cp1 --client-cert-auth --cert-file /a.crt", func(s *member.Settings) bool {
			return s.Name == "cp1" && s.ClientCertAuth && s.CertFile == "/a.crt"
		}},
		{"etcd -name=cp1 --peer-client-cert-auth=false --peer-auto-tls", func(s *member.Settings) bool {
			return s.Name == "cp1" && !s.PeerClientCertAuth && s.PeerAutoTLS
		}},
		{"etcd --name=cp1 --experimental-peer-skip-client-san-verification=true", func(s *member.Settings) bool {
			return s.PeerSkipClientSANVerify
		}},
		{"etcd --name=cp1 --experimental-initial-corrupt-check=true --experimental-watch-progress-notify-interval 5s --cert-file=/a.crt", func(s *member.Settings) bool {
			// etcd 3.5's flags, which 3.7 dropped, are tolerated and listed.
			return s.CertFile == "/a.crt" && len(s.Unknown) == 2
		}},
	}
	for _, c := range cases {
		s, err := member.ParseFlagsFile("x", []byte(c.in))
		if err != nil || !c.want(s) {
			t.Errorf("ParseFlagsFile(%q) = %+v, %v", c.in, s, err)
		}
	}
	// An empty URL in a list is refused by etcd's own flag value
	// (types.NewURLs): reported, with the rest of the settings kept.
	s, err := member.ParseFlagsFile("x", []byte("etcd --name=cp1 --listen-client-urls=https://10.0.0.11:2379,,https://127.0.0.1:2379 # comment"))
	var se *member.SettingsError
	if !errors.As(err, &se) || s == nil || s.Name != "cp1" {
		t.Errorf("empty URL in a list: %+v, %v; want the name and a *SettingsError", s, err)
	}
	for _, in := range []string{"", "# only a comment\n", "etcd --data-dir=/var/lib/etcd"} {
		if s, err := member.ParseFlagsFile("x", []byte(in)); err == nil {
			t.Errorf("ParseFlagsFile(%q) = %+v, want an error", in, s)
		}
	}
	for _, in := range []string{"", "kind: Deployment\n", "kind: Pod\nspec: {}\n", "{{{"} {
		if s, err := member.ParseEtcdManifest("x", []byte(in)); err == nil {
			t.Errorf("ParseEtcdManifest(%q) = %+v, want an error", in, s)
		}
	}
}

func FuzzParseEtcdManifest(f *testing.F) {
	for _, cfg := range renderedConfigs(f) {
		m, err := cfg.Manifest(&spec.Cluster{MetricsPort: spec.DefaultMetricsPort}, "")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m)
		f.Add(m[:len(m)/2])
	}
	f.Add([]byte("kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command: [etcd, --name]\n    args: [--cert-file, x]\n"))
	f.Add([]byte("kind: Pod\nspec:\n  containers: [{}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := member.ParseEtcdManifest("src", data)
		if err != nil {
			return
		}
		if s == nil || s.Source != "src" {
			t.Fatalf("no error but settings %+v", s)
		}
	})
}

func FuzzParseAPIServerManifest(f *testing.F) {
	f.Add([]byte(`apiVersion: v1
kind: Pod
spec:
  containers:
  - name: kube-apiserver
    command:
    - kube-apiserver
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://127.0.0.1:2379
`))
	f.Add([]byte("kind: Pod\nspec:\n  containers:\n  - name: sidecar\n  - name: kube-apiserver\n    args: [--etcd-servers, 'https://a:2379,https://b:2379']\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := member.ParseAPIServerManifest("src", data)
		if err != nil {
			return
		}
		if a == nil || a.Source != "src" {
			t.Fatalf("no error but settings %+v", a)
		}
		for _, s := range a.Servers {
			if s == "" || strings.TrimSpace(s) != s {
				t.Fatalf("server %q not trimmed", s)
			}
		}
	})
}

func FuzzParseConfigFile(f *testing.F) {
	for _, cfg := range renderedConfigs(f) {
		b, err := cfg.ConfigFile()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("peer-transport-security:\n  skip-client-san-verification: true\n  auto-tls: yes\n"))
	f.Add([]byte("name: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := member.ParseConfigFile("src", data)
		if err != nil {
			return
		}
		if s == nil || s.Source != "src" {
			t.Fatalf("no error but settings %+v", s)
		}
	})
}

func FuzzParseFlagsFile(f *testing.F) {
	for _, cfg := range renderedConfigs(f) {
		f.Add([]byte(cfg.CommandLine()))
		f.Add([]byte("ExecStart=/usr/bin/etcd " + strings.Join(cfg.Flags(), " ")))
	}
	f.Add([]byte("--name cp1 --client-cert-auth --peer-auto-tls=1 # x\n-cert-file='/a b.crt'\\\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := member.ParseFlagsFile("src", data)
		if err != nil {
			return
		}
		if s == nil || s.Source != "src" {
			t.Fatalf("no error but settings %+v", s)
		}
		// ParseFlagsFile promises an error rather than empty settings.
		if s.CertFile == "" && s.PeerCertFile == "" && s.Name == "" && len(s.ListenClientURLs) == 0 {
			t.Fatalf("no error but no etcd flags: %+v", s)
		}
	})
}

func FuzzExplain(f *testing.F) {
	for _, r := range audit.Catalogue() {
		for _, e := range r.Errors {
			f.Add("etcd: " + e + ": details")
		}
	}
	f.Add(`Get "https://127.0.0.1:2379": x509: certificate is valid for 10.0.0.11, not 127.0.0.1`)
	f.Add("certificate is valid for , not ")
	f.Add("")
	f.Add(`{"level":"warn","msg":"rejected connection on peer endpoint","remote-addr":"10.0.0.1:1","error":"tls: \"10.0.0.1\" does not match any of DNSNames [\"a\"]"}`)
	f.Add("Jun 10 15:50:35 k8s-1 etcd[1]: 2017-07-18 17:10:46.927812 I | embed: rejected connection from \"x\" (error \"EOF\", ServerName \"\")")
	f.Fuzz(func(t *testing.T, msg string) {
		e := audit.Explain(msg)
		seen := map[audit.RuleID]bool{}
		if e.NotTLS != "" && len(e.Causes) > 0 {
			t.Fatalf("a message without a TLS cause ranks %d causes", len(e.Causes))
		}
		for i, c := range e.Causes {
			if c.Rule == nil {
				t.Fatal("cause without a rule")
			}
			if seen[c.Rule.ID] {
				t.Fatalf("rule %s ranked twice", c.Rule.ID)
			}
			seen[c.Rule.ID] = true
			if c.Rank != i+1 {
				t.Fatalf("cause %d has rank %d", i, c.Rank)
			}
			if i > 0 && c.Score > e.Causes[i-1].Score {
				t.Fatalf("ranks out of order: %d after %d", c.Score, e.Causes[i-1].Score)
			}
		}
		if p := e.Primary(); p != nil && len(p.Evidence) == 0 {
			t.Fatalf("primary cause %s quotes no evidence", p.Rule.ID)
		}
		again := audit.Explain(msg)
		if len(again.Causes) != len(e.Causes) || (len(e.Causes) > 0 && again.Causes[0].Rule.ID != e.Causes[0].Rule.ID) {
			t.Fatal("explain is not deterministic")
		}
	})
}

// tlsView is what the settings parsers must agree on with render: the
// TLS files and URLs (etcd's URL flags keep them sorted), not where each
// came from.
func tlsView(s *member.Settings) member.Settings {
	v := *s
	v.Sources, v.InitialCluster, v.InitialClusterToken, v.InitialClusterState, v.Unknown = nil, "", "", "", nil
	v.Flags, v.EtcdVersion, v.EtcdVersionSource = nil, "", ""
	for _, l := range []*[]string{&v.ListenClientURLs, &v.AdvertiseClientURLs, &v.ListenPeerURLs, &v.AdvertisePeerURLs} {
		*l = slices.Sorted(slices.Values(*l))
	}
	return v
}

// FuzzExplainLog: any log reads without error or panic, every line is
// counted, and no more lines are failures than were read.
func FuzzExplainLog(f *testing.F) {
	f.Add("Nov 30 10:00:00 cp1 etcd[1]: {\"level\":\"warn\",\"ts\":\"2026-11-30T10:00:00Z\",\"msg\":\"rejected connection on peer endpoint\",\"remote-addr\":\"10.0.0.12:1\",\"error\":\"x509: certificate signed by unknown authority\"}\n")
	f.Add("2026-11-30T10:00:00Z stderr F 2026-11-30 10:00:00.000000 I | embed: rejected connection from \"10.0.0.13:2\" (error \"EOF\", ServerName \"\")\r\n\n\nW1130 10:00:00.000000 1 x.go:1] tls")
	f.Fuzz(func(t *testing.T, log string) {
		rep, err := audit.ExplainLog(strings.NewReader(log), audit.LogOptions{MaxGroups: 3})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failures+rep.NotTLS > rep.Lines || len(rep.Groups) > 3 {
			t.Fatalf("%d failures and %d others of %d lines, %d groups", rep.Failures, rep.NotTLS, rep.Lines, len(rep.Groups))
		}
		sum := rep.Overflow
		for _, g := range rep.Groups {
			sum += g.Count
			if g.Summary == "" || g.Example == nil {
				t.Fatalf("group without summary or example: %+v", g)
			}
		}
		if sum != rep.Failures {
			t.Fatalf("groups count %d failures, report %d", sum, rep.Failures)
		}
	})
}
