package render

import (
	"bytes"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/rogpeppe/go-internal/txtar"
	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// threeMembers is the cluster of the golden files: kubeadm's three control
// plane nodes, one of them with a DNS name as well.
const threeMembers = `name: test-etcd
members:
- name: cp1
  ips: [10.0.0.11]
- name: cp2
  ips: [10.0.0.12]
  dnsNames: [cp2.example.com]
- name: cp3
  ips: [10.0.0.13]
`

// loopbackMembers share one host's lo, as in up and the cluster tests.
const loopbackMembers = `name: test-etcd
members:
- name: etcd-1
  ips: [127.0.0.1]
- name: etcd-2
  ips: [127.0.0.2]
- name: etcd-3
  ips: [127.0.0.3]
`

// renderCase is one member of one spec rendered with one set of options;
// its golden file is testdata/<name>.txtar.
type renderCase struct {
	name   string
	spec   string
	member string
	opts   Options
}

var renderCases = []renderCase{
	{name: "kubeadm-cp1", spec: threeMembers, member: "cp1"},
	{name: "kubeadm-cp2", spec: threeMembers, member: "cp2"},
	{name: "existing-cp3", spec: threeMembers, member: "cp3", opts: Options{Existing: true}},
	{name: "etcd-layout-cp1", spec: threeMembers + "layout: etcd\n", member: "cp1"},
	{name: "split-cp1", spec: threeMembers + "splitCredentials: true\n", member: "cp1"},
	{name: "split-etcd-layout-cp2", spec: threeMembers + "splitCredentials: true\nlayout: etcd\n", member: "cp2"},
	{name: "root-cp1", spec: threeMembers, member: "cp1", opts: Options{Root: "/srv/etcd-pki/cp1", DataDir: "/srv/etcd-data/cp1"}},
	{name: "root-quoted-cp1", spec: threeMembers, member: "cp1", opts: Options{Root: "/tmp/my pki/o'brien", DataDir: "/tmp/data dir"}},
	{name: "loopback-etcd-2", spec: loopbackMembers, member: "etcd-2"},
	{name: "loopback-etcd-1", spec: loopbackMembers, member: "etcd-1"},
	{name: "ports-cp1", spec: threeMembers + "clientPort: 12379\npeerPort: 12380\nmetricsPort: 12381\n", member: "cp1"},
	{name: "ipv6-cp1", member: "cp1", spec: `members:
- name: cp1
  ips: ["fd00::11"]
- name: cp2
  ips: ["fd00::12"]
`},
	{name: "dns-only-ext1", member: "ext1", spec: `layout: etcd
members:
- name: ext1
  dnsNames: [ext1.example.com]
- name: ext2
  dnsNames: [ext2.example.com]
`},
}

func (rc renderCase) cluster(t testing.TB) *spec.Cluster {
	t.Helper()
	c, err := spec.Parse([]byte(rc.spec), rc.name)
	if err != nil {
		t.Fatalf("spec of case %s: %v", rc.name, err)
	}
	return c
}

func (rc renderCase) config(t testing.TB) (*spec.Cluster, *Config) {
	t.Helper()
	c := rc.cluster(t)
	cfg, err := ForMember(c, rc.member, rc.opts)
	if err != nil {
		t.Fatalf("ForMember(%s): %v", rc.member, err)
	}
	return c, cfg
}

// TestGolden renders every output of every case and compares them with
// testdata/<case>.txtar; go test ./render -update rewrites those files.
func TestGolden(t *testing.T) {
	for _, rc := range renderCases {
		t.Run(rc.name, func(t *testing.T) {
			c, cfg := rc.config(t)
			configFile, err := cfg.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			manifest, err := cfg.Manifest(c, "")
			if err != nil {
				t.Fatal(err)
			}
			apiserver, err := APIServerFlags(c, rc.member, rc.opts)
			if err != nil {
				t.Fatal(err)
			}
			env, err := EtcdctlEnv(c, rc.member, rc.opts)
			if err != nil {
				t.Fatal(err)
			}
			ar := &txtar.Archive{
				Comment: fmt.Appendf(nil, "member %s, root %q, data dir %q, existing %v\n\n%s", rc.member, rc.opts.Root, rc.opts.DataDir, rc.opts.Existing, rc.spec),
				Files: []txtar.File{
					{Name: "cmdline.sh", Data: []byte(cfg.CommandLine())},
					{Name: "flags.txt", Data: lines(cfg.Flags())},
					{Name: "config.yaml", Data: configFile},
					{Name: "manifest.yaml", Data: manifest},
					{Name: "apiserver.txt", Data: lines(apiserver)},
					{Name: "etcdctl.sh", Data: []byte(ExportLines(env))},
				},
			}
			checkGolden(t, rc.name+".txtar", txtar.Format(ar))
		})
	}
}

func lines(ss []string) []byte { return []byte(strings.Join(ss, "\n") + "\n") }

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'go test ./render -update' to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (if the change is intended, run 'go test ./render -update'):\n%s",
			path, diff.Diff(path, want, "got", got))
	}
}

