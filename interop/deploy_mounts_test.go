package interop

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// deployNode makes a node's "/" of the distribution an overlay is for, and
// names two of its files to plant faults in, each of which only a file
// behind one of the DaemonSet's file mounts can show.
type deployNode struct {
	make func(t *testing.T) string
	// etcdCA is copied over k8sCA: check then reports CIS-SHARED-CA,
	// which it can only from the Kubernetes CA certificate.
	etcdCA, k8sCA string
	// openKey is made 0644: CIS-KEY-PERM, from the key file's mode.
	openKey string
}

// deployNodes are the node trees of each build under deploy/. A new
// overlay needs one here (the test fails without).
var deployNodes = map[string]deployNode{
	"base":             kubeadmDeployNode,
	"overlays/kubeadm": kubeadmDeployNode,
	"overlays/rke2":    rancherDeployNode("rke2"),
	"overlays/k3s":     rancherDeployNode("k3s"),
}

// kubeadmDeployNode is a kubeadm control-plane node: init's tree of one
// member with the etcd and kube-apiserver static pods kubeadm writes and
// a Kubernetes CA certificate of its own.
var kubeadmDeployNode = deployNode{
	make: func(t *testing.T) string {
		p := initPKI(t, pkiOptions{members: 1})
		writeManifests(t, p)
		writeAPIServerManifest(t, p.tree("cp1"), apiserverFlags(t, p, "cp1", ""))
		copyFile(t, newKubeCreds(t).caFile, p.file("cp1", "/etc/kubernetes/pki/ca.crt"))
		return p.tree("cp1")
	},
	etcdCA: "/etc/kubernetes/pki/etcd/ca.crt", k8sCA: "/etc/kubernetes/pki/ca.crt",
	openKey: "/etc/kubernetes/pki/apiserver-etcd-client.key",
}

// rancherDeployNode is a k3s or RKE2 server with embedded etcd, as the
// main module's fixture generators write it (internal/distro, through
// TestWriteFixture, their hook for scripts).
func rancherDeployNode(name string) deployNode {
	dir := "/var/lib/rancher/" + name + "/server"
	return deployNode{
		make: func(t *testing.T) string {
			out := t.TempDir()
			cmd := exec.Command("go", "test", "-count=1", "-run", "^TestWriteFixture$", "./internal/distro")
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), "ETCDPKI_FIXTURE_DIR="+out, "ETCDPKI_FIXTURE="+name, "ETCDPKI_FIXTURE_NODES=1")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("writing a %s node: %v\n%s", name, err, b)
			}
			trees, _ := filepath.Glob(filepath.Join(out, "*"))
			if len(trees) != 1 {
				t.Fatalf("the %s fixture wrote %d node trees, want 1", name, len(trees))
			}
			return trees[0]
		},
		etcdCA: dir + "/tls/etcd/server-ca.crt", k8sCA: dir + "/tls/server-ca.crt",
		openKey: dir + "/tls/etcd/client.key",
	}
}

