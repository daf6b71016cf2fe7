package distro

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
)

// The k3s tests run on RKE2 (k3s_test.go), then the static pods'.

func TestRKE2Files(t *testing.T)      { t.Parallel(); testRancherFiles(t, RKE2, rancherRKE2) }
func TestRKE2OpenSSL(t *testing.T)    { t.Parallel(); testRancherOpenSSL(t, RKE2, rancherRKE2) }
func TestRKE2Config(t *testing.T)     { t.Parallel(); testRancherConfig(t, RKE2, rancherRKE2, false) }
func TestRKE2Faults(t *testing.T)     { t.Parallel(); testRancherFaults(t, RKE2, rancherRKE2) }
func TestRKE2OneServer(t *testing.T)  { t.Parallel(); testRancherOneServer(t, RKE2, rancherRKE2) }
func TestRKE2Registered(t *testing.T) { wantRegistered(t, "rke2") }

// rke2ReadPod reads a static pod manifest into the fields the tests look
// at, and checks its mode (0644).
func rke2ReadPod(t *testing.T, root, name string) rke2Pod {
	t.Helper()
	p := rke2Manifests + "/" + name + ".yaml"
	wantMode(t, root, p, 0o644)
	var pod rke2Pod
	if err := yaml.UnmarshalStrict(readNode(t, root, p), &pod); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if pod.APIVersion != "v1" || pod.Kind != "Pod" || pod.Metadata.Name != name || pod.Metadata.Namespace != "kube-system" ||
		len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Name != name || !pod.Spec.HostNetwork {
		t.Fatalf("%s: not RKE2's static pod: %+v", name, pod)
	}
	return pod
}

// rke2CheckVolumes checks that each hostPath volume is in the member tree,
// mounted at its own path, and that FILE_HASH is the hash of the File
// volumes' contents in order.
func rke2CheckVolumes(t *testing.T, host, root string, pod rke2Pod) {
	t.Helper()
	c := pod.Spec.Containers[0]
	h := sha256.New()
	for i, v := range pod.Spec.Volumes {
		st, err := os.Stat(layout.OnDisk(root, v.HostPath.Path))
		if err != nil {
			t.Errorf("%s: %s volume %s: %v", host, pod.Metadata.Name, v.Name, err)
			continue
		}
		if (v.HostPath.Type == "File") != st.Mode().IsRegular() {
			t.Errorf("%s: %s volume %s of type %s is a %v", host, pod.Metadata.Name, v.Name, v.HostPath.Type, st.Mode())
		}
		if i >= len(c.VolumeMounts) || c.VolumeMounts[i].Name != v.Name || c.VolumeMounts[i].MountPath != v.HostPath.Path ||
			c.VolumeMounts[i].ReadOnly != (v.HostPath.Type == "File") {
			t.Errorf("%s: %s volume %s is not mounted at its host path", host, pod.Metadata.Name, v.Name)
		}
		if v.HostPath.Type == "File" {
			h.Write(readNode(t, root, v.HostPath.Path))
		}
	}
	if len(c.Env) == 0 || c.Env[0].Name != "FILE_HASH" || c.Env[0].Value != hex.EncodeToString(h.Sum(nil)) {
		t.Errorf("%s: %s FILE_HASH %v is not the hash of its files", host, pod.Metadata.Name, c.Env)
	}
}

