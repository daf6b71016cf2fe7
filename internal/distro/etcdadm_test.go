package distro

import (
	"bytes"
	"crypto/x509"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func TestEtcdadmRegistered(t *testing.T) { wantRegistered(t, "etcdadm") }

// eaPKIFiles is what etcdadm leaves in /etc/etcd/pki.
var eaPKIFiles = []string{
	"apiserver-etcd-client.crt", "apiserver-etcd-client.key",
	"ca.crt", "ca.key",
	"etcdctl-etcd-client.crt", "etcdctl-etcd-client.key",
	"peer.crt", "peer.key",
	"server.crt", "server.key",
}

func TestEtcdadmFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := Etcdadm(t, dir, Options{})
	if f.Distribution != "etcdadm" || len(f.Dirs) != 3 {
		t.Fatalf("Distribution %q, %d dirs", f.Distribution, len(f.Dirs))
	}
	if want := []string{"node1", "node2", "node3"}; !slices.Equal(f.Members, want) {
		t.Errorf("Members = %v, want the host names %v", f.Members, want)
	}
	for i, root := range f.Dirs {
		host := f.Nodes[i].Host
		if root != layout.MemberDir(dir, host) {
			t.Errorf("%s: dir %s", host, root)
		}
		wantMode(t, root, etcdadmEtcDir, os.ModeDir|0o755)
		wantMode(t, root, etcdadmPKIDir, os.ModeDir|0o755)
		if got := listDir(t, layout.OnDisk(root, etcdadmPKIDir)); !slices.Equal(got, eaPKIFiles) {
			t.Errorf("%s: pki holds %v, want %v", host, got, eaPKIFiles)
		}
		for _, name := range eaPKIFiles {
			want := os.FileMode(0o644)
			if strings.HasSuffix(name, ".key") {
				want = 0o600
			}
			wantMode(t, root, etcdadmPKIDir+"/"+name, want)
		}
		wantMode(t, root, etcdadmEnvFile, 0o600)
		wantMode(t, root, etcdadmEtcdctlEnv, 0o600)
		wantMode(t, root, etcdadmUnitFile, 0o755)
		unit := string(readNode(t, root, etcdadmUnitFile))
		for _, line := range []string{"EnvironmentFile=/etc/etcd/etcd.env", "ExecStart=/opt/bin/etcd", "Type=notify"} {
			if !strings.Contains(unit, "\n"+line+"\n") {
				t.Errorf("%s: etcd.service lacks %q", host, line)
			}
		}
		// One CA, copied to every member; the leaves are each member's own.
		for _, name := range []string{"ca.crt", "ca.key"} {
			if !bytes.Equal(readNode(t, f.Dirs[0], etcdadmPKIDir+"/"+name), readNode(t, root, etcdadmPKIDir+"/"+name)) {
				t.Errorf("%s: %s is not node1's", host, name)
			}
		}
		if i > 0 && bytes.Equal(readNode(t, f.Dirs[0], etcdadmPKIDir+"/server.crt"), readNode(t, root, etcdadmPKIDir+"/server.crt")) {
			t.Errorf("%s: server.crt is node1's", host)
		}
	}
}