// flagValue returns the value of --name in flags, and whether it is set.
func flagValue(flags []string, name string) (string, bool) {
	for _, f := range flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestSecurityFlags checks, beyond the golden files, the settings whose
// absence leaves a port open to anyone: both ports require client certs
// signed by the cluster CA, and auto-TLS is never on.
func TestSecurityFlags(t *testing.T) {
	for _, rc := range renderCases {
		t.Run(rc.name, func(t *testing.T) {
			c, cfg := rc.config(t)
			flags := cfg.Flags()
			want := map[string]string{
				"client-cert-auth":      "true",
				"peer-client-cert-auth": "true",
				"trusted-ca-file":       cfg.TrustedCAFile,
				"peer-trusted-ca-file":  cfg.PeerTrustedCAFile,
				"cert-file":             cfg.CertFile,
				"peer-cert-file":        cfg.PeerCertFile,
			}
			for name, v := range want {
				if got, ok := flagValue(flags, name); !ok || got != v || v == "" {
					t.Errorf("--%s = %q (set %v), want %q", name, got, ok, v)
				}
			}
			for _, name := range []string{"auto-tls", "peer-auto-tls", "peer-skip-client-san-verification"} {
				if _, ok := flagValue(flags, name); ok {
					t.Errorf("--%s is set", name)
				}
			}
			_, splitClient := flagValue(flags, "client-cert-file")
			_, splitPeer := flagValue(flags, "peer-client-cert-file")
			if splitClient != c.SplitCredentials || splitPeer != c.SplitCredentials {
				t.Errorf("split credentials %v, but --client-cert-file set %v, --peer-client-cert-file set %v", c.SplitCredentials, splitClient, splitPeer)
			}
			if cfg.TrustedCAFile != cfg.PeerTrustedCAFile {
				t.Errorf("client and peer ports trust different CA files: %s, %s", cfg.TrustedCAFile, cfg.PeerTrustedCAFile)
			}
		})
	}
}

// TestURLs checks the listeners and the initial cluster: kubeadm's extra
// 127.0.0.1 client listener on real nodes, none on a shared lo, and every
// member in --initial-cluster.
func TestURLs(t *testing.T) {
	for _, rc := range renderCases {
		t.Run(rc.name, func(t *testing.T) {
			c, cfg := rc.config(t)
			m, _ := c.Member(rc.member)
			flags := cfg.Flags()
			listen, _ := flagValue(flags, "listen-client-urls")
			metrics, _ := flagValue(flags, "listen-metrics-urls")
			lcurls := strings.Split(listen, ",")
			switch {
			case len(m.IPs) == 0:
				if listen != "https://0.0.0.0:"+fmt.Sprint(c.ClientPort) {
					t.Errorf("DNS-only member: --listen-client-urls=%s, want the wildcard address (etcd binds IPs only)", listen)
				}
			case m.OnLoopback():
				if !slices.Equal(lcurls, []string{c.ClientURL(m)}) {
					t.Errorf("loopback member: --listen-client-urls=%s, want only %s", listen, c.ClientURL(m))
				}
				if u, _ := url.Parse(metrics); u == nil || u.Hostname() != m.AdvertiseHost() {
					t.Errorf("loopback member: --listen-metrics-urls=%s, want it on %s", metrics, m.AdvertiseHost())
				}
			default:
				if !slices.Contains(lcurls, c.LocalClientURL()) || !slices.Contains(lcurls, c.ClientURL(m)) {
					t.Errorf("--listen-client-urls=%s, want %s and %s", listen, c.LocalClientURL(), c.ClientURL(m))
				}
				if want := fmt.Sprintf("http://127.0.0.1:%d", c.MetricsPort); metrics != want {
					t.Errorf("--listen-metrics-urls=%s, want %s", metrics, want)
				}
			}
			if got, _ := flagValue(flags, "advertise-client-urls"); got != c.ClientURL(m) {
				t.Errorf("--advertise-client-urls=%s, want %s", got, c.ClientURL(m))
			}
			if got, _ := flagValue(flags, "initial-advertise-peer-urls"); got != c.PeerURL(m) {
				t.Errorf("--initial-advertise-peer-urls=%s, want %s", got, c.PeerURL(m))
			}
			initial, _ := flagValue(flags, "initial-cluster")
			entries := strings.Split(initial, ",")
			if len(entries) != len(c.Members) {
				t.Errorf("--initial-cluster=%s has %d entries, want %d", initial, len(entries), len(c.Members))
			}
			for i := range c.Members {
				want := c.Members[i].Name + "=" + c.PeerURL(&c.Members[i])
				if !slices.Contains(entries, want) {
					t.Errorf("--initial-cluster=%s lacks %s", initial, want)
				}
			}
			state, _ := flagValue(flags, "initial-cluster-state")
			if want := map[bool]string{false: "new", true: "existing"}[rc.opts.Existing]; state != want {
				t.Errorf("--initial-cluster-state=%s, want %s", state, want)
			}
			if tok, _ := flagValue(flags, "initial-cluster-token"); tok != c.Name {
				t.Errorf("--initial-cluster-token=%s, want %s", tok, c.Name)
			}
		})
	}
}

// TestRoot checks that every file path, and only file paths, move under
// Options.Root, and that DataDir is used as given.
func TestRoot(t *testing.T) {
	c := renderCase{spec: threeMembers}.cluster(t)
	plain, err := ForMember(c, "cp1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := "/srv/pki/cp1"
	rooted, err := ForMember(c, "cp1", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	pf, rf := plain.Flags(), rooted.Flags()
	if len(pf) != len(rf) {
		t.Fatalf("%d flags with a root, %d without", len(rf), len(pf))
	}
	for i := range pf {
		name, pv, _ := strings.Cut(pf[i], "=")
		_, rv, _ := strings.Cut(rf[i], "=")
		if strings.HasPrefix(pv, "/") {
			if rv != root+pv {
				t.Errorf("%s: %s with root %s, want %s", name, rv, root, root+pv)
			}
		} else if rv != pv {
			t.Errorf("%s: %s with a root, %s without", name, rv, pv)
		}
	}
	withData, err := ForMember(c, "cp1", Options{Root: root, DataDir: "/data/cp1"})
	if err != nil {
		t.Fatal(err)
	}
	if withData.DataDir != "/data/cp1" {
		t.Errorf("DataDir = %s, want /data/cp1 as given", withData.DataDir)
	}
	for _, f := range [][]string{mustAPIServerFlags(t, c, root), mustEtcdctlEnv(t, c, root)} {
		for _, kv := range f {
			if _, v, _ := strings.Cut(kv, "="); strings.HasPrefix(v, "/") && !strings.HasPrefix(v, root+"/") {
				t.Errorf("%s is not under the root %s", kv, root)
			}
		}
	}
}

func mustAPIServerFlags(t *testing.T, c *spec.Cluster, root string) []string {
	t.Helper()
	f, err := APIServerFlags(c, "cp1", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustEtcdctlEnv(t *testing.T, c *spec.Cluster, root string) []string {
	t.Helper()
	env, err := EtcdctlEnv(c, "cp1", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestClientOutputs checks the apiserver flags and etcdctl env: a stacked
// control plane's apiserver dials its local member, an external etcd
// cluster (etcd layout) and a shared lo list every member; etcdctl always
// lists every member and uses the healthcheck-client credential.
func TestClientOutputs(t *testing.T) {
	for _, rc := range renderCases {
		t.Run(rc.name, func(t *testing.T) {
			c, cfg := rc.config(t)
			m, _ := c.Member(rc.member)
			var all []string
			for i := range c.Members {
				all = append(all, c.ClientURL(&c.Members[i]))
			}
			af, err := APIServerFlags(c, rc.member, rc.opts)
			if err != nil {
				t.Fatal(err)
			}
			servers, _ := flagValue(af, "etcd-servers")
			want := strings.Join(all, ",")
			if c.Layout == spec.LayoutKubeadm && !m.OnLoopback() {
				want = c.LocalClientURL()
			}
			if servers != want {
				t.Errorf("--etcd-servers=%s, want %s", servers, want)
			}
			if ca, _ := flagValue(af, "etcd-cafile"); ca != cfg.TrustedCAFile {
				t.Errorf("--etcd-cafile=%s, want the members' CA %s", ca, cfg.TrustedCAFile)
			}
			for _, name := range []string{"etcd-certfile", "etcd-keyfile"} {
				if v, _ := flagValue(af, name); !strings.Contains(filepath.Base(v), "apiserver-etcd-client") {
					t.Errorf("--%s=%s, want the apiserver-etcd-client credential", name, v)
				}
			}

			env, err := EtcdctlEnv(c, rc.member, rc.opts)
			if err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{}
			for _, e := range env {
				k, v, _ := strings.Cut(e, "=")
				vars[k] = v
			}
			if vars["ETCDCTL_ENDPOINTS"] != strings.Join(all, ",") {
				t.Errorf("ETCDCTL_ENDPOINTS=%s, want %s", vars["ETCDCTL_ENDPOINTS"], strings.Join(all, ","))
			}
			if vars["ETCDCTL_CACERT"] != cfg.TrustedCAFile {
				t.Errorf("ETCDCTL_CACERT=%s, want %s", vars["ETCDCTL_CACERT"], cfg.TrustedCAFile)
			}
			healthcheck := map[string]string{spec.LayoutKubeadm: "healthcheck-client", spec.LayoutEtcd: "etcdctl-etcd-client"}[c.Layout]
			for _, k := range []string{"ETCDCTL_CERT", "ETCDCTL_KEY"} {
				if !strings.Contains(filepath.Base(vars[k]), healthcheck) {
					t.Errorf("%s=%s, want the %s credential", k, vars[k], healthcheck)
				}
			}
		})
	}
}

// TestExportLinesQuoting checks that exports survive a shell: values with
// blanks or quotes are quoted.
func TestExportLinesQuoting(t *testing.T) {
	got := ExportLines([]string{"A=plain/path", "B=with space", "C=it's"})
	want := "export A=plain/path\nexport B='with space'\nexport C='it'\\''s'\n"
	if got != want {
		t.Errorf("ExportLines = %q, want %q", got, want)
	}
}

// manifestPod is the part of the static pod the kubelet acts on.
type manifestPod struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		HostNetwork bool `json:"hostNetwork"`
		Containers  []struct {
			Command       []string `json:"command"`
			LivenessProbe struct {
				HTTPGet struct {
					Host string `json:"host"`
					Port any    `json:"port"` // a number or a named port
				} `json:"httpGet"`
			} `json:"livenessProbe"`
			Ports []struct {
				Name          string `json:"name"`
				ContainerPort int    `json:"containerPort"`
			} `json:"ports"`
			VolumeMounts []struct {
				MountPath string `json:"mountPath"`
				Name      string `json:"name"`
			} `json:"volumeMounts"`
		} `json:"containers"`
		Volumes []struct {
			Name     string `json:"name"`
			HostPath struct {
				Path string `json:"path"`
			} `json:"hostPath"`
		} `json:"volumes"`
	} `json:"spec"`
}

// TestManifest parses each manifest back: its command is exactly etcd plus
// Flags(), the probes reach the metrics listener, and the mounts hold the
// data dir and every file the flags name.
func TestManifest(t *testing.T) {
	for _, rc := range renderCases {
		t.Run(rc.name, func(t *testing.T) {
			c, cfg := rc.config(t)
			data, err := cfg.Manifest(c, "example/etcd:test")
			if err != nil {
				t.Fatal(err)
			}
			var p manifestPod
			if err := yaml.Unmarshal(data, &p); err != nil {
				t.Fatalf("manifest is not YAML: %v\n%s", err, data)
			}
			if p.APIVersion != "v1" || p.Kind != "Pod" || p.Metadata.Name != "etcd" || p.Metadata.Namespace != "kube-system" || !p.Spec.HostNetwork {
				t.Errorf("not kubeadm's etcd static pod: %+v", p)
			}
			if len(p.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(p.Spec.Containers))
			}
			ct := p.Spec.Containers[0]
			if want := append([]string{"etcd"}, cfg.Flags()...); !slices.Equal(ct.Command, want) {
				t.Errorf("command = %q\nwant      %q", ct.Command, want)
			}
			if got, want := p.Metadata.Annotations["kubeadm.kubernetes.io/etcd.advertise-client-urls"], strings.Join(cfg.AdvertiseClientURLs, ","); got != want {
				t.Errorf("advertise-client-urls annotation = %q, want %q", got, want)
			}
			mu, err := url.Parse(cfg.ListenMetricsURLs[0])
			if err != nil {
				t.Fatal(err)
			}
			probePort := fmt.Sprint(ct.LivenessProbe.HTTPGet.Port)
			for _, p := range ct.Ports {
				if p.Name == probePort {
					probePort = strconv.Itoa(p.ContainerPort)
				}
			}
			if got := ct.LivenessProbe.HTTPGet; got.Host != mu.Hostname() || probePort != mu.Port() {
				t.Errorf("liveness probe dials %s:%s (%v), but metrics listen on %s", got.Host, probePort, got.Port, mu.Host)
			}
			vols := map[string]string{}
			for _, v := range p.Spec.Volumes {
				vols[v.Name] = v.HostPath.Path
			}
			for _, vm := range ct.VolumeMounts {
				if vols[vm.Name] != vm.MountPath {
					t.Errorf("mount %s at %s, but its hostPath is %q", vm.Name, vm.MountPath, vols[vm.Name])
				}
			}
			mounted := func(p string) bool {
				for _, vm := range ct.VolumeMounts {
					if p == vm.MountPath || strings.HasPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/") {
						return true
					}
				}
				return false
			}
			for _, f := range []string{cfg.DataDir, cfg.CertFile, cfg.KeyFile, cfg.TrustedCAFile, cfg.PeerCertFile, cfg.PeerKeyFile, cfg.ClientCertFile, cfg.PeerClientCertFile} {
				if f != "" && !mounted(f) {
					t.Errorf("%s is not inside any volume mount", f)
				}
			}
		})
	}
}

// TestUnknownMember checks that every renderer names the members it knows.
func TestUnknownMember(t *testing.T) {
	c := renderCase{spec: threeMembers}.cluster(t)
	calls := map[string]func() error{
		"ForMember":      func() error { _, err := ForMember(c, "cp9", Options{}); return err },
		"APIServerFlags": func() error { _, err := APIServerFlags(c, "cp9", Options{}); return err },
		"EtcdctlEnv":     func() error { _, err := EtcdctlEnv(c, "cp9", Options{}); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil || !strings.Contains(err.Error(), `"cp9"`) || !strings.Contains(err.Error(), "cp1, cp2, cp3") {
			t.Errorf("%s(cp9) = %v, want an error naming cp9 and the members", name, err)
		}
	}
}
