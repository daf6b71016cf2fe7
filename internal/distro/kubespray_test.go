package distro

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func TestKubesprayRegistered(t *testing.T) { wantRegistered(t, "kubespray", "kubespray-scp") }

// ksCertFiles lists the base names every kubespray etcd host holds in
// etcd_cert_dir, certificates and keys.
func ksCertFiles(nodes []Node) []string {
	files := []string{"ca.pem", "ca-key.pem"}
	for _, n := range nodes {
		for _, kind := range []string{"member", "admin", "node"} {
			files = append(files, kind+"-"+n.Host+".pem", kind+"-"+n.Host+"-key.pem")
		}
	}
	sort.Strings(files)
	return files
}

func TestKubesprayFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := Kubespray(t, dir, Options{})
	if f.Distribution != "kubespray" {
		t.Errorf("Distribution = %q", f.Distribution)
	}
	if want := []string{"etcd1", "etcd2", "etcd3"}; !slices.Equal(f.Members, want) {
		t.Errorf("Members = %v, want %v", f.Members, want)
	}
	if len(f.Dirs) != 3 || len(f.Nodes) != 3 {
		t.Fatalf("got %d dirs, %d nodes", len(f.Dirs), len(f.Nodes))
	}
	want := ksCertFiles(f.Nodes)
	for i, root := range f.Dirs {
		host := f.Nodes[i].Host
		if root != layout.MemberDir(dir, host) {
			t.Errorf("%s: dir %s", host, root)
		}
		wantMode(t, root, kubesprayConfigDir, os.ModeDir|0o700)
		wantMode(t, root, kubesprayCertDir, os.ModeDir|0o700)
		got := listDir(t, layout.OnDisk(root, kubesprayCertDir))
		if !slices.Equal(got, want) {
			t.Errorf("%s: %s holds %v, want %v", host, kubesprayCertDir, got, want)
		}
		for _, name := range want {
			wantMode(t, root, kubesprayCertDir+"/"+name, 0o700)
		}
		wantMode(t, root, kubesprayEnvFile, 0o640)
		wantMode(t, root, kubesprayUnitFile, 0o644)
		wantMode(t, root, kubesprayManifests, os.ModeDir|0o755)
		wantMode(t, root, kubesprayManifests+"/kube-apiserver.yaml", 0o600)
		wantMode(t, root, kubesprayKubeCerts, os.ModeDir|0o755)
		wantMode(t, root, kubesprayKubeCerts+"/ca.crt", 0o644)
		wantMode(t, root, kubesprayKubeCerts+"/ca.key", 0o600)

		// /etc/kubernetes/pki: an absolute symlink, as on the node.
		pkiPath := layout.OnDisk(root, kubesprayKubeCompat)
		st, err := os.Lstat(pkiPath)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: %s is %v, want a symlink", host, kubesprayKubeCompat, st.Mode())
		}
		if target, err := os.Readlink(pkiPath); err != nil || target != "/etc/kubernetes/ssl" {
			t.Errorf("%s: %s -> %q (%v), want /etc/kubernetes/ssl", host, kubesprayKubeCompat, target, err)
		}

		// Every etcd host holds the same copies.
		for _, name := range want {
			a := readNode(t, f.Dirs[0], kubesprayCertDir+"/"+name)
			if !bytes.Equal(a, readNode(t, root, kubesprayCertDir+"/"+name)) {
				t.Errorf("%s: %s differs from %s's", host, name, f.Nodes[0].Host)
			}
		}
		unit := string(readNode(t, root, kubesprayUnitFile))
		for _, line := range []string{"EnvironmentFile=/etc/etcd.env", "ExecStart=/usr/local/bin/etcd", "User=etcd"} {
			if !strings.Contains(unit, "\n"+line+"\n") {
				t.Errorf("%s: etcd.service lacks %q", host, line)
			}
		}
	}
}

