package distro

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
)

func TestTalosRegistered(t *testing.T) { wantRegistered(t, "talos") }

func TestTalosFiles(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	f := Talos(t, t.TempDir(), Options{Now: now})
	if f.Distribution != "talos" || len(f.Dirs) != 3 || !reflect.DeepEqual(f.Members, []string{"node1", "node2", "node3"}) {
		t.Fatalf("fixture: %+v", f)
	}
	files := []string{talosCACert, talosCAKey, talosServerCert, talosServerKey, talosPeerCert, talosPeerKey,
		talosAdminCert, talosAdminKey, talosAPIClientCA, talosAPIClientCert, talosAPIClientKey}
	ca0 := readCert(t, f.Dirs[0], talosCACert)
	keys := distinctKeys{}
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		for _, p := range files {
			wantMode(t, root, p, 0o400)
		}
		wantMode(t, root, talosEtcdPKI, os.ModeDir|0o700)
		wantMode(t, root, talosAPIServerDir, os.ModeDir|0o755)

		ca := readCert(t, root, talosCACert)
		if !ca.Equal(ca0) {
			t.Errorf("%s: not the cluster's etcd CA", n.Host)
		}
		if ca.Subject.CommonName != "" || !reflect.DeepEqual(ca.Subject.Organization, []string{"etcd"}) || !ca.IsCA {
			t.Errorf("CA subject %v, CA %v", ca.Subject, ca.IsCA)
		}
		if ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature || ca.NotAfter.Sub(ca.NotBefore) != talosValidity {
			t.Errorf("CA key usage %b, validity %v", ca.KeyUsage, ca.NotAfter.Sub(ca.NotBefore))
		}
		ca2 := readCert(t, root, talosAPIClientCA)
		if !ca2.Equal(ca) {
			t.Errorf("%s: etcd-client-ca.crt is not the etcd CA", n.Host)
		}

		for _, c := range []struct {
			file string
			cn   string
			dns  []string
			ips  []string
			ekus []x509.ExtKeyUsage
		}{
			{talosServerCert, n.Host, []string{n.Host, "localhost"}, []string{n.IP, "127.0.0.1"}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
			{talosPeerCert, n.Host, []string{n.Host}, []string{n.IP}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
			{talosAdminCert, "talos", nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
			{talosAPIClientCert, "kube-apiserver", nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		} {
			leaf := readCert(t, root, c.file)
			if leaf.Subject.CommonName != c.cn || len(leaf.Subject.Organization) != 0 {
				t.Errorf("%s %s: subject %v", n.Host, c.file, leaf.Subject)
			}
			if !reflect.DeepEqual(leaf.DNSNames, c.dns) || !reflect.DeepEqual(ipStrings(leaf.IPAddresses), c.ips) {
				t.Errorf("%s %s: SANs %q %q", n.Host, c.file, leaf.DNSNames, ipStrings(leaf.IPAddresses))
			}
			if !reflect.DeepEqual(leaf.ExtKeyUsage, c.ekus) || leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
				t.Errorf("%s %s: EKU %v, KU %b", n.Host, c.file, leaf.ExtKeyUsage, leaf.KeyUsage)
			}
			if leaf.BasicConstraintsValid || !leaf.NotBefore.Equal(now) || leaf.NotAfter.Sub(leaf.NotBefore) != talosValidity {
				t.Errorf("%s %s: basic constraints %v, validity %v–%v", n.Host, c.file, leaf.BasicConstraintsValid, leaf.NotBefore, leaf.NotAfter)
			}
			if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() || leaf.SignatureAlgorithm != x509.ECDSAWithSHA256 {
				t.Errorf("%s %s: want P-256 signed with ECDSA-SHA256", n.Host, c.file)
			}
			if err := leaf.CheckSignatureFrom(ca); err != nil {
				t.Errorf("%s %s: %v", n.Host, c.file, err)
			}
		}
		for _, k := range []string{talosServerKey, talosPeerKey, talosAdminKey, talosAPIClientKey} {
			data := readNode(t, root, k)
			wantPEM(t, n.Host+" "+k, data, "EC PRIVATE KEY")
			keys.add(t, n.Host+" "+k, data)
		}
	}
}

func TestTalosOpenSSL(t *testing.T) {
	needOpenSSL(t)
	f := Talos(t, t.TempDir(), Options{})
	for i, root := range f.Dirs {
		for _, leaf := range []string{talosServerCert, talosPeerCert, talosAdminCert} {
			if err := opensslVerifyIn(root, talosCACert, "", leaf); err != nil {
				t.Errorf("%s %s: %v", f.Nodes[i].Host, leaf, err)
			}
		}
		if err := opensslVerifyIn(root, talosAPIClientCA, "", talosAPIClientCert); err != nil {
			t.Errorf("%s etcd-client: %v", f.Nodes[i].Host, err)
		}
	}
	// A leaf of one node verifies with another node's CA file: one CA.
	if err := opensslVerify(layout.OnDisk(f.Dirs[0], talosCACert), "", layout.OnDisk(f.Dirs[1], talosPeerCert)); err != nil {
		t.Errorf("node2's peer cert against node1's CA: %v", err)
	}
}

func TestTalosFaults(t *testing.T) {
	t.Run("OmitIP", func(t *testing.T) {
		f := Talos(t, t.TempDir(), Options{OmitIP: "node2"})
		for i, root := range f.Dirs {
			n := f.Nodes[i]
			server := ipStrings(readCert(t, root, talosServerCert).IPAddresses)
			peer := ipStrings(readCert(t, root, talosPeerCert).IPAddresses)
			wantServer, wantPeer := []string{n.IP, "127.0.0.1"}, []string{n.IP}
			if n.Host == "node2" {
				wantServer, wantPeer = []string{"127.0.0.1"}, nil
			}
			if !reflect.DeepEqual(server, wantServer) || !reflect.DeepEqual(peer, wantPeer) {
				t.Errorf("%s: server IPs %q, peer IPs %q", n.Host, server, peer)
			}
		}
	})
	t.Run("ForeignCA", func(t *testing.T) {
		f := Talos(t, t.TempDir(), Options{ForeignCA: "node1"})
		own := readCert(t, f.Dirs[0], talosCACert)
		cluster := readCert(t, f.Dirs[1], talosCACert)
		if own.Equal(cluster) || !readCert(t, f.Dirs[2], talosCACert).Equal(cluster) {
			t.Fatal("want node1 alone on a CA of its own")
		}
		for i, root := range f.Dirs {
			want := cluster
			if i == 0 {
				want = own
			}
			if !readCert(t, root, talosAPIClientCA).Equal(want) {
				t.Errorf("%s: etcd-client-ca.crt", f.Nodes[i].Host)
			}
			for _, leaf := range []string{talosServerCert, talosPeerCert, talosAdminCert, talosAPIClientCert} {
				if err := readCert(t, root, leaf).CheckSignatureFrom(want); err != nil {
					t.Errorf("%s %s: %v", f.Nodes[i].Host, leaf, err)
				}
			}
		}
	})
	for _, opts := range []Options{{OwnPeerCA: "node1"}, {OwnClientCA: "node1"}, {OmitIP: "nodeX"}} {
		if msg := fatalMessage(t, Talos, opts); msg == "" {
			t.Errorf("%+v: Talos did not refuse", opts)
		}
	}
}
