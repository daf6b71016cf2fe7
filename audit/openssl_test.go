package audit_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
)

// opensslMember is one member of the openssl-made cluster.
type opensslMember struct{ name, ip string }

var opensslMembers = []opensslMember{{"cp1", "10.0.0.11"}, {"cp2", "10.0.0.12"}, {"cp3", "10.0.0.13"}}

// TestOpenSSLPKI checks a kubeadm-layout PKI made with openssl commands
// alone, as the many how-tos that predate kubeadm's certs phase make one:
// no etcdpki code writes a byte of it, so check must understand what other
// tools produce (PKCS#8 keys, an RSA CA over ECDSA leaves, openssl's
// extension encoding). It must pass clean; then one planted fault must draw
// exactly its rule.
func TestOpenSSLPKI(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required in CI: ", err)
		}
		t.Skip("openssl not found")
	}
	root := t.TempDir()
	ca := filepath.Join(root, "ca")
	mkdir(t, ca)
	openssl(t, ca, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
		"-subj", "/CN=etcd-ca", "-days", "3650",
		"-addext", "basicConstraints=critical,CA:TRUE",
		"-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")

	var dirs []string
	for _, m := range opensslMembers {
		dir := filepath.Join(root, m.name)
		dirs = append(dirs, dir)
		pki := filepath.Join(dir, "etc/kubernetes/pki")
		etcd := filepath.Join(pki, "etcd")
		mkdir(t, etcd)
		mkdir(t, filepath.Join(dir, "etc/kubernetes/manifests"))
		for _, f := range []string{"ca.crt", "ca.key"} {
			copyFile(t, filepath.Join(ca, f), filepath.Join(etcd, f))
		}
		sans := fmt.Sprintf("DNS:%s,DNS:localhost,IP:%s,IP:127.0.0.1,IP:::1", m.name, m.ip)
		both := "serverAuth,clientAuth"
		opensslLeaf(t, ca, etcd, "server", "/CN="+m.name, both, sans)
		opensslLeaf(t, ca, etcd, "peer", "/CN="+m.name, both, sans)
		opensslLeaf(t, ca, etcd, "healthcheck-client", "/CN=kube-etcd-healthcheck-client", "clientAuth", "")
		// O=system:masters, as kubeadm before 1.29 wrote it: still clean.
		opensslLeaf(t, ca, pki, "apiserver-etcd-client", "/O=system:masters/CN=kube-apiserver-etcd-client", "clientAuth", "")
		writeText(t, filepath.Join(dir, "etc/kubernetes/manifests/etcd.yaml"), etcdManifest(m))
	}

	r, err := audit.CheckDirs(dirs, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 || !r.Verdict.ClusterForms || !r.Verdict.ClientsConnect {
		t.Fatalf("openssl-made PKI: want no findings, got %s\n%s", r.Verdict.Summary, findings(r))
	}
	for _, m := range r.Members {
		if m.NameFrom != "manifest" || len(m.Files) != 5 {
			t.Errorf("member %s: named from %q with %d files, want the manifest and 5 files", m.Name, m.NameFrom, len(m.Files))
		}
	}

	// The classic mistake of hand-made PKIs: a peer cert made from a
	// server profile, without clientAuth.
	cp2 := filepath.Join(root, "cp2/etc/kubernetes/pki/etcd")
	opensslLeaf(t, ca, cp2, "peer", "/CN=cp2", "serverAuth", "DNS:cp2,DNS:localhost,IP:10.0.0.12,IP:127.0.0.1,IP:::1")
	r, err = audit.CheckDirs(dirs, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.RuleIDs(), []audit.RuleID{audit.RuleEKUPeerClient}; !slices.Equal(got, want) {
		t.Fatalf("peer.crt without clientAuth: rules %v, want %v\n%s", got, want, findings(r))
	}
	if f := r.Findings[0]; f.Member != "cp2" || !strings.HasSuffix(f.File, "cp2/etc/kubernetes/pki/etcd/peer.crt") {
		t.Errorf("finding names %s %s, want cp2's peer.crt", f.Member, f.File)
	}
	// cp2 still joins (raft also runs over the connections the others
	// open to it; demo fault peer-no-clientauth shows it with real etcd),
	// with its own connections refused.
	if !r.Verdict.ClusterForms || !r.Verdict.ClientsConnect || !strings.Contains(r.Verdict.Summary, "cp2 (EKU-PEER-CLIENT) joins, but the others reject its connections in one direction") {
		t.Errorf("want the cluster to form with cp2 degraded, got %s", r.Verdict.Summary)
	}
}

// opensslLeaf makes name.key and name.crt in dir: an ECDSA P-256 key and a
// CSR with openssl req, signed by the CA in caDir with openssl x509 and an
// extension file, as kubeadm's profiles have them.
func opensslLeaf(t *testing.T, caDir, dir, name, subj, eku, sans string) {
	t.Helper()
	ext := "basicConstraints=critical,CA:FALSE\n" +
		"keyUsage=critical,digitalSignature\n" +
		"extendedKeyUsage=" + eku + "\n" +
		"subjectKeyIdentifier=hash\n" +
		"authorityKeyIdentifier=keyid\n"
	if sans != "" {
		ext += "subjectAltName=" + sans + "\n"
	}
	extFile := filepath.Join(dir, name+".ext")
	writeText(t, extFile, ext)
	openssl(t, dir, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", name+".key", "-out", name+".csr", "-subj", subj)
	openssl(t, dir, "x509", "-req", "-in", name+".csr", "-CA", filepath.Join(caDir, "ca.crt"), "-CAkey", filepath.Join(caDir, "ca.key"),
		"-days", "365", "-sha256", "-extfile", extFile, "-out", name+".crt")
	for _, f := range []string{extFile, filepath.Join(dir, name+".csr")} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
}

// etcdManifest is the etcd static pod kubeadm writes, reduced to the
// command line, written out by hand.
func etcdManifest(m opensslMember) string {
	var initial []string
	for _, o := range opensslMembers {
		initial = append(initial, fmt.Sprintf("%s=https://%s:2380", o.name, o.ip))
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.6.4-0
    command:
    - etcd
    - --advertise-client-urls=https://%[2]s:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://%[2]s:2380
    - --initial-cluster=%[3]s
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=https://127.0.0.1:2379,https://%[2]s:2379
    - --listen-metrics-urls=http://127.0.0.1:2381
    - --listen-peer-urls=https://%[2]s:2380
    - --name=%[1]s
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    - --snapshot-count=10000
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
`, m.name, m.ip, strings.Join(initial, ","))
}

func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func writeText(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies a file with its permissions, as scp -p would.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}
