package layout_test

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// Where each kind lives in a member's tree, written out here rather than
// taken from the package so that a wrong path in the package fails.
var (
	kubeadmPaths = map[pki.Kind]string{
		pki.KindCA:                "etc/kubernetes/pki/etcd/ca",
		pki.KindServer:            "etc/kubernetes/pki/etcd/server",
		pki.KindPeer:              "etc/kubernetes/pki/etcd/peer",
		pki.KindHealthcheckClient: "etc/kubernetes/pki/etcd/healthcheck-client",
		pki.KindAPIServerClient:   "etc/kubernetes/pki/apiserver-etcd-client",
		pki.KindServerClient:      "etc/kubernetes/pki/etcd/server-client",
		pki.KindPeerClient:        "etc/kubernetes/pki/etcd/peer-client",
	}
	etcdPaths = map[pki.Kind]string{
		pki.KindCA:                "etc/etcd/pki/ca",
		pki.KindServer:            "etc/etcd/pki/server",
		pki.KindPeer:              "etc/etcd/pki/peer",
		pki.KindHealthcheckClient: "etc/etcd/pki/etcdctl-etcd-client",
		pki.KindAPIServerClient:   "etc/etcd/pki/apiserver-etcd-client",
		pki.KindServerClient:      "etc/etcd/pki/server-client",
		pki.KindPeerClient:        "etc/etcd/pki/peer-client",
	}
)

func TestInit(t *testing.T) {
	tests := []struct {
		name       string
		layout     string
		paths      map[pki.Kind]string
		split      bool
		externalCA bool
	}{
		{"kubeadm", spec.LayoutKubeadm, kubeadmPaths, false, false},
		{"kubeadm split", spec.LayoutKubeadm, kubeadmPaths, true, false},
		{"kubeadm external CA", spec.LayoutKubeadm, kubeadmPaths, false, true},
		{"etcd", spec.LayoutEtcd, etcdPaths, false, false},
		{"etcd split external CA", spec.LayoutEtcd, etcdPaths, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 3, func(c *spec.Cluster) {
				c.Layout, c.SplitCredentials, c.ExternalCA = tt.layout, tt.split, tt.externalCA
			})
			out := filepath.Join(t.TempDir(), "out") // Init creates it
			res := runInit(t, c, out, false)

			// Exactly these files: nothing missing, no stray temp files.
			tree := checkTree(t, c, out, tt.paths)
			want := wantFiles(c, tt.paths)
			written := slices.Sorted(slices.Values(slashes(res.Written)))
			if !slices.Equal(written, want) || len(res.Kept) != 0 || !res.CACreated || res.Out != out {
				t.Errorf("result: written %q kept %q CACreated %v Out %q", written, res.Kept, res.CACreated, res.Out)
			}
			checkPerms(t, tree)
			ca := readCert(t, out, "ca/ca.crt")
			if !res.CA.Cert.Equal(ca) || !pki.KeyMatches(ca.PublicKey, res.CA.Key) {
				t.Error("InitResult.CA is not the CA in ca/")
			}

			saved, err := spec.Load(layout.SpecFile(out))
			if err != nil {
				t.Fatalf("cluster.yaml: %v", err)
			}
			if a, b := mustMarshal(t, saved), mustMarshal(t, c); a != b {
				t.Errorf("cluster.yaml holds\n%s\nwant\n%s", a, b)
			}
		})
	}
}

// wantFiles lists, sorted, the files init writes for c, its layout's
// paths given: nothing more (no temporary files), nothing less.
func wantFiles(c *spec.Cluster, paths map[pki.Kind]string) []string {
	want := []string{"ca/ca.crt", "ca/ca.key", "cluster.yaml"}
	kinds := append([]pki.Kind{pki.KindCA}, pki.LeafKinds(c.SplitCredentials)...)
	for _, m := range c.Members {
		for _, k := range kinds {
			want = append(want, path.Join(m.Name, paths[k]+".crt"))
			if k != pki.KindCA || !c.ExternalCA {
				want = append(want, path.Join(m.Name, paths[k]+".key"))
			}
		}
	}
	slices.Sort(want)
	return want
}