func TestEtcdadmCerts(t *testing.T) {
	t.Parallel()
	f := Etcdadm(t, t.TempDir(), Options{})
	seen := distinctKeys{}
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		ca := readCert(t, root, etcdadmPKIDir+"/ca.crt")
		if ca.Subject.String() != "CN=etcd" || !ca.IsCA || ca.SerialNumber.Sign() != 0 || !slices.Equal(ca.DNSNames, []string{"etcd"}) {
			t.Errorf("%s: CA %s, IsCA %v, serial %v, DNS %v", n.Host, ca.Subject, ca.IsCA, ca.SerialNumber, ca.DNSNames)
		}
		if ca.KeyUsage != x509.KeyUsageKeyEncipherment|x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign {
			t.Errorf("%s: CA key usage %v", n.Host, ca.KeyUsage)
		}
		wantRSA2048(t, "ca.crt", ca)
		if d := ca.NotAfter.Sub(ca.NotBefore); d != 3650*24*time.Hour {
			t.Errorf("%s: CA validity %v", n.Host, d)
		}
		if !pki.KeyMatches(ca.PublicKey, readKey(t, root, etcdadmPKIDir+"/ca.key")) {
			t.Errorf("%s: ca.key does not match", n.Host)
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		for _, want := range []struct {
			base, subject string
			dns, ips      []string
			ekus          []x509.ExtKeyUsage
		}{
			{"server", "CN=" + n.Host, []string{n.Host}, []string{n.IP, "127.0.0.1"}, both},
			{"peer", "CN=" + n.Host, []string{n.Host}, []string{n.IP}, both},
			{"etcdctl-etcd-client", "CN=" + n.Host + "-etcdctl,O=system:masters", nil, nil, client},
			{"apiserver-etcd-client", "CN=" + n.Host + "-kube-apiserver-etcd-client,O=system:masters", nil, nil, client},
		} {
			what := n.Host + " " + want.base
			c := readCert(t, root, etcdadmPKIDir+"/"+want.base+".crt")
			if c.Subject.String() != want.subject {
				t.Errorf("%s: subject %s, want %s", what, c.Subject, want.subject)
			}
			if !slices.Equal(c.DNSNames, want.dns) || !slices.Equal(ipStrings(c.IPAddresses), want.ips) {
				t.Errorf("%s: SANs %v %v, want %v %v", what, c.DNSNames, ipStrings(c.IPAddresses), want.dns, want.ips)
			}
			if !slices.Equal(c.ExtKeyUsage, want.ekus) || c.KeyUsage != x509.KeyUsageKeyEncipherment|x509.KeyUsageDigitalSignature {
				t.Errorf("%s: EKU %v, KU %v", what, c.ExtKeyUsage, c.KeyUsage)
			}
			wantRSA2048(t, what, c)
			if !c.NotBefore.Equal(ca.NotBefore) || c.NotAfter.Sub(c.NotBefore) != 3650*24*time.Hour {
				t.Errorf("%s: valid %v to %v", what, c.NotBefore, c.NotAfter)
			}
			if c.BasicConstraintsValid || len(c.SubjectKeyId) != 0 || !bytes.Equal(c.AuthorityKeyId, ca.SubjectKeyId) {
				t.Errorf("%s: basic constraints %v, SKI %x, AKI %x", what, c.BasicConstraintsValid, c.SubjectKeyId, c.AuthorityKeyId)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: want.ekus}); err != nil {
				t.Errorf("%s: %v", what, err)
			}
			key := readKey(t, root, etcdadmPKIDir+"/"+want.base+".key")
			if !pki.KeyMatches(c.PublicKey, key) {
				t.Errorf("%s: key does not match", what)
			}
			der, _ := x509.MarshalPKIXPublicKey(key.Public())
			seen.add(t, what, der)
		}
		// keyutil.WriteKey of EncodePrivateKeyPEM: PKCS#1.
		wantPEM(t, n.Host+" server.key", readNode(t, root, etcdadmPKIDir+"/server.key"), "RSA PRIVATE KEY")
	}
}

func TestEtcdadmOpenSSL(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	f := Etcdadm(t, t.TempDir(), Options{ForeignCA: "node3"})
	ca := etcdadmPKIDir + "/ca.crt"
	for i, root := range f.Dirs {
		host := f.Nodes[i].Host
		var leaves []string
		for _, name := range eaPKIFiles {
			if strings.HasSuffix(name, ".crt") && name != "ca.crt" {
				leaves = append(leaves, etcdadmPKIDir+"/"+name)
			}
		}
		if err := opensslVerifyIn(root, ca, "", leaves...); err != nil {
			t.Errorf("%s: %v", host, err)
		}
		for _, purpose := range []string{"sslserver", "sslclient"} {
			for _, name := range []string{"server.crt", "peer.crt"} {
				if err := opensslVerifyIn(root, ca, purpose, etcdadmPKIDir+"/"+name); err != nil {
					t.Errorf("%s: %s %s: %v", host, name, purpose, err)
				}
			}
		}
		if err := opensslVerifyIn(root, ca, "sslserver", etcdadmPKIDir+"/apiserver-etcd-client.crt"); err == nil {
			t.Errorf("%s: the apiserver client cert passes as a server cert", host)
		}
	}
	// node2 joined with node1's CA; node3 made its own.
	node1CA := layout.OnDisk(f.Dirs[0], ca)
	if err := opensslVerify(node1CA, "", layout.OnDisk(f.Dirs[1], etcdadmPKIDir+"/peer.crt")); err != nil {
		t.Errorf("node2's peer cert against node1's CA: %v", err)
	}
	if opensslVerify(node1CA, "", layout.OnDisk(f.Dirs[2], etcdadmPKIDir+"/peer.crt")) == nil {
		t.Errorf("node3's peer cert verifies against node1's CA")
	}
}

