package distro

import (
	"crypto/rsa"
	"crypto/x509"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestKopsRegistered(t *testing.T) { wantRegistered(t, "kops") }

// kopsTestPaths are a member's etcd-manager files of one etcd cluster.
func kopsTestPaths(c kopsEtcdCluster, host string) (peers, clients string) {
	p := kopsMemberPKI(c, host)
	return p + "/peers", p + "/clients"
}

func TestKopsFiles(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	f := Kops(t, t.TempDir(), Options{Now: now})
	if f.Distribution != "kops" || len(f.Dirs) != 3 || !reflect.DeepEqual(f.Members, []string{"etcd-a", "etcd-b", "etcd-c"}) {
		t.Fatalf("fixture: %+v", f)
	}
	keys := distinctKeys{}
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		for _, c := range kopsClusters {
			for _, ca := range []string{"etcd-manager-ca", "etcd-peers-ca", "etcd-clients-ca"} {
				wantMode(t, root, c.pkiDir()+"/"+ca+".crt", 0o644)
				wantMode(t, root, c.pkiDir()+"/"+ca+".key", 0o600)
			}
			peers, clients := kopsTestPaths(c, n.Host)
			for _, p := range []string{peers + "/ca.crt", peers + "/me.crt", clients + "/ca.crt", clients + "/server.crt"} {
				wantMode(t, root, p, 0o644)
			}
			for _, p := range []string{peers + "/me.key", clients + "/server.key"} {
				wantMode(t, root, p, 0o600)
				data := readNode(t, root, p)
				wantPEM(t, n.Host+" "+p, data, "RSA PRIVATE KEY")
				keys.add(t, n.Host+" "+p, data)
			}
			wantMode(t, root, peers, os.ModeDir|0o700)
			wantMode(t, root, kopsManifests+"/etcd-"+c.name+".manifest", 0o440)

			peersCA := readCert(t, root, c.pkiDir()+"/etcd-peers-ca.crt")
			clientsCA := readCert(t, root, c.pkiDir()+"/etcd-clients-ca.crt")
			if peersCA.Subject.CommonName != "etcd-peers-ca-"+c.name || clientsCA.Subject.CommonName != "etcd-clients-ca" {
				t.Errorf("CA CNs %q %q", peersCA.Subject.CommonName, clientsCA.Subject.CommonName)
			}
			if mgr := readCert(t, root, c.pkiDir()+"/etcd-manager-ca.crt"); mgr.Subject.CommonName != "etcd-manager-ca-"+c.name {
				t.Errorf("etcd-manager CA CN %q", mgr.Subject.CommonName)
			}
			for _, ca := range []*x509.Certificate{peersCA, clientsCA} {
				if !ca.IsCA || ca.KeyUsage != x509.KeyUsageCRLSign|x509.KeyUsageCertSign ||
					!ca.NotBefore.Equal(now.Add(-kopsCABackdate)) || !ca.NotAfter.Equal(now.Add(kopsCAValidity)) {
					t.Errorf("%s: CA %v KU %b %v–%v", ca.Subject.CommonName, ca.IsCA, ca.KeyUsage, ca.NotBefore, ca.NotAfter)
				}
				wantRSA2048(t, ca.Subject.CommonName, ca)
			}
			if !readCert(t, root, peers+"/ca.crt").Equal(peersCA) || !readCert(t, root, clients+"/ca.crt").Equal(clientsCA) {
				t.Errorf("%s: the member's ca.crt files are not the nodeup CAs", n.Host)
			}

			name, host := c.member(i), c.member(i)+kopsDNSSuffix
			peer := readCert(t, root, peers+"/me.crt")
			server := readCert(t, root, clients+"/server.crt")
			for _, l := range []struct {
				what string
				cert *x509.Certificate
				ca   *x509.Certificate
				dns  []string
				ips  []string
				ekus []x509.ExtKeyUsage
			}{
				{"peer", peer, peersCA, []string{name, host}, []string{n.IP, "127.0.0.1", "::1"},
					[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}},
				{"server", server, clientsCA, []string{name, host, host}, []string{"127.0.0.1", "::1"},
					[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
			} {
				if l.cert.Subject.CommonName != name {
					t.Errorf("%s %s %s: CN %q", n.Host, c.name, l.what, l.cert.Subject.CommonName)
				}
				if !reflect.DeepEqual(l.cert.DNSNames, l.dns) || !reflect.DeepEqual(ipStrings(l.cert.IPAddresses), l.ips) {
					t.Errorf("%s %s %s: SANs %q %q", n.Host, c.name, l.what, l.cert.DNSNames, ipStrings(l.cert.IPAddresses))
				}
				if !reflect.DeepEqual(l.cert.ExtKeyUsage, l.ekus) || l.cert.KeyUsage != x509.KeyUsageKeyEncipherment|x509.KeyUsageDigitalSignature || l.cert.BasicConstraintsValid {
					t.Errorf("%s %s %s: EKU %v KU %b BC %v", n.Host, c.name, l.what, l.cert.ExtKeyUsage, l.cert.KeyUsage, l.cert.BasicConstraintsValid)
				}
				if !l.cert.NotBefore.Equal(l.ca.NotBefore) || !l.cert.NotAfter.Equal(now.Add(kopsLeafValidity)) {
					t.Errorf("%s %s %s: validity %v–%v", n.Host, c.name, l.what, l.cert.NotBefore, l.cert.NotAfter)
				}
				if k, ok := l.cert.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != kopsLeafRSABits {
					t.Errorf("%s %s %s: want RSA-%d", n.Host, c.name, l.what, kopsLeafRSABits)
				}
				if err := l.cert.CheckSignatureFrom(l.ca); err != nil {
					t.Errorf("%s %s %s: %v", n.Host, c.name, l.what, err)
				}
			}

			var pod struct {
				Spec struct {
					Containers []struct{ Command []string }
					Volumes    []struct {
						Name     string
						HostPath struct{ Path string } `json:"hostPath"`
					}
				}
			}
			if err := yaml.Unmarshal(readNode(t, root, kopsManifests+"/etcd-"+c.name+".manifest"), &pod); err != nil {
				t.Fatal(err)
			}
			cmd := strings.Join(pod.Spec.Containers[0].Command, " ")
			for _, flag := range []string{"--cluster-name=" + c.clusterName, "--dns-suffix=" + kopsDNSSuffix, "--volume-tag=k8s.io/etcd/" + c.name} {
				if !strings.Contains(cmd, flag) {
					t.Errorf("%s manifest lacks %q", c.name, flag)
				}
			}
			vols := map[string]string{}
			for _, v := range pod.Spec.Volumes {
				vols[v.Name] = v.HostPath.Path
			}
			if vols["pki"] != c.pkiDir() || vols["rootfs"] != "/" {
				t.Errorf("%s manifest volumes %v", c.name, vols)
			}
		}

		clientsCA := readCert(t, root, kopsAPIClientCA)
		api := readCert(t, root, kopsAPIClient+".crt")
		wantMode(t, root, kopsAPIClientCA, 0o644)
		wantMode(t, root, kopsAPIClient+".crt", 0o644)
		wantMode(t, root, kopsAPIClient+".key", 0o600)
		if api.Subject.CommonName != "kube-apiserver" || !reflect.DeepEqual(api.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) ||
			api.KeyUsage != x509.KeyUsageDigitalSignature || !api.BasicConstraintsValid || api.IsCA {
			t.Errorf("%s: kube-apiserver etcd client %v EKU %v KU %b", n.Host, api.Subject, api.ExtKeyUsage, api.KeyUsage)
		}
		if d := api.NotAfter.Sub(now); d < 455*24*time.Hour || d >= 485*24*time.Hour {
			t.Errorf("%s: kube-apiserver etcd client valid for %v", n.Host, d)
		}
		if err := api.CheckSignatureFrom(clientsCA); err != nil {
			t.Errorf("%s: %v", n.Host, err)
		}
	}
}

func TestKopsOpenSSL(t *testing.T) {
	needOpenSSL(t)
	f := Kops(t, t.TempDir(), Options{})
	for i, root := range f.Dirs {
		n := f.Nodes[i]
		for _, c := range kopsClusters {
			peers, clients := kopsTestPaths(c, n.Host)
			if err := opensslVerifyIn(root, peers+"/ca.crt", "", peers+"/me.crt"); err != nil {
				t.Errorf("%s %s peer: %v", n.Host, c.name, err)
			}
			if err := opensslVerifyIn(root, clients+"/ca.crt", "", clients+"/server.crt"); err != nil {
				t.Errorf("%s %s server: %v", n.Host, c.name, err)
			}
			if opensslVerifyIn(root, clients+"/ca.crt", "", peers+"/me.crt") == nil {
				t.Errorf("%s %s: the peer cert verifies against the clients CA", n.Host, c.name)
			}
		}
		if err := opensslVerifyIn(root, kopsAPIClientCA, "", kopsAPIClient+".crt"); err != nil {
			t.Errorf("%s kube-apiserver: %v", n.Host, err)
		}
	}
}

func TestKopsFaults(t *testing.T) {
	// caOf reads the CA a node's files name for a cluster.
	caOf := func(t *testing.T, root string, c kopsEtcdCluster, file string) *x509.Certificate {
		return readCert(t, root, c.pkiDir()+"/"+file+".crt")
	}
	// signedBy reports whether every given leaf on the node verifies
	// against ca.
	check := func(t *testing.T, f *Fixture, i int, c kopsEtcdCluster, peersCA, clientsCA *x509.Certificate) {
		t.Helper()
		root, n := f.Dirs[i], f.Nodes[i]
		peers, clients := kopsTestPaths(c, n.Host)
		if err := readCert(t, root, peers+"/me.crt").CheckSignatureFrom(peersCA); err != nil {
			t.Errorf("%s %s peer: %v", n.Host, c.name, err)
		}
		if !readCert(t, root, peers+"/ca.crt").Equal(peersCA) {
			t.Errorf("%s %s peers/ca.crt", n.Host, c.name)
		}
		if err := readCert(t, root, clients+"/server.crt").CheckSignatureFrom(clientsCA); err != nil {
			t.Errorf("%s %s server: %v", n.Host, c.name, err)
		}
		if err := readCert(t, root, kopsAPIClient+".crt").CheckSignatureFrom(clientsCA); err != nil {
			t.Errorf("%s kube-apiserver client: %v", n.Host, err)
		}
	}
	main := kopsClusters[0]

	t.Run("OmitIP", func(t *testing.T) {
		f := Kops(t, t.TempDir(), Options{OmitIP: "node3"})
		for i, root := range f.Dirs {
			n := f.Nodes[i]
			for _, c := range kopsClusters {
				peers, _ := kopsTestPaths(c, n.Host)
				got := ipStrings(readCert(t, root, peers+"/me.crt").IPAddresses)
				want := []string{n.IP, "127.0.0.1", "::1"}
				if n.Host == "node3" {
					want = want[1:]
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s peer IPs %q", n.Host, c.name, got)
				}
			}
		}
	})

	t.Run("OwnPeerCA", func(t *testing.T) {
		f := Kops(t, t.TempDir(), Options{OwnPeerCA: "node2"})
		for _, c := range kopsClusters {
			peers0, clients0 := caOf(t, f.Dirs[0], c, "etcd-peers-ca"), caOf(t, f.Dirs[0], c, "etcd-clients-ca")
			own := caOf(t, f.Dirs[1], c, "etcd-peers-ca")
			if own.Equal(peers0) || !caOf(t, f.Dirs[1], c, "etcd-clients-ca").Equal(clients0) ||
				!caOf(t, f.Dirs[1], c, "etcd-manager-ca").Equal(caOf(t, f.Dirs[0], c, "etcd-manager-ca")) {
				t.Fatalf("%s: want node2 on its own peers CA and the cluster's others", c.name)
			}
			check(t, f, 0, c, peers0, clients0)
			check(t, f, 1, c, own, clients0)
			check(t, f, 2, c, peers0, clients0)
		}
	})

	t.Run("OwnClientCA", func(t *testing.T) {
		f := Kops(t, t.TempDir(), Options{OwnClientCA: "node1"})
		clients1 := caOf(t, f.Dirs[1], main, "etcd-clients-ca")
		own := caOf(t, f.Dirs[0], main, "etcd-clients-ca")
		if own.Equal(clients1) || !caOf(t, f.Dirs[0], kopsClusters[1], "etcd-clients-ca").Equal(own) {
			t.Fatal("want node1 on its own clients CA for main and events")
		}
		if !readCert(t, f.Dirs[0], kopsAPIClientCA).Equal(own) {
			t.Error("node1's kube-apiserver etcd-ca.crt is not its own clients CA")
		}
		for _, c := range kopsClusters {
			peers := caOf(t, f.Dirs[1], c, "etcd-peers-ca")
			if !caOf(t, f.Dirs[0], c, "etcd-peers-ca").Equal(peers) {
				t.Errorf("%s: node1 lost the cluster's peers CA", c.name)
			}
			check(t, f, 0, c, peers, own)
			check(t, f, 1, c, peers, clients1)
			check(t, f, 2, c, peers, clients1)
		}
	})

	t.Run("ForeignCA", func(t *testing.T) {
		f := Kops(t, t.TempDir(), Options{ForeignCA: "node2"})
		for _, c := range kopsClusters {
			for _, file := range []string{"etcd-manager-ca", "etcd-peers-ca", "etcd-clients-ca"} {
				if caOf(t, f.Dirs[1], c, file).Equal(caOf(t, f.Dirs[0], c, file)) ||
					!caOf(t, f.Dirs[2], c, file).Equal(caOf(t, f.Dirs[0], c, file)) {
					t.Errorf("%s %s: want node2 alone on its own", c.name, file)
				}
			}
			check(t, f, 1, c, caOf(t, f.Dirs[1], c, "etcd-peers-ca"), caOf(t, f.Dirs[1], c, "etcd-clients-ca"))
			check(t, f, 0, c, caOf(t, f.Dirs[0], c, "etcd-peers-ca"), caOf(t, f.Dirs[0], c, "etcd-clients-ca"))
		}
	})

	if msg := fatalMessage(t, Kops, Options{OwnPeerCA: "nodeX"}); msg == "" {
		t.Error("an unknown OwnPeerCA host was accepted")
	}
}