// TestDeployMounts proves, for each build under deploy/, that the
// DaemonSet's hostPath volumes are enough for the exporter on that
// distribution's node: a copy of the node's tree holding only what the
// volumes mount, where the container mounts them, read by the real
// exporter with the container's own arguments (the probe left out: no
// etcd runs here), gives the same findings, verdict and certificate
// series as the exporter over the whole tree, with faults planted that
// only the file mounts' contents can show. Every mounted path exists on
// the node (the volumes' types are Directory and File, which fail the
// pod where it does not), and so does every file the probe flags name.
func TestDeployMounts(t *testing.T) {
	binary(t, "etcdpki")
	for _, b := range deployBuilds(t) {
		node, ok := deployNodes[b.name]
		if !ok {
			t.Errorf("deploy/%s: no node tree to try it on; add one to deployNodes", b.name)
			continue
		}
		t.Run(strings.ReplaceAll(b.name, "/", "-"), func(t *testing.T) {
			t.Parallel()
			tree := node.make(t)
			copyFile(t, filepath.Join(tree, node.etcdCA), filepath.Join(tree, node.k8sCA))
			if err := os.Chmod(filepath.Join(tree, node.openKey), 0o644); err != nil {
				t.Fatal(err)
			}

			ds := b.daemonSet(t)
			container := t.TempDir()
			mounts := hostMounts(t, ds)
			for _, m := range mounts {
				src, dst := filepath.Join(tree, m.hostPath), filepath.Join(container, m.mountPath)
				st, err := os.Stat(src)
				switch {
				case err != nil:
					t.Errorf("%s: not on a %s node: %v", m, b.name, err)
					continue
				case st.IsDir():
					copyTree(t, src, dst)
				default:
					copyFile(t, src, dst)
				}
			}
			args, probeFiles := withoutProbe(ds.Spec.Template.Spec.Containers[0].Args)
			for _, f := range probeFiles {
				if _, err := os.Stat(filepath.Join(container, f)); err != nil {
					t.Errorf("the probe's %s is not in the pod: %v", f, err)
				}
			}

			pod := exporterOnce(t, containerArgs(args, container)...)
			whole := exporterOnce(t, "exporter", tree)
			for _, name := range []string{"etcdpki_members", "etcdpki_last_scan_success"} {
				if v := gaugeValue(pod, name); v != 1 {
					t.Errorf("in the pod %s is %v, want 1", name, v)
				}
			}
			for _, rule := range []string{"CIS-SHARED-CA", "CIS-KEY-PERM"} {
				if _, ok := whole.findings[rule]; !ok {
					t.Errorf("the planted fault %s is not found on the whole node: %v", rule, whole.findings)
				}
			}
			if !maps.Equal(pod.findings, whole.findings) {
				t.Errorf("findings in the pod %v, on the whole node %v", pod.findings, whole.findings)
			}
			if !slices.Equal(pod.certs, whole.certs) {
				t.Errorf("certificates in the pod:\n%s\non the whole node:\n%s", strings.Join(pod.certs, "\n"), strings.Join(whole.certs, "\n"))
			}
			for _, name := range []string{"etcdpki_check_cluster_forms", "etcdpki_check_clients_connect"} {
				if gaugeValue(pod, name) != gaugeValue(whole, name) {
					t.Errorf("%s is %v in the pod, %v on the whole node", name, gaugeValue(pod, name), gaugeValue(whole, name))
				}
			}
			t.Logf("%d hostPath volumes; findings %v; %d certificates", len(mounts), pod.findings, len(pod.certs))
		})
	}
}

// withoutProbe returns the exporter's arguments without --probe and its
// flags and without --peers (the other pods: this test is one node), and
// the container paths its file flags name.
func withoutProbe(args []string) (rest, files []string) {
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "--probe", "--endpoints", "--peers":
		case "--cacert", "--cert", "--key":
			files = append(files, v)
		default:
			rest = append(rest, a)
		}
	}
	return rest, files
}

// exporterScrape is what one `etcdpki exporter --once` printed.
type exporterScrape struct {
	families map[string]*dto.MetricFamily
	// findings counts etcdpki_findings by rule.
	findings map[string]float64
	// certs are the certificate series' identities, sorted: member,
	// kind, file name, subject and serial (not filepath, which is where
	// this run read the file).
	certs []string
}

// exporterOnce runs etcdpki with args plus --once (args start with
// "exporter"), which must exit 0, and parses its metrics.
func exporterOnce(t *testing.T, args ...string) *exporterScrape {
	t.Helper()
	args = append(slices.Clone(args[:1]), append([]string{"--once"}, args[1:]...)...)
	out, code, stderr := runCode(t, args...)
	if code != 0 {
		t.Fatalf("etcdpki %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader([]byte(out)))
	if err != nil {
		t.Fatalf("etcdpki %s: its metrics do not parse: %v", strings.Join(args, " "), err)
	}
	s := &exporterScrape{families: fams, findings: map[string]float64{}}
	if f := fams["etcdpki_findings"]; f != nil {
		for _, m := range f.Metric {
			s.findings[labelValue(m, "rule")] += m.GetGauge().GetValue()
		}
	}
	if f := fams["x509_cert_not_after"]; f != nil {
		for _, m := range f.Metric {
			id := []string{}
			for _, l := range []string{"member", "kind", "filename", "subject_CN", "serial_number"} {
				id = append(id, l+"="+labelValue(m, l))
			}
			s.certs = append(s.certs, strings.Join(id, " "))
		}
	}
	slices.Sort(s.certs)
	return s
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// gaugeValue is the value of the unlabelled gauge name, or -1 if the
// exporter printed none.
func gaugeValue(s *exporterScrape, name string) float64 {
	f := s.families[name]
	if f == nil || len(f.Metric) != 1 {
		return -1
	}
	return f.Metric[0].GetGauge().GetValue()
}