var eaToken = regexp.MustCompile(`^[0-9a-f]{8}$`)

func TestEtcdadmEnv(t *testing.T) {
	t.Parallel()
	f := Etcdadm(t, t.TempDir(), Options{})
	peers := []string{"node1=https://10.0.0.11:2380", "node2=https://10.0.0.12:2380", "node3=https://10.0.0.13:2380"}
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		env := parseEnvFile(t, layout.OnDisk(root, etcdadmEnvFile), false)
		state := "existing"
		if i == 0 {
			state = "new"
		}
		want := map[string]string{
			"ETCD_NAME":                        n.Host,
			"ETCD_INITIAL_CLUSTER":             strings.Join(peers[:i+1], ","),
			"ETCD_INITIAL_CLUSTER_STATE":       state,
			"ETCD_INITIAL_ADVERTISE_PEER_URLS": "https://" + n.IP + ":2380",
			"ETCD_LISTEN_PEER_URLS":            "https://" + n.IP + ":2380",
			"ETCD_ADVERTISE_CLIENT_URLS":       "https://" + n.IP + ":2379",
			"ETCD_LISTEN_CLIENT_URLS":          "https://" + n.IP + ":2379,https://127.0.0.1:2379",
			"ETCD_CLIENT_CERT_AUTH":            "true",
			"ETCD_PEER_CLIENT_CERT_AUTH":       "true",
			"ETCD_CERT_FILE":                   "/etc/etcd/pki/server.crt",
			"ETCD_KEY_FILE":                    "/etc/etcd/pki/server.key",
			"ETCD_TRUSTED_CA_FILE":             "/etc/etcd/pki/ca.crt",
			"ETCD_PEER_CERT_FILE":              "/etc/etcd/pki/peer.crt",
			"ETCD_PEER_KEY_FILE":               "/etc/etcd/pki/peer.key",
			"ETCD_PEER_TRUSTED_CA_FILE":        "/etc/etcd/pki/ca.crt",
			"ETCD_DATA_DIR":                    "/var/lib/etcd",
			"ETCD_STRICT_RECONFIG_CHECK":       "true",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", n.Host, k, env[k], v)
			}
		}
		// Only init sets the token; join leaves the line empty.
		if token, ok := env["ETCD_INITIAL_CLUSTER_TOKEN"]; (i == 0) != ok || (ok && !eaToken.MatchString(token)) {
			t.Errorf("%s: ETCD_INITIAL_CLUSTER_TOKEN=%q (set %v)", n.Host, token, ok)
		}
		for _, k := range []string{"ETCD_CERT_FILE", "ETCD_KEY_FILE", "ETCD_TRUSTED_CA_FILE", "ETCD_PEER_CERT_FILE", "ETCD_PEER_KEY_FILE", "ETCD_PEER_TRUSTED_CA_FILE"} {
			if _, err := os.Stat(layout.OnDisk(root, env[k])); err != nil {
				t.Errorf("%s: %s: %v", n.Host, k, err)
			}
		}
		ctl := parseEnvFile(t, layout.OnDisk(root, etcdadmEtcdctlEnv), true)
		if ctl["ETCDCTL_CERT"] != "/etc/etcd/pki/etcdctl-etcd-client.crt" || ctl["ETCDCTL_API"] != "3" {
			t.Errorf("%s: etcdctl.env %v", n.Host, ctl)
		}
		for _, k := range []string{"ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"} {
			if _, err := os.Stat(layout.OnDisk(root, ctl[k])); err != nil {
				t.Errorf("%s: %s: %v", n.Host, k, err)
			}
		}
	}
}