// checkTree checks that out is the complete tree of c: exactly the files of
// wantFiles, the CA's certificate and key matching, every member's copy of
// them identical, every leaf matching its key and its profile. It returns
// the tree's snapshot.
func checkTree(t *testing.T, c *spec.Cluster, out string, paths map[pki.Kind]string) map[string]entry {
	t.Helper()
	tree := snapshot(t, out)
	if got, want := files(tree), wantFiles(c, paths); !slices.Equal(got, want) {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	caKP, err := layout.ReadKeyPair(filepath.Join(out, "ca", "ca.crt"), filepath.Join(out, "ca", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey := readFile(t, out, "ca/ca.crt"), readFile(t, out, "ca/ca.key")
	roots := x509.NewCertPool()
	roots.AddCert(caKP.Cert)
	for i := range c.Members {
		m := &c.Members[i]
		if got := readFile(t, out, path.Join(m.Name, paths[pki.KindCA]+".crt")); got != caCert {
			t.Errorf("%s: ca.crt differs from ca/ca.crt", m.Name)
		}
		if !c.ExternalCA {
			if got := readFile(t, out, path.Join(m.Name, paths[pki.KindCA]+".key")); got != caKey {
				t.Errorf("%s: ca.key differs from ca/ca.key", m.Name)
			}
		}
		for _, k := range pki.LeafKinds(c.SplitCredentials) {
			base := filepath.Join(out, m.Name, filepath.FromSlash(paths[k]))
			kp, err := layout.ReadKeyPair(base+".crt", base+".key")
			if err != nil {
				t.Errorf("%s %s: %v", m.Name, k, err)
				continue
			}
			checkLeaf(t, c, m, k, kp.Cert, roots)
		}
	}
	return tree
}

// checkLeaf checks one issued leaf of member m against its profile.
func checkLeaf(t *testing.T, c *spec.Cluster, m *spec.Member, k pki.Kind, cert *x509.Certificate, roots *x509.CertPool) {
	t.Helper()
	what := m.Name + " " + string(k)
	var (
		cn       = m.Name
		sans     = true
		usages   = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		notUsage = x509.ExtKeyUsage(-1)
	)
	switch k {
	case pki.KindServer, pki.KindPeer:
		if c.SplitCredentials {
			usages, notUsage = usages[:1], x509.ExtKeyUsageClientAuth
		}
	case pki.KindServerClient, pki.KindPeerClient:
		usages, notUsage = usages[1:], x509.ExtKeyUsageServerAuth
	case pki.KindHealthcheckClient:
		cn, sans, usages, notUsage = "kube-etcd-healthcheck-client", false, usages[1:], x509.ExtKeyUsageServerAuth
	case pki.KindAPIServerClient:
		cn, sans, usages, notUsage = "kube-apiserver-etcd-client", false, usages[1:], x509.ExtKeyUsageServerAuth
	}
	if cert.Subject.CommonName != cn {
		t.Errorf("%s: CN %q, want %q", what, cert.Subject.CommonName, cn)
	}
	var wantDNS []string
	var wantIPs []net.IP
	if sans {
		wantDNS, wantIPs = c.SANs(m)
	}
	if !slices.Equal(cert.DNSNames, wantDNS) || !slices.EqualFunc(cert.IPAddresses, wantIPs, net.IP.Equal) {
		t.Errorf("%s: SANs %q %v, want %q %v", what, cert.DNSNames, cert.IPAddresses, wantDNS, wantIPs)
	}
	for _, u := range usages {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			t.Errorf("%s: does not verify for %v: %v", what, u, err)
		}
	}
	if notUsage >= 0 {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{notUsage}}); err == nil {
			t.Errorf("%s: verifies for %v, which it must not have", what, notUsage)
		}
	}
	if sans {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, DNSName: m.AdvertiseHost(), KeyUsages: usages[:1]}); err != nil {
			t.Errorf("%s: does not verify for its own address: %v", what, err)
		}
	}
	if !cert.NotBefore.Equal(testNow.Add(-5*time.Minute)) || !cert.NotAfter.Equal(testNow.Add(time.Duration(c.CertValidity))) {
		t.Errorf("%s: valid %v to %v", what, cert.NotBefore, cert.NotAfter)
	}
}