func TestRKE2EtcdPod(t *testing.T) {
	t.Parallel()
	r := rancherRKE2
	f := RKE2(t, t.TempDir(), Options{})
	for i, root := range f.Dirs {
		host := f.Nodes[i].Host
		pod := rke2ReadPod(t, root, "etcd")
		wantMode(t, root, rke2Manifests, os.ModeDir|0o700)
		c := pod.Spec.Containers[0]
		config := r.etcdDataDir() + "/config"
		if !slices.Equal(c.Command, []string{"etcd"}) || !slices.Equal(c.Args, []string{"--config-file=" + config}) {
			t.Errorf("%s: etcd runs %v %v", host, c.Command, c.Args)
		}
		rke2CheckVolumes(t, host, root, pod)
		var paths []string
		for _, v := range pod.Spec.Volumes {
			paths = append(paths, v.HostPath.Path)
		}
		want := []string{r.etcdDataDir(), r.etcdTLS(rancherServer), r.etcdTLS(rancherServerKey), r.etcdTLS(rancherServerCA),
			r.etcdTLS(rancherPeer), r.etcdTLS(rancherPeerKey), r.etcdTLS(rancherPeerCA), config}
		if !slices.Equal(paths, want) {
			t.Errorf("%s: etcd volumes %v, want %v", host, paths, want)
		}

		// The annotation holds the initial-* settings the config file has.
		var initial map[string]string
		if err := json.Unmarshal([]byte(pod.Metadata.Annotations["etcd.k3s.io/initial"]), &initial); err != nil {
			t.Fatalf("%s: etcd.k3s.io/initial: %v", host, err)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(readNode(t, root, config), &cfg); err != nil {
			t.Fatal(err)
		}
		fromConfig := map[string]string{}
		for k, v := range cfg {
			if strings.HasPrefix(k, "initial-") {
				fromConfig[k] = v.(string)
			}
		}
		if len(initial) == 0 || len(initial) != len(fromConfig) {
			t.Errorf("%s: annotation %v, config %v", host, initial, fromConfig)
		}
		for k, v := range initial {
			if fromConfig[k] != v {
				t.Errorf("%s: annotation %s=%q, config %q", host, k, v, fromConfig[k])
			}
		}
		if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Port != 2381 || p.HTTPGet.Scheme != "HTTP" {
			t.Errorf("%s: liveness probe %+v", host, p)
		}
	}
}

func TestRKE2APIServerPod(t *testing.T) {
	t.Parallel()
	r := rancherRKE2
	f := RKE2(t, t.TempDir(), Options{OwnClientCA: "node3"})
	for i, root := range f.Dirs {
		host := f.Nodes[i].Host
		pod := rke2ReadPod(t, root, "kube-apiserver")
		rke2CheckVolumes(t, host, root, pod)
		flags := map[string]string{}
		for _, a := range pod.Spec.Containers[0].Args {
			k, v, _ := strings.Cut(a, "=")
			flags[k] = v
		}
		if flags["--etcd-servers"] != "https://127.0.0.1:2379" {
			t.Errorf("%s: --etcd-servers %q", host, flags["--etcd-servers"])
		}
		for _, k := range []string{"--etcd-cafile", "--etcd-certfile", "--etcd-keyfile"} {
			mounted := false
			for _, v := range pod.Spec.Volumes {
				mounted = mounted || v.HostPath.Path == flags[k]
			}
			if !mounted {
				t.Errorf("%s: %s %q is not mounted", host, k, flags[k])
			}
		}
		// kube-apiserver's credential is a client of the 2379 port's CA,
		// and that CA is the one etcd trusts there.
		ca := readLeaf(t, root, flags["--etcd-cafile"])
		if err := rancherVerifyLeaf(t, root, flags["--etcd-certfile"], ca, x509.ExtKeyUsageClientAuth, ""); err != nil {
			t.Errorf("%s: --etcd-certfile: %v", host, err)
		}
		if err := rancherVerifyLeaf(t, root, r.etcdTLS(rancherServer), ca, x509.ExtKeyUsageServerAuth, "127.0.0.1"); err != nil {
			t.Errorf("%s: serving cert for 127.0.0.1 against --etcd-cafile: %v", host, err)
		}
		if flags["--etcd-cafile"] != r.etcdTLS(rancherServerCA) {
			t.Errorf("%s: --etcd-cafile %q", host, flags["--etcd-cafile"])
		}
	}
}