func TestKubesprayCerts(t *testing.T) {
	t.Parallel()
	f := Kubespray(t, t.TempDir(), Options{})
	root := f.Dirs[0]
	ca := readCert(t, root, kubesprayCertDir+"/ca.pem")
	if ca.Subject.String() != "CN=etcd-ca" || !ca.IsCA {
		t.Errorf("CA: subject %s, IsCA %v", ca.Subject, ca.IsCA)
	}
	wantRSA2048(t, "ca.pem", ca)
	if d := ca.NotAfter.Sub(ca.NotBefore); d != 36500*24*time.Hour {
		t.Errorf("CA validity %v, want 36500 days", d)
	}
	if ca.KeyUsage != 0 || !bytes.Equal(ca.SubjectKeyId, ca.AuthorityKeyId) || len(ca.SubjectKeyId) != 20 {
		t.Errorf("CA: key usage %v, SKI %x, AKI %x", ca.KeyUsage, ca.SubjectKeyId, ca.AuthorityKeyId)
	}
	if c, ok := ksBasicConstraintsCritical(ca); !ok || !c {
		t.Errorf("CA basic constraints: present %v, critical %v; want critical", ok, c)
	}
	if !pki.KeyMatches(ca.PublicKey, readKey(t, root, kubesprayCertDir+"/ca-key.pem")) {
		t.Errorf("ca-key.pem does not match ca.pem")
	}

	wantDNS := []string{"localhost", "node1", "node2", "node3", "lb-apiserver.kubernetes.local",
		"etcd.kube-system.svc.cluster.local", "etcd.kube-system.svc", "etcd.kube-system", "etcd"}
	wantIPs := []string{"10.0.0.11", "10.0.0.12", "10.0.0.13", "127.0.0.1"}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	seen := distinctKeys{}
	var serials []*big.Int
	for _, n := range f.Nodes {
		for _, kind := range []string{"member", "admin"} {
			serials = append(serials, readCert(t, root, kubesprayCertDir+"/"+kind+"-"+n.Host+".pem").SerialNumber)
		}
	}
	for _, n := range f.Nodes {
		serials = append(serials, readCert(t, root, kubesprayCertDir+"/node-"+n.Host+".pem").SerialNumber)
	}
	// x509 -CAcreateserial: one serial file, counting up in script order.
	for i := 1; i < len(serials); i++ {
		if new(big.Int).Sub(serials[i], serials[i-1]).Cmp(big.NewInt(1)) != 0 {
			t.Errorf("serial %d is %x after %x, want the next one", i, serials[i], serials[i-1])
		}
	}
	for _, n := range f.Nodes {
		for _, kind := range []string{"member", "admin", "node"} {
			base := kind + "-" + n.Host
			c := readCert(t, root, kubesprayCertDir+"/"+base+".pem")
			if want := "CN=etcd-" + kind + "-" + n.Host; c.Subject.String() != want {
				t.Errorf("%s: subject %s, want %s", base, c.Subject, want)
			}
			wantRSA2048(t, base, c)
			if !slices.Equal(c.DNSNames, wantDNS) || !slices.Equal(ipStrings(c.IPAddresses), wantIPs) {
				t.Errorf("%s: SANs %v %v, want %v %v", base, c.DNSNames, ipStrings(c.IPAddresses), wantDNS, wantIPs)
			}
			if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}) || c.KeyUsage != 0 {
				t.Errorf("%s: EKU %v, KU %v; want clientAuth, serverAuth and no key usage", base, c.ExtKeyUsage, c.KeyUsage)
			}
			if c.IsCA {
				t.Errorf("%s: IsCA", base)
			}
			if crit, ok := ksBasicConstraintsCritical(c); !ok || crit {
				t.Errorf("%s: basic constraints present %v, critical %v; want CA:FALSE, not critical", base, ok, crit)
			}
			if !bytes.Equal(c.AuthorityKeyId, ca.SubjectKeyId) || len(c.SubjectKeyId) != 20 {
				t.Errorf("%s: AKI %x, SKI %x", base, c.AuthorityKeyId, c.SubjectKeyId)
			}
			if d := c.NotAfter.Sub(c.NotBefore); d != 36500*24*time.Hour {
				t.Errorf("%s: validity %v", base, d)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("%s: %v", base, err)
			}
			key := readKey(t, root, kubesprayCertDir+"/"+base+"-key.pem")
			if !pki.KeyMatches(c.PublicKey, key) {
				t.Errorf("%s: key does not match", base)
			}
			der, _ := x509.MarshalPKIXPublicKey(key.Public())
			seen.add(t, base, der)
		}
	}
	k8s := readCert(t, root, kubesprayKubeCerts+"/ca.crt")
	if k8s.Subject.CommonName != "kubernetes" || bytes.Equal(k8s.RawSubjectPublicKeyInfo, ca.RawSubjectPublicKeyInfo) {
		t.Errorf("Kubernetes CA %s shares the etcd CA's key or name", k8s.Subject)
	}
}