// checkPerms checks the modes init gives keys, certificates and directories.
func checkPerms(t *testing.T, tree map[string]entry) {
	t.Helper()
	for p, e := range tree {
		want := layout.CertPerm
		switch {
		case e.mode.IsDir():
			if p == "." {
				continue // made by the test
			}
			want = fs.ModeDir | layout.DirPerm
			// A member tree's root and the directories above its PKI
			// directory are the node's: 0755 (layout.NodeDirPerm).
			member, rest, _ := strings.Cut(p, "/")
			if member != "ca" && member != "ca-next" && member != "backups" && (rest == "" || rest == "etc" || rest == "etc/kubernetes" || rest == "etc/etcd") {
				want = fs.ModeDir | layout.NodeDirPerm
			}
		case strings.HasSuffix(p, ".key"):
			want = layout.KeyPerm
		}
		if e.mode != want {
			t.Errorf("%s: mode %v, want %v", p, e.mode, want)
		}
	}
	if layout.KeyPerm != 0o600 || layout.CertPerm != 0o644 || layout.DirPerm != 0o700 {
		t.Errorf("permissions %v %v %v, want 0600 keys, 0644 certs, 0700 dirs", layout.KeyPerm, layout.CertPerm, layout.DirPerm)
	}
}

func slashes(paths []string) []string {
	var s []string
	for _, p := range paths {
		s = append(s, filepath.ToSlash(p))
	}
	return s
}

