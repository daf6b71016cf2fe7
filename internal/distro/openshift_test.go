package distro

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
)

const ocpTestAllCerts = ocpEtcdCertDir + "/" + ocpAllCerts

func TestOpenShiftRegistered(t *testing.T) { wantRegistered(t, "openshift") }

func TestOpenShiftFiles(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	f := OpenShift(t, t.TempDir(), Options{Now: now})
	if f.Distribution != "openshift" || len(f.Dirs) != 3 || !reflect.DeepEqual(f.Members, []string{"node1", "node2", "node3"}) {
		t.Fatalf("fixture: %+v", f)
	}
	rev := ocpEtcdResourceDir()
	kas := ocpKASResourceDir()
	var files []string
	for _, base := range []string{ocpEtcdCertDir, rev} {
		for _, n := range f.Nodes {
			for _, p := range []string{"etcd-peer-", "etcd-serving-", "etcd-serving-metrics-"} {
				for _, ext := range []string{".crt", ".key"} {
					files = append(files, base+"/"+ocpAllCerts+"/"+p+n.Host+ext)
				}
			}
		}
		files = append(files, base+"/"+ocpAllBundles+"/server-ca-bundle.crt", base+"/"+ocpAllBundles+"/metrics-ca-bundle.crt")
	}
	files = append(files, ocpEtcdManifest, rev+"/etcd-pod.yaml", ocpKASManifest, kas+"/kube-apiserver-pod.yaml",
		kas+"/secrets/etcd-client/tls.crt", kas+"/secrets/etcd-client/tls.key",
		kas+"/configmaps/etcd-serving-ca/ca-bundle.crt", kas+"/configmaps/config/config.yaml")

	first := f.Dirs[0]
	seenKeys := distinctKeys{}
	for i, root := range f.Dirs {
		for _, p := range files {
			wantMode(t, root, p, 0o600)
			// Every node holds the same secret and configmap contents.
			a, _ := os.ReadFile(layout.OnDisk(first, p))
			b, err := os.ReadFile(layout.OnDisk(root, p))
			if err != nil {
				continue
			}
			if !strings.HasSuffix(p, ".yaml") && !bytes.Equal(a, b) {
				t.Errorf("%s differs between %s and %s", p, f.Nodes[0].Host, f.Nodes[i].Host)
			}
		}
		for _, d := range []string{ocpEtcdCertDir + "/" + ocpAllCerts, rev, kas + "/secrets/etcd-client", ocpManifests} {
			wantMode(t, root, d, os.ModeDir|0o755)
		}
	}

	root := f.Dirs[0]
	signer := readCerts(t, root, ocpEtcdCertDir+"/"+ocpAllBundles+"/server-ca-bundle.crt")
	metricSigner := readCerts(t, root, ocpEtcdCertDir+"/"+ocpAllBundles+"/metrics-ca-bundle.crt")
	if len(signer) != 1 || len(metricSigner) != 1 {
		t.Fatalf("bundles hold %d and %d certs, want 1 each", len(signer), len(metricSigner))
	}
	for _, c := range []struct {
		ca   *x509.Certificate
		name string
	}{{signer[0], "openshift-etcd_etcd-signer"}, {metricSigner[0], "openshift-etcd_etcd-metric-signer"}} {
		if want := fmt.Sprintf("%s@%d", c.name, now.Unix()); c.ca.Subject.CommonName != want {
			t.Errorf("signer CN %q, want %q", c.ca.Subject.CommonName, want)
		}
		if !c.ca.IsCA || c.ca.KeyUsage != x509.KeyUsageKeyEncipherment|x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign {
			t.Errorf("%s: CA %v, key usage %b", c.name, c.ca.IsCA, c.ca.KeyUsage)
		}
		if got := c.ca.NotAfter.Sub(c.ca.NotBefore); got != ocpCAValidity+time.Second {
			t.Errorf("%s: validity %v", c.name, got)
		}
		if !bytes.Equal(c.ca.SubjectKeyId, c.ca.AuthorityKeyId) || len(c.ca.SubjectKeyId) != 20 {
			t.Errorf("%s: SKID %x AKID %x", c.name, c.ca.SubjectKeyId, c.ca.AuthorityKeyId)
		}
	}

	wantDNS := func(ip string) []string {
		return []string{"etcd.kube-system.svc", "etcd.kube-system.svc.cluster.local", "etcd.openshift-etcd.svc",
			"etcd.openshift-etcd.svc.cluster.local", "localhost", ip, "127.0.0.1", "::1"}
	}
	for _, n := range f.Nodes {
		for _, c := range []struct {
			prefix string
			ca     *x509.Certificate
		}{{"etcd-peer-", signer[0]}, {"etcd-serving-", signer[0]}, {"etcd-serving-metrics-", metricSigner[0]}} {
			p := ocpTestAllCerts + "/" + c.prefix + n.Host + ".crt"
			certs := readCerts(t, root, p)
			if len(certs) != 2 || !certs[1].Equal(c.ca) {
				t.Errorf("%s: want the leaf and then its signer, got %d certs", p, len(certs))
				continue
			}
			leaf := certs[0]
			if leaf.Subject.CommonName != n.IP {
				t.Errorf("%s: CN %q, want the node IP", p, leaf.Subject.CommonName)
			}
			if !reflect.DeepEqual(leaf.DNSNames, wantDNS(n.IP)) {
				t.Errorf("%s: DNS %q", p, leaf.DNSNames)
			}
			if got := ipStrings(leaf.IPAddresses); !reflect.DeepEqual(got, []string{n.IP, "127.0.0.1", "::1"}) {
				t.Errorf("%s: IPs %q", p, got)
			}
			if !reflect.DeepEqual(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}) {
				t.Errorf("%s: EKU %v", p, leaf.ExtKeyUsage)
			}
			if leaf.KeyUsage != x509.KeyUsageKeyEncipherment|x509.KeyUsageDigitalSignature || leaf.IsCA || !leaf.BasicConstraintsValid {
				t.Errorf("%s: key usage %b, CA %v", p, leaf.KeyUsage, leaf.IsCA)
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore); got != ocpCertValidity+time.Second {
				t.Errorf("%s: validity %v", p, got)
			}
			if err := leaf.CheckSignatureFrom(c.ca); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			wantRSA2048(t, p, leaf)
			key := readNode(t, root, strings.TrimSuffix(p, ".crt")+".key")
			wantPEM(t, p, key, "RSA PRIVATE KEY")
			seenKeys.add(t, p, key)
		}
	}

	client := readCerts(t, root, kas+"/secrets/etcd-client/tls.crt")
	if len(client) != 1 {
		t.Fatalf("etcd-client: %d certs", len(client))
	}
	c := client[0]
	if c.Subject.CommonName != "etcd-client" || !reflect.DeepEqual(c.Subject.Organization, []string{"etcd-client", "system:etcd"}) {
		t.Errorf("etcd-client subject %v", c.Subject)
	}
	if !reflect.DeepEqual(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || len(c.DNSNames)+len(c.IPAddresses) != 0 {
		t.Errorf("etcd-client: EKU %v, SANs %v %v", c.ExtKeyUsage, c.DNSNames, c.IPAddresses)
	}
	if err := c.CheckSignatureFrom(signer[0]); err != nil {
		t.Errorf("etcd-client: %v", err)
	}
	kasCA := readCerts(t, root, kas+"/configmaps/etcd-serving-ca/ca-bundle.crt")
	if len(kasCA) != 1 || !kasCA[0].Equal(signer[0]) {
		t.Errorf("kube-apiserver's etcd-serving-ca is not the etcd-signer")
	}

	var cfg struct {
		Args map[string][]string `json:"apiServerArguments"`
	}
	if err := yaml.Unmarshal(readNode(t, root, kas+"/configmaps/config/config.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379", "https://localhost:2379"}; !reflect.DeepEqual(cfg.Args["etcd-servers"], want) {
		t.Errorf("etcd-servers %q", cfg.Args["etcd-servers"])
	}
	if cfg.Args["etcd-certfile"][0] != ocpInPodResource+"/secrets/etcd-client/tls.crt" {
		t.Errorf("etcd-certfile %q", cfg.Args["etcd-certfile"])
	}
}

func TestOpenShiftOpenSSL(t *testing.T) {
	needOpenSSL(t)
	f := OpenShift(t, t.TempDir(), Options{})
	root := f.Dirs[1]
	server := ocpEtcdCertDir + "/" + ocpAllBundles + "/server-ca-bundle.crt"
	metrics := ocpEtcdCertDir + "/" + ocpAllBundles + "/metrics-ca-bundle.crt"
	for _, n := range f.Nodes {
		for _, leaf := range []string{"etcd-peer-", "etcd-serving-"} {
			if err := opensslVerifyIn(root, server, "", ocpTestAllCerts+"/"+leaf+n.Host+".crt"); err != nil {
				t.Errorf("%s%s: %v", leaf, n.Host, err)
			}
		}
		m := ocpTestAllCerts + "/etcd-serving-metrics-" + n.Host + ".crt"
		if err := opensslVerifyIn(root, metrics, "", m); err != nil {
			t.Errorf("serving-metrics %s: %v", n.Host, err)
		}
		if opensslVerifyIn(root, server, "", m) == nil {
			t.Errorf("serving-metrics %s verifies against the etcd-signer", n.Host)
		}
	}
	kas := ocpKASResourceDir()
	if err := opensslVerifyIn(root, kas+"/configmaps/etcd-serving-ca/ca-bundle.crt", "", kas+"/secrets/etcd-client/tls.crt"); err != nil {
		t.Errorf("etcd-client: %v", err)
	}
}

func TestOpenShiftPodManifest(t *testing.T) {
	nodes := []Node{
		{Host: "master-0.example.com", IP: "10.0.0.21"},
		{Host: "master-1.example.com", IP: "10.0.0.22"},
		{Host: "master-2.example.com", IP: "10.0.0.23"},
	}
	f := OpenShift(t, t.TempDir(), Options{Nodes: nodes})
	for i, root := range f.Dirs {
		me := nodes[i]
		data := readNode(t, root, ocpEtcdManifest)
		var pod struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Namespace string
			} `json:"metadata"`
			Spec struct {
				Volumes []struct {
					Name     string `json:"name"`
					HostPath struct {
						Path string `json:"path"`
					} `json:"hostPath"`
				} `json:"volumes"`
				Containers []struct {
					Name         string   `json:"name"`
					Command      []string `json:"command"`
					Env          []struct{ Name, Value string }
					VolumeMounts []struct{ Name, MountPath string } `json:"volumeMounts"`
				} `json:"containers"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(data, &pod); err != nil {
			t.Fatalf("%s: %v", ocpEtcdManifest, err)
		}
		if pod.Kind != "Pod" || pod.Metadata.Name != "etcd" || pod.Metadata.Namespace != "openshift-etcd" {
			t.Errorf("pod %s %s/%s", pod.Kind, pod.Metadata.Namespace, pod.Metadata.Name)
		}
		volumes := map[string]string{}
		for _, v := range pod.Spec.Volumes {
			volumes[v.Name] = v.HostPath.Path
		}
		if volumes["cert-dir"] != ocpEtcdCertDir || volumes["resource-dir"] != ocpEtcdResourceDir() {
			t.Errorf("volumes %v", volumes)
		}
		var found bool
		for _, c := range pod.Spec.Containers {
			if c.Name != "etcd" {
				continue
			}
			found = true
			if len(c.Command) != 3 || c.Command[0] != "/bin/sh" || c.Command[1] != "-c" {
				t.Fatalf("etcd command %q", c.Command)
			}
			script := c.Command[2]
			safe := strings.NewReplacer("-", "_", ".", "_").Replace(me.Host)
			certs := ocpInPodCertDir + "/" + ocpAllCerts
			for _, flag := range []string{
				"exec nice -n -19 ionice -c2 -n0 etcd ",
				"--cert-file=" + certs + "/etcd-serving-" + me.Host + ".crt",
				"--key-file=" + certs + "/etcd-serving-" + me.Host + ".key",
				"--peer-cert-file=" + certs + "/etcd-peer-" + me.Host + ".crt",
				"--peer-key-file=" + certs + "/etcd-peer-" + me.Host + ".key",
				"--trusted-ca-file=" + ocpInPodCertDir + "/" + ocpAllBundles + "/server-ca-bundle.crt",
				"--peer-trusted-ca-file=" + ocpInPodCertDir + "/" + ocpAllBundles + "/server-ca-bundle.crt",
				"--client-cert-auth=true",
				"--peer-client-cert-auth=true",
				"--advertise-client-urls=https://${NODE_" + safe + "_IP}:2379",
				"--initial-advertise-peer-urls=https://${NODE_" + safe + "_IP}:2380",
				"export ETCD_NAME=${NODE_" + safe + "_ETCD_NAME}",
			} {
				if !strings.Contains(script, flag) {
					t.Errorf("%s: the etcd script lacks %q", me.Host, flag)
				}
			}
			// Every in-pod file the flags name exists on the host through
			// the cert-dir mount.
			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			if mounts["cert-dir"] != ocpInPodCertDir {
				t.Errorf("cert-dir mounted at %q", mounts["cert-dir"])
			}
			for _, word := range strings.Fields(script) {
				_, p, ok := strings.Cut(word, "=")
				if !ok || !strings.HasPrefix(p, ocpInPodCertDir+"/") {
					continue
				}
				host := path.Join(volumes["cert-dir"], strings.TrimPrefix(p, ocpInPodCertDir))
				if _, err := os.Stat(layout.OnDisk(root, host)); err != nil {
					t.Errorf("%s: %s (%s on the host): %v", me.Host, p, host, err)
				}
			}
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			for _, n := range nodes {
				s := strings.NewReplacer("-", "_", ".", "_").Replace(n.Host)
				if env["NODE_"+s+"_IP"] != n.IP || env["NODE_"+s+"_ETCD_URL_HOST"] != n.IP || env["NODE_"+s+"_ETCD_NAME"] != n.Host {
					t.Errorf("%s: env for %s: %q %q %q", me.Host, n.Host, env["NODE_"+s+"_IP"], env["NODE_"+s+"_ETCD_URL_HOST"], env["NODE_"+s+"_ETCD_NAME"])
				}
			}
			if env["ETCDCTL_CERT"] != certs+"/etcd-peer-"+me.Host+".crt" {
				t.Errorf("ETCDCTL_CERT %q", env["ETCDCTL_CERT"])
			}
			if env["ETCD_STATIC_POD_VERSION"] != fmt.Sprint(ocpEtcdRevision) {
				t.Errorf("ETCD_STATIC_POD_VERSION %q", env["ETCD_STATIC_POD_VERSION"])
			}
		}
		if !found {
			t.Errorf("%s: no etcd container", me.Host)
		}
	}
}

func TestOpenShiftFaults(t *testing.T) {
	nodes := DefaultNodes(3)
	server := ocpEtcdCertDir + "/" + ocpAllBundles + "/server-ca-bundle.crt"

	t.Run("OmitIP", func(t *testing.T) {
		f := OpenShift(t, t.TempDir(), Options{OmitIP: "node2"})
		for _, root := range f.Dirs {
			for _, n := range nodes {
				for _, p := range []string{"etcd-peer-", "etcd-serving-", "etcd-serving-metrics-"} {
					leaf := readCerts(t, root, ocpTestAllCerts+"/"+p+n.Host+".crt")[0]
					has := false
					for _, ip := range leaf.IPAddresses {
						has = has || ip.String() == n.IP
					}
					omitted := n.Host == "node2" && p != "etcd-serving-metrics-"
					if has == omitted {
						t.Errorf("%s%s: node IP in SANs %v", p, n.Host, has)
					}
					if omitted && leaf.Subject.CommonName != "127.0.0.1" {
						t.Errorf("%s%s: CN %q", p, n.Host, leaf.Subject.CommonName)
					}
				}
			}
		}
	})

	t.Run("ForeignCA", func(t *testing.T) {
		f := OpenShift(t, t.TempDir(), Options{ForeignCA: "node3"})
		clusterCA := readCerts(t, f.Dirs[0], server)[0]
		if !readCerts(t, f.Dirs[1], server)[0].Equal(clusterCA) {
			t.Fatal("node2's bundle differs from node1's")
		}
		own := readCerts(t, f.Dirs[2], server)[0]
		if own.Equal(clusterCA) {
			t.Fatal("node3 kept the cluster's etcd-signer")
		}
		for i, root := range f.Dirs {
			want := clusterCA
			if i == 2 {
				want = own
			}
			for _, n := range nodes {
				for _, p := range []string{"etcd-peer-", "etcd-serving-"} {
					leaf := readCerts(t, root, ocpTestAllCerts+"/"+p+n.Host+".crt")[0]
					if err := leaf.CheckSignatureFrom(want); err != nil {
						t.Errorf("%s: %s%s: %v", f.Nodes[i].Host, p, n.Host, err)
					}
				}
			}
			client := readCerts(t, root, ocpKASResourceDir()+"/secrets/etcd-client/tls.crt")[0]
			if err := client.CheckSignatureFrom(want); err != nil {
				t.Errorf("%s: etcd-client: %v", f.Nodes[i].Host, err)
			}
		}
	})

	for _, opts := range []Options{{OwnPeerCA: "node1"}, {OwnClientCA: "node1"}} {
		if msg := fatalMessage(t, OpenShift, opts); msg == "" {
			t.Errorf("%+v: OpenShift did not refuse", opts)
		}
	}
	if msg := fatalMessage(t, OpenShift, Options{ForeignCA: "nodeX"}); msg == "" {
		t.Error("an unknown ForeignCA host was accepted")
	}
}