func TestKubesprayOpenSSL(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	f := Kubespray(t, t.TempDir(), Options{ForeignCA: "node3"})
	ca := kubesprayCertDir + "/ca.pem"
	for i, root := range f.Dirs {
		host := f.Nodes[i].Host
		var leaves []string
		for _, name := range ksCertFiles(f.Nodes) {
			if name != "ca.pem" && !strings.HasSuffix(name, "-key.pem") {
				leaves = append(leaves, kubesprayCertDir+"/"+name)
			}
		}
		if err := opensslVerifyIn(root, ca, "", leaves...); err != nil {
			t.Errorf("%s: %v", host, err)
		}
		// clientAuth and serverAuth: etcd serves and dials with member-*.
		for _, purpose := range []string{"sslserver", "sslclient"} {
			if err := opensslVerifyIn(root, ca, purpose, kubesprayCertDir+"/member-"+host+".pem"); err != nil {
				t.Errorf("%s: %s: %v", host, purpose, err)
			}
		}
	}
	// node3 set up on its own: its files do not verify against the others' CA.
	if opensslVerify(layout.OnDisk(f.Dirs[0], ca), "", layout.OnDisk(f.Dirs[2], kubesprayCertDir+"/member-node3.pem")) == nil {
		t.Errorf("node3's member cert verifies against node1's CA")
	}
}

func TestKubesprayEnv(t *testing.T) {
	t.Parallel()
	f := Kubespray(t, t.TempDir(), Options{})
	cluster := "etcd1=https://10.0.0.11:2380,etcd2=https://10.0.0.12:2380,etcd3=https://10.0.0.13:2380"
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		env := parseEnvFile(t, layout.OnDisk(root, kubesprayEnvFile), false)
		want := map[string]string{
			"ETCD_NAME":                        f.Members[i],
			"ETCD_DATA_DIR":                    "/var/lib/etcd",
			"ETCD_INITIAL_CLUSTER":             cluster,
			"ETCD_INITIAL_CLUSTER_STATE":       "existing",
			"ETCD_INITIAL_CLUSTER_TOKEN":       "k8s_etcd",
			"ETCD_ADVERTISE_CLIENT_URLS":       "https://" + n.IP + ":2379",
			"ETCD_INITIAL_ADVERTISE_PEER_URLS": "https://" + n.IP + ":2380",
			"ETCD_LISTEN_CLIENT_URLS":          "https://" + n.IP + ":2379,https://127.0.0.1:2379",
			"ETCD_LISTEN_PEER_URLS":            "https://" + n.IP + ":2380",
			"ETCD_TRUSTED_CA_FILE":             "/etc/ssl/etcd/ssl/ca.pem",
			"ETCD_CERT_FILE":                   "/etc/ssl/etcd/ssl/member-" + n.Host + ".pem",
			"ETCD_KEY_FILE":                    "/etc/ssl/etcd/ssl/member-" + n.Host + "-key.pem",
			"ETCD_CLIENT_CERT_AUTH":            "true",
			"ETCD_PEER_TRUSTED_CA_FILE":        "/etc/ssl/etcd/ssl/ca.pem",
			"ETCD_PEER_CERT_FILE":              "/etc/ssl/etcd/ssl/member-" + n.Host + ".pem",
			"ETCD_PEER_KEY_FILE":               "/etc/ssl/etcd/ssl/member-" + n.Host + "-key.pem",
			"ETCD_PEER_CLIENT_CERT_AUTH":       "True",
			"ETCDCTL_CACERT":                   "/etc/ssl/etcd/ssl/ca.pem",
			"ETCDCTL_CERT":                     "/etc/ssl/etcd/ssl/admin-" + n.Host + ".pem",
			"ETCDCTL_KEY":                      "/etc/ssl/etcd/ssl/admin-" + n.Host + "-key.pem",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", n.Host, k, env[k], v)
			}
		}
		for _, k := range []string{"ETCD_TRUSTED_CA_FILE", "ETCD_CERT_FILE", "ETCD_KEY_FILE", "ETCDCTL_CERT", "ETCDCTL_KEY"} {
			if _, err := os.Stat(layout.OnDisk(root, env[k])); err != nil {
				t.Errorf("%s: %s: %v", n.Host, k, err)
			}
		}
	}
}

