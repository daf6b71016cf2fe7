package member

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/rafthttp"
)

// TestConfigFileAgreesWithEtcd holds ParseConfigFile to etcd's own
// reader (embed.ConfigFromFile) on the keys both read, for a k3s-style
// config file.
func TestConfigFileAgreesWithEtcd(t *testing.T) {
	data := []byte(`name: node1-0123abcd
initial-cluster: node1-0123abcd=https://10.0.0.11:2380
initial-cluster-state: new
initial-cluster-token: tok
listen-client-urls: https://127.0.0.1:2379,https://10.0.0.11:2379
advertise-client-urls: https://10.0.0.11:2379
listen-peer-urls: https://127.0.0.1:2380,https://10.0.0.11:2380
initial-advertise-peer-urls: https://10.0.0.11:2380
client-transport-security:
  cert-file: /tls/server-client.crt
  key-file: /tls/server-client.key
  client-cert-auth: true
  trusted-ca-file: /tls/server-ca.crt
peer-transport-security:
  cert-file: /tls/peer-server-client.crt
  key-file: /tls/peer-server-client.key
  client-cert-auth: true
  trusted-ca-file: /tls/peer-ca.crt
  skip-client-san-verification: true
experimental-initial-corrupt-check: true
`)
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := embed.ConfigFromFile(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfigFile(p, data)
	if err != nil {
		t.Fatal(err)
	}
	urls := func(us []string) string { s := slices.Clone(us); slices.Sort(s); return strings.Join(s, ",") }
	eq := func(what, a, b string) {
		if a != b {
			t.Errorf("%s: etcdpki %q, etcd %q", what, a, b)
		}
	}
	eq("name", got.Name, want.Name)
	eq("initial-cluster", got.InitialCluster, want.InitialCluster)
	eq("initial-cluster-token", got.InitialClusterToken, want.InitialClusterToken)
	eq("initial-cluster-state", got.InitialClusterState, want.ClusterState)
	eq("listen-client-urls", urls(got.ListenClientURLs), urlStrings(want.ListenClientUrls))
	eq("advertise-client-urls", urls(got.AdvertiseClientURLs), urlStrings(want.AdvertiseClientUrls))
	eq("listen-peer-urls", urls(got.ListenPeerURLs), urlStrings(want.ListenPeerUrls))
	eq("initial-advertise-peer-urls", urls(got.AdvertisePeerURLs), urlStrings(want.AdvertisePeerUrls))
	eq("cert-file", got.CertFile, want.ClientTLSInfo.CertFile)
	eq("trusted-ca-file", got.TrustedCAFile, want.ClientTLSInfo.TrustedCAFile)
	eq("peer-cert-file", got.PeerCertFile, want.PeerTLSInfo.CertFile)
	eq("peer-trusted-ca-file", got.PeerTrustedCAFile, want.PeerTLSInfo.TrustedCAFile)
	if got.ClientCertAuth != want.ClientTLSInfo.ClientCertAuth || got.PeerClientCertAuth != want.PeerTLSInfo.ClientCertAuth ||
		got.PeerSkipClientSANVerify != want.PeerTLSInfo.SkipClientSANVerify {
		t.Errorf("bools differ: %+v vs etcd %+v / %+v", got, want.ClientTLSInfo, want.PeerTLSInfo)
	}
	if src := got.Sources["peer-trusted-ca-file"]; !strings.HasSuffix(src, ":18 (peer-transport-security.trusted-ca-file)") {
		t.Errorf("source of peer-trusted-ca-file = %q, want line 18", src)
	}
}

func urlStrings(us []url.URL) string {
	var s []string
	for _, u := range us {
		s = append(s, u.String())
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

// TestEnvFileAsEtcd: ETCD_* variables map to flags as etcd maps them,
// kubespray's "True" is a boolean, a variable etcd 3.7 lacks is listed,
// and each setting says its line.
func TestEnvFileAsEtcd(t *testing.T) {
	s, err := ParseEnvFile("/etc/etcd.env", []byte(`# Environment file for etcd
ETCD_NAME=etcd2
ETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-node2.pem
export ETCD_PEER_CLIENT_CERT_AUTH=True
ETCD_CLIENT_CERT_AUTH="true"
ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=True
ETCD_LISTEN_CLIENT_URLS=https://10.0.0.12:2379,https://127.0.0.1:2379
ETCDCTL_API=3
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "etcd2" || !s.PeerClientCertAuth || !s.ClientCertAuth || s.CertFile != "/etc/ssl/etcd/ssl/member-node2.pem" || len(s.ListenClientURLs) != 2 {
		t.Errorf("settings = %+v", s)
	}
	if !slices.Equal(s.Unknown, []string{"ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK"}) {
		t.Errorf("unknown = %v", s.Unknown)
	}
	if got := s.Sources["cert-file"]; got != "/etc/etcd.env:3 (ETCD_CERT_FILE)" {
		t.Errorf("source = %q", got)
	}
	if _, err := ParseEnvFile("x", []byte("ETCDCTL_API=3\nPATH=/bin\n")); err == nil {
		t.Error("an env file without ETCD_* settings: want an error")
	}
	// etcd refuses a bad boolean; the rest is kept and the error says which.
	s, err = ParseEnvFile("x", []byte("ETCD_NAME=a\nETCD_CLIENT_CERT_AUTH=yes please\n"))
	if err == nil || s == nil || s.Name != "a" || !strings.Contains(err.Error(), "ETCD_CLIENT_CERT_AUTH") {
		t.Errorf("bad bool: %+v, %v", s, err)
	}
}

// TestShellManifest: OpenShift's way of running etcd: a sh -c script,
// variables from the pod's env, ETCD_NAME exported in the script, paths
// inside the pod mapped to the host through hostPath volumes.
func TestShellManifest(t *testing.T) {
	pod := `kind: Pod
spec:
  volumes:
  - name: cert-dir
    hostPath: {path: /etc/kubernetes/static-pod-resources/etcd-certs}
  containers:
  - name: etcd
    command: ["/bin/sh", "-c"]
    args:
    - |
      #!/bin/sh
      set -euo pipefail
      export ETCD_NAME=${NODE_m0_ETCD_NAME}
      ETCD_INITIAL_CLUSTER=$(discover --data-dir=/var/lib/etcd --cert=/etc/kubernetes/static-pod-certs/x.crt)
      exec nice -n -19 ionice -c2 -n0 etcd \
        --cert-file=/etc/kubernetes/static-pod-certs/secrets/etcd-all-certs/etcd-serving-m0.crt \
        --advertise-client-urls=https://${NODE_m0_IP}:2379 \
        --client-cert-auth=true \
        --listen-metrics-urls=https://0.0.0.0:9978 || mv /a /b
    env:
    - {name: NODE_m0_IP, value: 10.0.0.11}
    - {name: NODE_m0_ETCD_NAME, value: m0}
    volumeMounts:
    - {name: cert-dir, mountPath: /etc/kubernetes/static-pod-certs}
`
	s, err := ParseEtcdManifest("etcd-pod.yaml", []byte(pod))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "m0" || !s.ClientCertAuth || !slices.Equal(s.AdvertiseClientURLs, []string{"https://10.0.0.11:2379"}) ||
		s.CertFile != "/etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-certs/etcd-serving-m0.crt" {
		t.Errorf("settings = %+v", s)
	}
}

// TestDiskStaysInTheRoot: ".." and symlinks never lead out of the
// member's tree; an absolute symlink means the node's root.
func TestDiskStaysInTheRoot(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc/kubernetes/ssl"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/kubernetes/ssl/ca.crt"), []byte("x"), 0o644)
	os.Symlink("/etc/kubernetes/ssl", filepath.Join(dir, "etc/kubernetes/pki"))
	os.Symlink("../../../../../../tmp", filepath.Join(dir, "etc/escape"))
	in := &Input{Dir: dir, Root: "/"}
	if p, err := in.Disk("/etc/kubernetes/pki/ca.crt"); err != nil || p != filepath.Join(dir, "etc/kubernetes/ssl/ca.crt") {
		t.Errorf("absolute symlink: %q, %v", p, err)
	}
	if p, err := in.Disk("/etc/kubernetes/../../../../tmp/x.crt"); err != nil || p != filepath.Join(dir, "tmp/x.crt") {
		t.Errorf("..: %q, %v (want it cleaned inside the tree)", p, err)
	}
	if p, err := in.Disk("/etc/escape/x"); err != nil || !strings.HasPrefix(p, dir) {
		t.Errorf("relative symlink upwards: %q, %v (want it kept inside the tree)", p, err)
	}
	sub := &Input{Dir: dir, Root: "/etc/kubernetes"}
	if _, err := sub.Disk("/var/lib/etcd/x"); err != ErrOutside {
		t.Errorf("outside the root: %v, want ErrOutside", err)
	}
}

// TestDiscoverUnreadableDir: a member directory this user cannot read is
// said to be unreadable, not a node without an etcd PKI.
func TestDiscoverUnreadableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any directory")
	}
	dir := filepath.Join(t.TempDir(), "node1")
	os.MkdirAll(filepath.Join(dir, "etc/kubernetes/pki/etcd"), 0o755)
	os.Chmod(dir, 0o000)
	defer os.Chmod(dir, 0o755)
	_, err := Discover(dir, DiscoverOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot be read: permission denied") {
		t.Errorf("err = %v, want cannot be read: permission denied", err)
	}
}

// TestRaftTimeoutsStayLocal: a member's --raft-read-timeout and
// --raft-write-timeout are read into its settings, never into the
// rafthttp package variables that embed.Config.AddFlags binds them to,
// which an etcd running in this process (up) uses.
func TestRaftTimeoutsStayLocal(t *testing.T) {
	before := [2]time.Duration{rafthttp.ConnReadTimeout, rafthttp.ConnWriteTimeout}
	p := parseEtcd([]string{"--raft-read-timeout=9s", "--raft-write-timeout=8s"}, func(string) string { return "args" }, nil)
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if got := p.fs.Lookup("raft-read-timeout").Value.String(); got != "9s" {
		t.Errorf("--raft-read-timeout read as %s", got)
	}
	if after := [2]time.Duration{rafthttp.ConnReadTimeout, rafthttp.ConnWriteTimeout}; after != before {
		t.Errorf("parsing a member's flags set rafthttp's timeouts to %v (were %v)", after, before)
	}
}