func mustMarshal(t *testing.T, c *spec.Cluster) string {
	t.Helper()
	b, err := spec.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Re-running init changes nothing and reuses the CA.
func TestInitRerun(t *testing.T) {
	out := t.TempDir()
	c := newCluster(t, 3, nil)
	first := runInit(t, c, out, false)
	before := snapshot(t, out)

	res := runInit(t, c, out, false)
	if res.CACreated || pki.Fingerprint(res.CA.Cert) != pki.Fingerprint(first.CA.Cert) {
		t.Errorf("CA not reused: created %v, fingerprint %s, was %s", res.CACreated, pki.Fingerprint(res.CA.Cert), pki.Fingerprint(first.CA.Cert))
	}
	if d := diff(before, snapshot(t, out)); len(d) > 0 {
		t.Errorf("a re-run changed %q", d)
	}
	if w := slashes(res.Written); !slices.Equal(w, []string{"cluster.yaml"}) {
		t.Errorf("written %q, want only cluster.yaml", w)
	}
	if kept := slashes(res.Kept); len(kept) != len(files(before))-3 || !slices.IsSorted(kept) {
		t.Errorf("kept %d files (sorted %v), want every member file", len(kept), slices.IsSorted(kept))
	}
}

// Adding a member to the spec writes that member's files only.
func TestInitAddMember(t *testing.T) {
	out := t.TempDir()
	first := runInit(t, newCluster(t, 3, nil), out, false)
	before := snapshot(t, out)

	c := newCluster(t, 4, nil)
	res := runInit(t, c, out, false)
	after := snapshot(t, out)
	for p, e := range before {
		if p != "cluster.yaml" && after[p] != e {
			t.Errorf("%s changed", p)
		}
	}
	for _, w := range slashes(res.Written) {
		if !strings.HasPrefix(w, "cp4/") && w != "cluster.yaml" {
			t.Errorf("wrote %s, want only cp4's files", w)
		}
	}
	if !hasPrefix(slashes(res.Written), "cp4/etc/kubernetes/pki/etcd/server.crt") {
		t.Errorf("cp4's server.crt not written: %q", res.Written)
	}
	if res.CACreated || !res.CA.Cert.Equal(first.CA.Cert) {
		t.Error("the CA was not reused")
	}
	roots := x509.NewCertPool()
	roots.AddCert(first.CA.Cert)
	m, _ := c.Member("cp4")
	for _, k := range pki.LeafKinds(false) {
		checkLeaf(t, c, m, k, readCert(t, out, "cp4/"+kubeadmPaths[k]+".crt"), roots)
	}
	if readFile(t, out, "cp4/"+kubeadmPaths[pki.KindCA]+".key") != readFile(t, out, "ca/ca.key") {
		t.Error("cp4's ca.key is not the cluster's")
	}
}

// --force re-issues every leaf, never the CA.
func TestInitForce(t *testing.T) {
	out := t.TempDir()
	c := newCluster(t, 3, nil)
	first := runInit(t, c, out, false)
	before := snapshot(t, out)

	res := runInit(t, c, out, true)
	after := snapshot(t, out)
	if res.CACreated || pki.Fingerprint(res.CA.Cert) != pki.Fingerprint(first.CA.Cert) {
		t.Error("--force replaced the CA")
	}
	roots := x509.NewCertPool()
	roots.AddCert(first.CA.Cert)
	for p, e := range before {
		isCA := path.Base(p) == "ca.crt" || path.Base(p) == "ca.key"
		switch {
		case isCA && after[p] != e:
			t.Errorf("%s changed", p)
		case !isCA && e.mode.IsRegular() && p != "cluster.yaml" && after[p].data == e.data:
			t.Errorf("%s not re-issued", p)
		}
	}
	for i := range c.Members {
		m := &c.Members[i]
		for _, k := range pki.LeafKinds(false) {
			base := filepath.Join(out, m.Name, filepath.FromSlash(kubeadmPaths[k]))
			kp, err := layout.ReadKeyPair(base+".crt", base+".key")
			if err != nil {
				t.Fatal(err)
			}
			checkLeaf(t, c, m, k, kp.Cert, roots)
		}
	}
}

// With --force a stale CA certificate in a member's tree is replaced by
// the cluster's; a different CA key never is (TestInitRefuses).
func TestInitForceReplacesMemberCACert(t *testing.T) {
	out := t.TempDir()
	c := newCluster(t, 2, nil)
	runInit(t, c, out, false)
	caCrt := "cp2/" + kubeadmPaths[pki.KindCA] + ".crt"
	writeFile(t, out, caCrt, string(pki.EncodeCert(otherCA(t).Cert)))

	res := runInit(t, c, out, true)
	if readFile(t, out, caCrt) != readFile(t, out, "ca/ca.crt") {
		t.Error("the member's stale ca.crt was not replaced")
	}
	if !slices.Contains(slashes(res.Written), caCrt) {
		t.Errorf("written %q lacks %s", res.Written, caCrt)
	}
}

// A half-present pair is re-issued with --force.
func TestInitForceCompletesPair(t *testing.T) {
	out := t.TempDir()
	c := newCluster(t, 1, nil)
	runInit(t, c, out, false)
	remove(t, out, "cp1/etc/kubernetes/pki/etcd/server.key")
	runInit(t, c, out, true)
	base := filepath.Join(out, "cp1/etc/kubernetes/pki/etcd/server")
	if _, err := layout.ReadKeyPair(base+".crt", base+".key"); err != nil {
		t.Error(err)
	}
}

// Init refuses what it must not touch, before writing anything: each case
// breaks a tree made by a first run, then re-runs with one more member (so
// that there is something to write) and checks that the tree is unchanged.
func TestInitRefuses(t *testing.T) {
	memberCAKey := "cp2/" + kubeadmPaths[pki.KindCA] + ".key"
	memberCACrt := "cp2/" + kubeadmPaths[pki.KindCA] + ".crt"
	tests := []struct {
		name     string
		force    bool
		breakIt  func(t *testing.T, out string)
		wantPath string // the file the error names
		conflict bool   // a *ConflictError, else a *FileError
	}{
		{"member CA key differs", false, func(t *testing.T, out string) {
			writeFile(t, out, memberCAKey, encodeKey(t, otherCA(t)))
		}, memberCAKey, true},
		{"member CA key differs, force", true, func(t *testing.T, out string) {
			writeFile(t, out, memberCAKey, encodeKey(t, otherCA(t)))
		}, memberCAKey, true},
		{"member CA cert differs", false, func(t *testing.T, out string) {
			writeFile(t, out, memberCACrt, string(pki.EncodeCert(otherCA(t).Cert)))
		}, memberCACrt, true},
		{"CA cert without key", false, func(t *testing.T, out string) {
			remove(t, out, "ca/ca.key")
		}, "ca/ca.key", true},
		{"CA key without cert", true, func(t *testing.T, out string) {
			remove(t, out, "ca/ca.crt")
		}, "ca/ca.crt", true},
		{"member CA but no ca dir", false, func(t *testing.T, out string) {
			remove(t, out, "ca")
		}, "cp1/" + kubeadmPaths[pki.KindCA] + ".crt", true},
		{"cert without key", false, func(t *testing.T, out string) {
			remove(t, out, "cp3/etc/kubernetes/pki/etcd/server.key")
		}, "cp3/etc/kubernetes/pki/etcd/server.key", true},
		{"key without cert", false, func(t *testing.T, out string) {
			remove(t, out, "cp1/etc/kubernetes/pki/apiserver-etcd-client.crt")
		}, "cp1/etc/kubernetes/pki/apiserver-etcd-client.crt", true},
		{"CA key of another CA", true, func(t *testing.T, out string) {
			writeFile(t, out, "ca/ca.key", encodeKey(t, otherCA(t)))
		}, "ca/ca.key", false},
		{"corrupt CA key", false, func(t *testing.T, out string) {
			writeFile(t, out, "ca/ca.key", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n")
		}, "ca/ca.key", false},
		{"CA cert is not a CA", false, func(t *testing.T, out string) {
			leaf := "cp1/etc/kubernetes/pki/etcd/server"
			writeFile(t, out, "ca/ca.crt", readFile(t, out, leaf+".crt"))
			writeFile(t, out, "ca/ca.key", readFile(t, out, leaf+".key"))
		}, "ca/ca.crt", true},
		{"CA cert is a directory", false, func(t *testing.T, out string) {
			remove(t, out, "ca/ca.crt")
			if err := os.Mkdir(filepath.Join(out, "ca", "ca.crt"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "ca/ca.crt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			runInit(t, newCluster(t, 3, nil), out, false)
			tt.breakIt(t, out)
			before := snapshot(t, out)

			_, err := layout.Init(newCluster(t, 4, nil), out, layout.InitOptions{Force: tt.force, Now: testNow})
			if err == nil {
				t.Fatal("Init succeeded")
			}
			wantPath := filepath.Join(out, filepath.FromSlash(tt.wantPath))
			var ce *layout.ConflictError
			var fe *layout.FileError
			switch {
			case tt.conflict && !errors.As(err, &ce):
				t.Errorf("error %v (%T), want a *ConflictError", err, err)
			case tt.conflict && ce.Path != wantPath:
				t.Errorf("conflict on %s, want %s", ce.Path, wantPath)
			case !tt.conflict && !errors.As(err, &fe):
				t.Errorf("error %v (%T), want a *FileError", err, err)
			case !tt.conflict && fe.Path != wantPath:
				t.Errorf("error on %s, want %s", fe.Path, wantPath)
			}
			if !strings.Contains(err.Error(), wantPath) {
				t.Errorf("error %q does not name %s", err, wantPath)
			}
			if d := diff(before, snapshot(t, out)); len(d) > 0 {
				t.Errorf("a refused run changed the tree: %q", d)
			}
		})
	}
}

// Init validates its spec: a library caller may build one by hand.
func TestInitInvalidSpec(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	c := newCluster(t, 2, nil)
	c.Members[1].Name = c.Members[0].Name
	_, err := layout.Init(c, out, layout.InitOptions{})
	var ve *spec.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a *spec.ValidationError", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("out exists after a refused run: %v", err)
	}
}

// TestInitNodeDirModes: a member tree's directories above the PKI
// directory are 0755, as on the node, so copying the tree with its modes
// (rsync -a) leaves the node's /, /etc and /etc/kubernetes as they are;
// the PKI directory is 0700, as kubeadm makes it.
func TestInitNodeDirModes(t *testing.T) {
	c, err := spec.FromFlags(spec.Cluster{Algorithm: pki.ECDSAP256}, []string{"cp1=10.0.0.11"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pki")
	if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	root := layout.MemberDir(out, "cp1")
	for dir, want := range map[string]os.FileMode{
		root: 0o755, filepath.Join(root, "etc"): 0o755, filepath.Join(root, "etc/kubernetes"): 0o755,
		filepath.Join(root, "etc/kubernetes/pki"): 0o700,
	} {
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", dir, st.Mode().Perm(), want)
		}
	}
}

// TestInitAlgorithmForLayout: kubeadm loads only RSA and ECDSA keys, so
// Init refuses Ed25519 for kubeadm's layout, before writing any key,
// unless AnyAlgorithm; the etcd layout takes every algorithm, and a
// kubeadm tree whose CA already is Ed25519 (a forced init) takes more
// members of it.
func TestInitAlgorithmForLayout(t *testing.T) {
	for _, alg := range pki.Algorithms() {
		for _, name := range []string{spec.LayoutKubeadm, spec.LayoutEtcd} {
			l, err := layout.ForName(name)
			if err != nil {
				t.Fatal(err)
			}
			err = l.CheckAlgorithm(alg)
			if refused := alg == pki.Ed25519 && name == spec.LayoutKubeadm; refused != (err != nil) {
				t.Errorf("%s layout, %s: CheckAlgorithm = %v, want refused=%v", name, alg, err, refused)
			}
		}
	}

	dir := t.TempDir()
	ed := func(c *spec.Cluster) { c.Algorithm = pki.Ed25519 }
	out := filepath.Join(dir, "kubeadm")
	_, err := layout.Init(newCluster(t, 1, ed), out, layout.InitOptions{Now: testNow})
	var ae *layout.AlgorithmError
	if !errors.As(err, &ae) || ae.Algorithm != pki.Ed25519 || ae.Layout != spec.LayoutKubeadm {
		t.Fatalf("Init(kubeadm, ed25519) = %v, want an *AlgorithmError", err)
	}
	if !strings.Contains(err.Error(), "neither in RSA nor ECDSA format") || !strings.Contains(ae.Hint(), "--force") {
		t.Errorf("error %q (hint %q) does not say why or how to go on", err, ae.Hint())
	}
	if _, err := os.Stat(layout.CADir(out)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused run wrote the CA: %v", err)
	}

	res, err := layout.Init(newCluster(t, 1, ed), out, layout.InitOptions{Now: testNow, AnyAlgorithm: true})
	if err != nil {
		t.Fatalf("Init with AnyAlgorithm: %v", err)
	}
	if got := pki.KeyDescription(res.CA.Cert.PublicKey); got != "Ed25519" {
		t.Errorf("CA key %s, want Ed25519", got)
	}
	// The choice was made with the CA: a second member joins without it.
	if _, err := layout.Init(newCluster(t, 2, ed), out, layout.InitOptions{Now: testNow}); err != nil {
		t.Errorf("adding a member to an Ed25519 kubeadm tree: %v", err)
	}

	etcdCluster := newCluster(t, 1, func(c *spec.Cluster) { ed(c); c.Layout = spec.LayoutEtcd })
	if _, err := layout.Init(etcdCluster, filepath.Join(dir, "etcd"), layout.InitOptions{Now: testNow}); err != nil {
		t.Errorf("Init(etcd, ed25519): %v", err)
	}
}