func TestKubesprayAPIServer(t *testing.T) {
	t.Parallel()
	f := Kubespray(t, t.TempDir(), Options{})
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		flags := ksPodFlags(t, layout.OnDisk(root, kubesprayManifests+"/kube-apiserver.yaml"))
		want := map[string]string{
			"etcd-servers":      "https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379",
			"etcd-cafile":       "/etc/ssl/etcd/ssl/ca.pem",
			"etcd-certfile":     "/etc/ssl/etcd/ssl/node-node1.pem", // the first control plane's, everywhere
			"etcd-keyfile":      "/etc/ssl/etcd/ssl/node-node1-key.pem",
			"advertise-address": n.IP,
			"client-ca-file":    "/etc/kubernetes/ssl/ca.crt",
		}
		for k, v := range want {
			if flags[k] != v {
				t.Errorf("%s: --%s=%q, want %q", n.Host, k, flags[k], v)
			}
		}
		cert := readCert(t, root, flags["etcd-certfile"])
		if !pki.KeyMatches(cert.PublicKey, readKey(t, root, flags["etcd-keyfile"])) {
			t.Errorf("%s: --etcd-keyfile does not match --etcd-certfile", n.Host)
		}
		pool := x509.NewCertPool()
		pool.AddCert(readCert(t, root, flags["etcd-cafile"]))
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: --etcd-certfile: %v", n.Host, err)
		}
	}
}

func TestKubesprayOmitIP(t *testing.T) {
	t.Parallel()
	f := Kubespray(t, t.TempDir(), Options{OmitIP: "node2"})
	node1, node2, node3 := f.Dirs[0], f.Dirs[1], f.Dirs[2]
	own := readCert(t, node2, kubesprayCertDir+"/member-node2.pem")
	if got := ipStrings(own.IPAddresses); !slices.Equal(got, []string{"10.0.0.11", "10.0.0.13", "127.0.0.1"}) {
		t.Errorf("node2's member-node2.pem IPs %v, want node2's left out", got)
	}
	if !pki.KeyMatches(own.PublicKey, readKey(t, node2, kubesprayCertDir+"/member-node2-key.pem")) {
		t.Errorf("node2's member key does not match")
	}
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, node2, kubesprayCertDir+"/ca.pem"))
	if _, err := own.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("node2's member cert: %v", err)
	}
	// The copies on the other hosts, and every other file on node2, are
	// the cluster's.
	if !bytes.Equal(readNode(t, node1, kubesprayCertDir+"/member-node2.pem"), readNode(t, node3, kubesprayCertDir+"/member-node2.pem")) {
		t.Errorf("node1 and node3 hold different member-node2.pem")
	}
	if c := readCert(t, node1, kubesprayCertDir+"/member-node2.pem"); !slices.Contains(ipStrings(c.IPAddresses), "10.0.0.12") {
		t.Errorf("node1's copy of member-node2.pem lost node2's IP")
	}
	for _, name := range ksCertFiles(f.Nodes) {
		if strings.HasPrefix(name, "member-node2") {
			continue
		}
		if !bytes.Equal(readNode(t, node1, kubesprayCertDir+"/"+name), readNode(t, node2, kubesprayCertDir+"/"+name)) {
			t.Errorf("node2's %s differs from node1's", name)
		}
	}
	wantMode(t, node2, kubesprayCertDir+"/member-node2.pem", 0o700)
	wantMode(t, node2, kubesprayCertDir+"/member-node2-key.pem", 0o700)
}