func TestEtcdadmOmitIP(t *testing.T) {
	t.Parallel()
	f := Etcdadm(t, t.TempDir(), Options{OmitIP: "node2"})
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		server, peer := readCert(t, root, etcdadmPKIDir+"/server.crt"), readCert(t, root, etcdadmPKIDir+"/peer.crt")
		wantServer, wantPeer := []string{n.IP, "127.0.0.1"}, []string{n.IP}
		if n.Host == "node2" {
			wantServer, wantPeer = []string{"127.0.0.1"}, nil
		}
		if got := ipStrings(server.IPAddresses); !slices.Equal(got, wantServer) {
			t.Errorf("%s: server IPs %v, want %v", n.Host, got, wantServer)
		}
		if got := ipStrings(peer.IPAddresses); !slices.Equal(got, wantPeer) {
			t.Errorf("%s: peer IPs %v, want %v", n.Host, got, wantPeer)
		}
		if !slices.Equal(server.DNSNames, []string{n.Host}) || !slices.Equal(peer.DNSNames, []string{n.Host}) {
			t.Errorf("%s: DNS names changed: %v %v", n.Host, server.DNSNames, peer.DNSNames)
		}
		if !bytes.Equal(readNode(t, root, etcdadmPKIDir+"/ca.crt"), readNode(t, f.Dirs[0], etcdadmPKIDir+"/ca.crt")) {
			t.Errorf("%s: CA changed", n.Host)
		}
	}
	env := parseEnvFile(t, layout.OnDisk(f.Dirs[1], etcdadmEnvFile), false)
	if env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] != "https://10.0.0.12:2380" {
		t.Errorf("node2's settings changed: %v", env["ETCD_INITIAL_ADVERTISE_PEER_URLS"])
	}
}

func TestEtcdadmForeignCA(t *testing.T) {
	t.Parallel()
	f := Etcdadm(t, t.TempDir(), Options{ForeignCA: "node3"})
	ca1, ca2, ca3 := readCert(t, f.Dirs[0], etcdadmPKIDir+"/ca.crt"), readCert(t, f.Dirs[1], etcdadmPKIDir+"/ca.crt"), readCert(t, f.Dirs[2], etcdadmPKIDir+"/ca.crt")
	if !bytes.Equal(ca1.Raw, ca2.Raw) || bytes.Equal(ca1.Raw, ca3.Raw) {
		t.Fatalf("CAs: node1=node2 %v, node1=node3 %v", bytes.Equal(ca1.Raw, ca2.Raw), bytes.Equal(ca1.Raw, ca3.Raw))
	}
	// Both are etcdadm CAs: the same name and serial, another key.
	if ca3.Subject.String() != ca1.Subject.String() || ca3.SerialNumber.Cmp(ca1.SerialNumber) != 0 || bytes.Equal(ca3.RawSubjectPublicKeyInfo, ca1.RawSubjectPublicKeyInfo) {
		t.Errorf("node3's CA %s serial %v", ca3.Subject, ca3.SerialNumber)
	}
	if !pki.KeyMatches(ca3.PublicKey, readKey(t, f.Dirs[2], etcdadmPKIDir+"/ca.key")) {
		t.Errorf("node3's ca.key does not match its ca.crt")
	}
	own, cluster := x509.NewCertPool(), x509.NewCertPool()
	own.AddCert(ca3)
	cluster.AddCert(ca1)
	anyEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	for _, name := range []string{"server", "peer", "etcdctl-etcd-client", "apiserver-etcd-client"} {
		c := readCert(t, f.Dirs[2], etcdadmPKIDir+"/"+name+".crt")
		if _, err := c.Verify(x509.VerifyOptions{Roots: own, KeyUsages: anyEKU}); err != nil {
			t.Errorf("node3 %s: %v", name, err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: cluster, KeyUsages: anyEKU}); err == nil {
			t.Errorf("node3 %s verifies against the cluster CA", name)
		}
		if c2 := readCert(t, f.Dirs[1], etcdadmPKIDir+"/"+name+".crt"); func() error {
			_, err := c2.Verify(x509.VerifyOptions{Roots: cluster, KeyUsages: anyEKU})
			return err
		}() != nil {
			t.Errorf("node2 %s does not verify against the cluster CA", name)
		}
	}
	if env := parseEnvFile(t, layout.OnDisk(f.Dirs[2], etcdadmEnvFile), false); env["ETCD_INITIAL_CLUSTER_STATE"] != "existing" {
		t.Errorf("node3's settings changed: state %q", env["ETCD_INITIAL_CLUSTER_STATE"])
	}
}

func TestEtcdadmOneCA(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{{OwnPeerCA: "node1"}, {OwnClientCA: "node2"}} {
		if msg := fatalMessage(t, Etcdadm, opts); msg == "" {
			t.Errorf("Etcdadm(%+v) did not fail the test", opts)
		}
	}
}