func TestKubesprayForeignCA(t *testing.T) {
	t.Parallel()
	f := Kubespray(t, t.TempDir(), Options{ForeignCA: "node3"})
	node1, node2, node3 := f.Dirs[0], f.Dirs[1], f.Dirs[2]
	for _, name := range ksCertFiles(f.Nodes) {
		a, b, c := readNode(t, node1, kubesprayCertDir+"/"+name), readNode(t, node2, kubesprayCertDir+"/"+name), readNode(t, node3, kubesprayCertDir+"/"+name)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: node1 and node2 differ", name)
		}
		if bytes.Equal(a, c) {
			t.Errorf("%s: node3 holds the cluster's copy", name)
		}
	}
	clusterCA, ownCA := readCert(t, node1, kubesprayCertDir+"/ca.pem"), readCert(t, node3, kubesprayCertDir+"/ca.pem")
	own, cluster := x509.NewCertPool(), x509.NewCertPool()
	own.AddCert(ownCA)
	cluster.AddCert(clusterCA)
	for _, name := range ksCertFiles(f.Nodes) {
		if name == "ca.pem" || strings.HasSuffix(name, "-key.pem") {
			continue
		}
		c := readCert(t, node3, kubesprayCertDir+"/"+name)
		anyEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
		if _, err := c.Verify(x509.VerifyOptions{Roots: own, KeyUsages: anyEKU}); err != nil {
			t.Errorf("node3 %s: %v", name, err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: cluster, KeyUsages: anyEKU}); err == nil {
			t.Errorf("node3 %s verifies against the cluster CA", name)
		}
	}
	// The settings are a cluster member's all the same.
	if env := parseEnvFile(t, layout.OnDisk(node3, kubesprayEnvFile), false); env["ETCD_NAME"] != "etcd3" {
		t.Errorf("node3 ETCD_NAME=%q", env["ETCD_NAME"])
	}
	if !bytes.Equal(readNode(t, node1, kubesprayKubeCerts+"/ca.crt"), readNode(t, node3, kubesprayKubeCerts+"/ca.crt")) {
		t.Errorf("the Kubernetes CA changed with the etcd CA")
	}
}

func TestKubesprayOneCA(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{{OwnPeerCA: "node1"}, {OwnClientCA: "node2"}} {
		if msg := fatalMessage(t, Kubespray, opts); msg == "" {
			t.Errorf("Kubespray(%+v) did not fail the test", opts)
		}
	}
}

func TestKubesprayCopied(t *testing.T) {
	t.Parallel()
	f := KubesprayCopied(t, t.TempDir(), Options{})
	if f.Distribution != "kubespray-scp" {
		t.Errorf("Distribution = %q", f.Distribution)
	}
	for i, root := range f.Dirs {
		host := f.Nodes[i].Host
		wantMode(t, root, kubesprayKubeCompat, os.ModeDir|0o755)
		if got := listDir(t, layout.OnDisk(root, kubesprayKubeCompat)); !slices.Equal(got, listDir(t, layout.OnDisk(root, kubesprayKubeCerts))) {
			t.Errorf("%s: pki holds %v", host, got)
		}
		for _, name := range []string{"ca.crt", "ca.key"} {
			if !bytes.Equal(readNode(t, root, kubesprayKubeCompat+"/"+name), readNode(t, root, kubesprayKubeCerts+"/"+name)) {
				t.Errorf("%s: pki/%s is not a copy of ssl/%s", host, name, name)
			}
		}
		wantMode(t, root, kubesprayKubeCompat+"/ca.key", 0o600)
	}
}

func TestKubesprayHostNames(t *testing.T) {
	t.Parallel()
	f := Kubespray(t, t.TempDir(), Options{Nodes: []Node{{Host: "cp1.example.com", IP: "192.0.2.10"}}})
	c := readCert(t, f.Dirs[0], kubesprayCertDir+"/member-cp1.example.com.pem")
	if c.Subject.CommonName != "etcd-member-cp1" {
		t.Errorf("CN %q, want the host name up to its first dot", c.Subject.CommonName)
	}
	if !slices.Contains(c.DNSNames, "cp1.example.com") || !slices.Contains(ipStrings(c.IPAddresses), "192.0.2.10") {
		t.Errorf("SANs %v %v", c.DNSNames, c.IPAddresses)
	}
	if f.Members[0] != "etcd1" {
		t.Errorf("member %q", f.Members[0])
	}
}

// ksBasicConstraintsCritical reports whether c has the basic constraints
// extension and whether it is critical.
func ksBasicConstraintsCritical(c *x509.Certificate) (critical, present bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}) {
			return e.Critical, true
		}
	}
	return false, false
}

// ksPodFlags reads a static pod manifest's first container's --flags.
func ksPodFlags(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pod struct {
		Spec struct {
			Containers []struct {
				Command []string `json:"command"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &pod); err != nil || len(pod.Spec.Containers) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	flags := map[string]string{}
	for _, a := range pod.Spec.Containers[0].Command[1:] {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		flags[k] = v
	}
	return flags
}
