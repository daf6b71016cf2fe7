package interop

// kubeadm as an oracle (issue 14 item 5): kubeadm v1.34.4's own code judges
// what etcdpki writes. The certificate checks call kubeadm's packages
// (k8s.io/kubernetes/cmd/kubeadm/app/...) on init's output; the expiration
// check also runs the kubeadm binary. Member addresses (10.0.0.x) are only
// strings in certificates and configs: nothing is dialed.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmapiv1 "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	outputapiv1alpha3 "k8s.io/kubernetes/cmd/kubeadm/app/apis/output/v1alpha3"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
	certsphase "k8s.io/kubernetes/cmd/kubeadm/app/phases/certs"
	"k8s.io/kubernetes/cmd/kubeadm/app/phases/certs/renewal"
	etcdphase "k8s.io/kubernetes/cmd/kubeadm/app/phases/etcd"
	configutil "k8s.io/kubernetes/cmd/kubeadm/app/util/config"
	"sigs.k8s.io/yaml"
)

// kubeadmMember is a control-plane node: its node name (the etcd member's
// name) and advertise address.
type kubeadmMember struct{ name, ip string }

// kubeadmMembers are the members every test here gives etcdpki init.
var kubeadmMembers = []kubeadmMember{{"cp1", "10.0.0.11"}, {"cp2", "10.0.0.12"}, {"cp3", "10.0.0.13"}}

// kubeadmAlgos are the algorithms etcdpki offers for the kubeadm layout,
// with kubeadm's name for each (ClusterConfiguration.encryptionAlgorithm,
// EncryptionAlgorithmType in
// cmd/kubeadm/app/apis/kubeadm/types.go@v1.34.4).
var kubeadmAlgos = []struct {
	etcdpki string
	kubeadm kubeadmapi.EncryptionAlgorithmType
}{
	{"rsa-2048", kubeadmapi.EncryptionAlgorithmRSA2048},
	{"rsa-3072", kubeadmapi.EncryptionAlgorithmRSA3072},
	{"rsa-4096", kubeadmapi.EncryptionAlgorithmRSA4096},
	{"ecdsa-p256", kubeadmapi.EncryptionAlgorithmECDSAP256},
	{"ecdsa-p384", kubeadmapi.EncryptionAlgorithmECDSAP384},
}

// kubeadmEtcdFiles are the files of kubeadm's stacked etcd, relative to
// certificatesDir (the EtcdCACertAndKeyBaseName … APIServerEtcdClient…
// constants in cmd/kubeadm/app/constants/constants.go@v1.34.4).
var kubeadmEtcdFiles = []string{
	"etcd/ca.crt", "etcd/ca.key",
	"etcd/server.crt", "etcd/server.key",
	"etcd/peer.crt", "etcd/peer.key",
	"etcd/healthcheck-client.crt", "etcd/healthcheck-client.key",
	"apiserver-etcd-client.crt", "apiserver-etcd-client.key",
}

// kubeadmEtcdCerts are the names kubeadm's renewal manager knows the etcd
// leaves by (the Name of KubeadmCertEtcdServer, KubeadmCertEtcdPeer,
// KubeadmCertEtcdHealthcheck and KubeadmCertEtcdAPIClient in
// cmd/kubeadm/app/phases/certs/certlist.go@v1.34.4).
var kubeadmEtcdCerts = []string{"etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client"}

// skipShortKubeadm skips a test that only calls kubeadm's Go packages under
// -short, as binary does for the tests that run programs.
func skipShortKubeadm(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the interop tests run kubeadm's code on etcdpki's output")
	}
}

// initKubeadmPKI runs etcdpki init for kubeadmMembers in the kubeadm layout
// with algorithm algo and extra init flags, in a directory of t's. The
// result has no ports: nothing runs it.
func initKubeadmPKI(t testing.TB, algo string, extra ...string) *testPKI {
	t.Helper()
	p := &testPKI{dir: filepath.Join(t.TempDir(), "pki")}
	args := []string{"init", "--out", p.dir, "--layout", "kubeadm", "--algo", algo}
	for _, m := range kubeadmMembers {
		p.names = append(p.names, m.name)
		args = append(args, "--member", m.name+"="+m.ip)
	}
	binary(t, "etcdpki") // built once, before the clock starts
	start := time.Now()
	run(t, append(args, extra...)...)
	t.Logf("etcdpki init --algo %s %s: %s", algo, strings.Join(extra, " "), time.Since(start).Round(time.Millisecond))
	return p
}

// kubeadmCertDir is member name's /etc/kubernetes/pki in p, kubeadm's
// certificatesDir.
func kubeadmCertDir(p *testPKI, name string) string { return p.file(name, "/etc/kubernetes/pki") }

// kubeadmNode says what writeKubeadmConfig puts in a kubeadm config.
type kubeadmNode struct {
	member kubeadmMember
	// certDir is ClusterConfiguration.certificatesDir; "" leaves kubeadm's
	// default, /etc/kubernetes/pki.
	certDir string
	// algo is ClusterConfiguration.encryptionAlgorithm; "" leaves kubeadm's
	// default, RSA-2048.
	algo kubeadmapi.EncryptionAlgorithmType
}

// writeKubeadmConfig writes the kubeadm.k8s.io/v1beta4 InitConfiguration and
// ClusterConfiguration an operator would give `kubeadm init --config` (or
// `kubeadm certs check-expiration --config`) on node n, and returns its path.
// kubernetesVersion is explicit so that kubeadm does not look up "stable" on
// the Internet, and criSocket so that it does not look for a container
// runtime; everything else is kubeadm's default.
func writeKubeadmConfig(t testing.TB, n kubeadmNode) string {
	t.Helper()
	cfg := fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: %s
nodeRegistration:
  name: %s
  criSocket: unix:///var/run/containerd/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.34.4
`, n.member.ip, n.member.name)
	if n.certDir != "" {
		cfg += fmt.Sprintf("certificatesDir: %s\n", n.certDir)
	}
	if n.algo != "" {
		cfg += fmt.Sprintf("encryptionAlgorithm: %s\n", n.algo)
	}
	path := filepath.Join(t.TempDir(), "kubeadm.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadKubeadmConfig loads a kubeadm config file the way `kubeadm init
// --config` does: LoadOrDefaultInitConfiguration
// (cmd/kubeadm/app/util/config/initconfiguration.go@v1.34.4, called from
// newInitData in cmd/kubeadm/app/cmd/init.go@v1.34.4), which applies the
// static defaults, SetInitDynamicDefaults and ValidateInitConfiguration.
func loadKubeadmConfig(t testing.TB, path string) *kubeadmapi.InitConfiguration {
	t.Helper()
	cfg, err := configutil.LoadOrDefaultInitConfiguration(path, &kubeadmapiv1.InitConfiguration{}, &kubeadmapiv1.ClusterConfiguration{},
		configutil.LoadOrDefaultConfigurationOptions{SkipCRIDetect: true})
	if err != nil {
		t.Fatalf("kubeadm rejects its config %s: %v", path, err)
	}
	return cfg
}

// copyTree copies the regular files and directories under src to dst,
// keeping their modes, so a test can hand kubeadm a tree it may write to.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// hashFiles returns the SHA-256 of each of files (relative to dir) that
// exists.
func hashFiles(t testing.TB, dir string, files []string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		sums[f] = hex.EncodeToString(h[:])
	}
	return sums
}

// kubeadmJoinCerts runs the certs phase of `kubeadm join --control-plane`
// (runControlPlanePrepareCertsPhaseLocal in
// cmd/kubeadm/app/cmd/phases/join/controlplaneprepare.go@v1.34.4, which is
// certsphase.CreatePKIAssets) for member m on a copy of its tree in p, after
// fault (if not nil) has changed the copy's certificatesDir. CreatePKIAssets
// (cmd/kubeadm/app/phases/certs/certs.go@v1.34.4) takes an existing etcd CA
// and validates every existing etcd leaf with writeCertificateFilesIfNotExist:
// its key loads as RSA or ECDSA (TryLoadKeyFromDisk), it chains to the CA,
// and it is valid for every SAN kubeadm would put in it
// (validateCertificateWithConfig, the SANs of GetEtcdAltNames and
// GetEtcdPeerAltNames for KubeadmCertEtcdServer and KubeadmCertEtcdPeer).
// It generates only what is missing: the Kubernetes CA, front-proxy CA,
// their leaves and the service-account key, which a real join would have
// copied from the first control-plane node. It returns
// the copy's certificatesDir, the etcd files' hashes before the phase and
// CreatePKIAssets' error.
func kubeadmJoinCerts(t testing.TB, p *testPKI, m kubeadmMember, algo kubeadmapi.EncryptionAlgorithmType, fault func(certDir string)) (certDir string, before map[string]string, err error) {
	t.Helper()
	tree := filepath.Join(t.TempDir(), m.name)
	copyTree(t, p.tree(m.name), tree)
	certDir = filepath.Join(tree, "etc", "kubernetes", "pki")
	if fault != nil {
		fault(certDir)
	}
	cfg := loadKubeadmConfig(t, writeKubeadmConfig(t, kubeadmNode{member: m, certDir: certDir, algo: algo}))
	if cfg.Etcd.Local == nil || cfg.CertificatesDir != certDir || cfg.NodeRegistration.Name != m.name || cfg.LocalAPIEndpoint.AdvertiseAddress != m.ip {
		t.Fatalf("kubeadm's defaulted config is not the node's: etcd.local %v, certificatesDir %s, node %s, advertise %s",
			cfg.Etcd.Local, cfg.CertificatesDir, cfg.NodeRegistration.Name, cfg.LocalAPIEndpoint.AdvertiseAddress)
	}
	before = hashFiles(t, certDir, kubeadmEtcdFiles)
	return certDir, before, certsphase.CreatePKIAssets(cfg)
}

// TestKubeadmAcceptsInit proves that kubeadm v1.34.4 takes `etcdpki init`'s
// kubeadm layout as its own, for every algorithm etcdpki offers there and on
// every member: the certs phase of `kubeadm join --control-plane` validates
// and keeps every etcd file (kubeadmJoinCerts), and kubeadm's renewal
// manager, the code behind `kubeadm certs check-expiration`, finds every
// etcd certificate with a year to run and the CA with ten, not externally
// managed. With --external-ca (no etcd/ca.key on the nodes) both still
// accept the tree, and the renewal manager reports it as externally managed.
func TestKubeadmAcceptsInit(t *testing.T) {
	skipShortKubeadm(t)
	type variant struct {
		name    string
		algo    string
		kubeadm kubeadmapi.EncryptionAlgorithmType
		extra   []string
	}
	var variants []variant
	for _, a := range kubeadmAlgos {
		variants = append(variants, variant{a.etcdpki, a.etcdpki, a.kubeadm, nil})
	}
	variants = append(variants, variant{"ecdsa-p256-external-ca", "ecdsa-p256", kubeadmapi.EncryptionAlgorithmECDSAP256, []string{"--external-ca"}})
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			p := initKubeadmPKI(t, v.algo, v.extra...)
			externalCA := slices.Contains(v.extra, "--external-ca")
			for _, m := range kubeadmMembers {
				t.Run("join-"+m.name, func(t *testing.T) {
					certDir, before, err := kubeadmJoinCerts(t, p, m, v.kubeadm, nil)
					if err != nil {
						t.Fatalf("kubeadm join --control-plane's certs phase rejects %s's tree: %v", m.name, err)
					}
					want := kubeadmEtcdFiles
					if externalCA {
						want = slices.DeleteFunc(slices.Clone(want), func(f string) bool { return f == "etcd/ca.key" })
					}
					for _, f := range want {
						if before[f] == "" {
							t.Errorf("%s: init wrote no %s", m.name, f)
						}
					}
					after := hashFiles(t, certDir, kubeadmEtcdFiles)
					for _, f := range kubeadmEtcdFiles {
						if after[f] != before[f] {
							t.Errorf("%s: kubeadm replaced or wrote %s instead of using init's", m.name, f)
						}
					}
				})
				t.Run("expiration-"+m.name, func(t *testing.T) {
					checkKubeadmExpiration(t, p, m, externalCA)
				})
			}
			t.Logf("%s: init and kubeadm's checks of 3 members: %s", v.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// checkKubeadmExpiration asks kubeadm's renewal manager (NewManager,
// CertificateExists, GetCertificateExpirationInfo, CAExists,
// GetCAExpirationInfo in
// cmd/kubeadm/app/phases/certs/renewal/manager.go@v1.34.4, what
// fetchCertificateExpirationInfo in cmd/kubeadm/app/cmd/certs.go@v1.34.4
// prints) about member m's etcd certificates in p: each must exist, be
// unexpired with a residual time of init's one year, and the etcd CA ten
// years; all externally managed exactly when externalCA.
func checkKubeadmExpiration(t *testing.T, p *testPKI, m kubeadmMember, externalCA bool) {
	t.Helper()
	cfg := loadKubeadmConfig(t, writeKubeadmConfig(t, kubeadmNode{member: m, certDir: kubeadmCertDir(p, m.name)}))
	// The kubeconfig files (admin.conf, …) are looked for in the member's
	// own etc/kubernetes, where init writes none, not in this host's.
	rm, err := renewal.NewManager(&cfg.ClusterConfiguration, p.file(m.name, "/etc/kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	const year = 365 * 24 * time.Hour
	check := func(what string, info *renewal.ExpirationInfo, want time.Duration) {
		t.Helper()
		residual := info.ResidualTime()
		// Init ran moments ago: the residual time is want, less the time
		// since init (kubeadm's text table would print "364d").
		if residual > want || residual < want-time.Hour {
			t.Errorf("%s %s: kubeadm says it expires %s, residual %s; want %s", m.name, what, info.ExpirationDate, residual, want)
		}
		if info.ExternallyManaged != externalCA {
			t.Errorf("%s %s: kubeadm says externally managed %v, want %v", m.name, what, info.ExternallyManaged, externalCA)
		}
	}
	for _, name := range kubeadmEtcdCerts {
		ok, err := rm.CertificateExists(name)
		if err != nil || !ok {
			t.Errorf("%s: kubeadm finds no %s (%v)", m.name, name, err)
			continue
		}
		info, err := rm.GetCertificateExpirationInfo(name)
		if err != nil {
			t.Errorf("%s: kubeadm cannot read %s: %v", m.name, name, err)
			continue
		}
		check(name, info, year)
	}
	ok, err := rm.CAExists("etcd-ca")
	if err != nil || !ok {
		t.Fatalf("%s: kubeadm finds no etcd-ca (%v)", m.name, err)
	}
	info, err := rm.GetCAExpirationInfo("etcd-ca")
	if err != nil {
		t.Fatalf("%s: kubeadm cannot read etcd-ca: %v", m.name, err)
	}
	check("etcd-ca", info, 10*year)
}

// TestKubeadmRejectsFaults is the negative control of TestKubeadmAcceptsInit:
// the certs phase of `kubeadm join --control-plane` must refuse a member tree
// with one planted fault, with kubeadm's own error text, so that the
// acceptance above means something. The faults: a member's server or peer
// cert and key copied from another member (their SANs name cp2, not cp1), a
// server cert from another cluster's CA, a node whose advertise address is
// not the one init was given, and ed25519 keys (`init --algo ed25519
// --force`), which kubeadm cannot load.
func TestKubeadmRejectsFaults(t *testing.T) {
	skipShortKubeadm(t)
	p := initKubeadmPKI(t, "ecdsa-p256")
	other := initKubeadmPKI(t, "ecdsa-p256")
	ed := initKubeadmPKI(t, "ed25519", "--force")
	cp1, cp2 := kubeadmMembers[0], kubeadmMembers[1]
	// copyPair copies base's .crt and .key from from's certificatesDir into
	// certDir.
	copyPair := func(t *testing.T, from, certDir, base string) {
		for _, ext := range []string{".crt", ".key"} {
			b, err := os.ReadFile(filepath.Join(from, base+ext))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(certDir, base+ext), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		pki    *testPKI
		member kubeadmMember
		fault  func(t *testing.T, certDir string)
		// want is kubeadm's error, as a regular expression (the leaves are
		// validated in map order, so which ed25519 key fails first varies).
		want string
	}{{
		name:   "server-cert-from-cp2",
		pki:    p,
		member: cp1,
		fault:  func(t *testing.T, d string) { copyPair(t, kubeadmCertDir(p, cp2.name), d, "etcd/server") },
		want:   `failed to write or validate certificate "etcd-server": certificate etcd/server is invalid: x509: certificate is valid for cp2, localhost, not cp1`,
	}, {
		name:   "peer-cert-from-cp2",
		pki:    p,
		member: cp1,
		fault:  func(t *testing.T, d string) { copyPair(t, kubeadmCertDir(p, cp2.name), d, "etcd/peer") },
		want:   `failed to write or validate certificate "etcd-peer": certificate etcd/peer is invalid: x509: certificate is valid for cp2, localhost, not cp1`,
	}, {
		name:   "server-cert-from-another-ca",
		pki:    p,
		member: cp1,
		fault:  func(t *testing.T, d string) { copyPair(t, kubeadmCertDir(other, cp1.name), d, "etcd/server") },
		want:   `failed to write or validate certificate "etcd-server": certificate etcd/server is not signed by corresponding CA`,
	}, {
		name:   "advertise-address-not-in-certs",
		pki:    p,
		member: kubeadmMember{cp1.name, "10.0.0.99"},
		want:   `certificate etcd/(server|peer) is invalid: x509: certificate is valid for 10\.0\.0\.11, 127\.0\.0\.1, ::1, not 10\.0\.0\.99`,
	}, {
		name:   "ed25519",
		pki:    ed,
		member: cp1,
		want:   `the private key file \S+/pki/(etcd/server|etcd/peer|etcd/healthcheck-client|apiserver-etcd-client)\.key is neither in RSA nor ECDSA format`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fault func(string)
			if c.fault != nil {
				fault = func(d string) { c.fault(t, d) }
			}
			_, _, err := kubeadmJoinCerts(t, c.pki, c.member, kubeadmapi.EncryptionAlgorithmECDSAP256, fault)
			if err == nil {
				t.Fatalf("kubeadm join --control-plane's certs phase accepts %s's tree with fault %s", c.member.name, c.name)
			}
			t.Logf("kubeadm: %v", err)
			if !regexp.MustCompile(c.want).MatchString(err.Error()) {
				t.Errorf("kubeadm's error %q does not match %q", err, c.want)
			}
		})
	}
}

// TestKubeadmCheckExpirationCommand runs the kubeadm v1.34.4 binary's `certs
// check-expiration` (newCmdCertsExpiration in
// cmd/kubeadm/app/cmd/certs.go@v1.34.4) on a member tree of `etcdpki init`
// (kubeadm's default RSA-2048), with a --config whose certificatesDir is the
// tree's /etc/kubernetes/pki: it must list the four etcd certificates, none
// missing, with a year to run and signed by etcd-ca, and etcd-ca with ten
// years. The Kubernetes certificates and kubeconfig files, which init does
// not write, are reported missing, which kubeadm does not count as an error.
func TestKubeadmCheckExpirationCommand(t *testing.T) {
	kubeadm := binary(t, "kubeadm")
	// The kubeconfig files are read from this host's /etc/kubernetes
	// (kubeadmconstants.KubernetesDir, not a flag); on a kubeadm node their
	// certificates would make kubeadm look for the Kubernetes CA in the tree.
	for _, f := range []string{kubeadmconstants.AdminKubeConfigFileName, kubeadmconstants.SuperAdminKubeConfigFileName,
		kubeadmconstants.ControllerManagerKubeConfigFileName, kubeadmconstants.SchedulerKubeConfigFileName} {
		if _, err := os.Stat(filepath.Join(kubeadmconstants.KubernetesDir, f)); err == nil {
			t.Skipf("this host has %s: kubeadm certs check-expiration would read it", filepath.Join(kubeadmconstants.KubernetesDir, f))
		}
	}
	p := initKubeadmPKI(t, "rsa-2048")
	m := kubeadmMembers[0]
	cfgPath := writeKubeadmConfig(t, kubeadmNode{member: m, certDir: kubeadmCertDir(p, m.name)})
	// --kubeconfig names a file that does not exist: with --config kubeadm
	// does not ask a cluster for its configuration.
	base := []string{"certs", "check-expiration", "--config", cfgPath, "--kubeconfig", filepath.Join(t.TempDir(), "none.conf")}
	kubeadmRun := func(args ...string) string {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(kubeadm, append(base, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubeadm %s: %v\n%s%s", strings.Join(append(base, args...), " "), err, out, stderr.String())
		}
		t.Logf("kubeadm %s (%s):\n%s%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out, stderr.String())
		return string(out)
	}
	kubeadmRun()
	var info outputapiv1alpha3.CertificateExpirationInfo
	if err := json.Unmarshal([]byte(kubeadmRun("-o", "json")), &info); err != nil {
		t.Fatalf("kubeadm's -o json: %v", err)
	}
	const year = 365 * 24 * 3600
	find := func(list []outputapiv1alpha3.Certificate, name string) *outputapiv1alpha3.Certificate {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
		return nil
	}
	checkOne := func(c *outputapiv1alpha3.Certificate, name, caName string, want int64) {
		t.Helper()
		switch {
		case c == nil:
			t.Errorf("kubeadm lists no %s", name)
		case c.Missing:
			t.Errorf("kubeadm says %s is missing", name)
		case c.ResidualTimeSeconds > want || c.ResidualTimeSeconds < want-3600:
			t.Errorf("kubeadm says %s has %ds to run (expires %s); want %ds", name, c.ResidualTimeSeconds, c.ExpirationDate, want)
		case c.CAName != caName:
			t.Errorf("kubeadm says %s is signed by %q, want %q", name, c.CAName, caName)
		case c.ExternallyManaged:
			t.Errorf("kubeadm says %s is externally managed; init put etcd/ca.key on the node", name)
		}
	}
	for _, name := range kubeadmEtcdCerts {
		checkOne(find(info.Certificates, name), name, "etcd-ca", year)
	}
	checkOne(find(info.CertificateAuthorities, "etcd-ca"), "etcd-ca", "", 10*year)
}

// manifestDiff is one way the etcd static pod kubeadm writes differs from
// the one etcdpki prints.
type manifestDiff struct {
	// key names what differs: "flag --NAME", "annotation KEY", a container
	// or pod field.
	key              string
	kubeadm, etcdpki string
}

func (d manifestDiff) String() string {
	return fmt.Sprintf("%s: kubeadm %s, etcdpki %s", d.key, d.kubeadm, d.etcdpki)
}

// allowedManifestDiff is a difference TestKubeadmEtcdManifest accepts, with
// the values on both sides it expects and why.
type allowedManifestDiff struct {
	kubeadm, etcdpki string
	reason           string
	// untilKubernetesVersion marks a difference `etcdpki flags` has only
	// without --kubernetes-version 1.34 (an etcdpki that does not have the
	// flag yet): with the flag it must be gone.
	untilKubernetesVersion bool
}

// absent stands for a flag or field one manifest does not have.
const absent = "(absent)"

// allowedManifestDiffs are every difference between kubeadm v1.34.4's etcd
// static pod for the first control-plane node and etcdpki's for member cp1
// of a fresh 3-member cluster that TestKubeadmEtcdManifest accepts.
var allowedManifestDiffs = map[string]allowedManifestDiff{
	"flag --initial-cluster": {
		kubeadm: "cp1=https://10.0.0.11:2380",
		etcdpki: "cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380,cp3=https://10.0.0.13:2380",
		reason: "kubeadm init starts a one-member cluster and `kubeadm join --control-plane` adds members one at a time " +
			"(getEtcdCommand with an empty initialCluster, cmd/kubeadm/app/phases/etcd/local.go@v1.34.4); " +
			"etcdpki's members bootstrap together, so each lists all of them",
	},
	"flag --initial-cluster-state": {
		kubeadm: absent,
		etcdpki: "new",
		reason:  "etcd's default is new: etcdpki says it, as `flags --existing` says existing",
	},
	"flag --initial-cluster-token": {
		kubeadm: absent,
		etcdpki: "etcd-cluster",
		reason:  "etcd's default token is etcd-cluster; etcdpki writes init's --name so that two clusters bootstrapped on one network stay apart",
	},

	// What etcdpki renders for kubeadm 1.34 only with --kubernetes-version
	// 1.34; without it (an etcdpki that does not have the flag yet) these
	// are kubeadm 1.34's own, not yet etcdpki's.
	"flag --feature-gates": {
		kubeadm: "InitialCorruptCheck=true",
		etcdpki: absent,
		reason: "kubeadm 1.34 turns on etcd 3.6's initial corruption check for an etcd image of 3.6.0 or later " +
			"(getEtcdCommand, cmd/kubeadm/app/phases/etcd/local.go@v1.34.4)",
		untilKubernetesVersion: true,
	},
	"flag --watch-progress-notify-interval": {
		kubeadm: "5s",
		etcdpki: absent,
		reason: "kubeadm 1.34 sets it for an etcd image of 3.6.0 or later, and --experimental-watch-progress-notify-interval before " +
			"(getEtcdCommand, cmd/kubeadm/app/phases/etcd/local.go@v1.34.4)",
		untilKubernetesVersion: true,
	},
	"image": {
		kubeadm: `"registry.k8s.io/etcd:3.6.5-0"`,
		etcdpki: `"registry.k8s.io/etcd:3.6.4-0"`,
		reason: "kubeadm 1.34.4 runs etcd 3.6.5-0 (SupportedEtcdVersion[34], cmd/kubeadm/app/constants/constants.go@v1.34.4); " +
			"etcdpki's default --image is 3.6.4-0",
		untilKubernetesVersion: true,
	},
	"ports": {
		kubeadm: `[{"name":"probe-port","containerPort":2381,"protocol":"TCP"}]`,
		etcdpki: absent,
		reason: "kubeadm 1.34 declares the metrics port as the container port probe-port " +
			"(GetEtcdPodSpec, cmd/kubeadm/app/phases/etcd/local.go@v1.34.4)",
		untilKubernetesVersion: true,
	},
	"livenessProbe": {
		kubeadm: kubeadmProbe("/livez", `"probe-port"`, `"initialDelaySeconds":10,`, 10, 8),
		etcdpki: kubeadmProbe("/livez", "2381", `"initialDelaySeconds":10,`, 10, 8),
		reason: "kubeadm 1.34 probes the port by its name, probe-port " +
			"(GetEtcdPodSpec, cmd/kubeadm/app/phases/etcd/local.go@v1.34.4); etcdpki probes the number",
		untilKubernetesVersion: true,
	},
	"startupProbe": {
		kubeadm: kubeadmProbe("/readyz", `"probe-port"`, `"initialDelaySeconds":10,`, 10, 24),
		etcdpki: kubeadmProbe("/readyz", "2381", `"initialDelaySeconds":10,`, 10, 24),
		reason: "kubeadm 1.34 probes the port by its name, probe-port " +
			"(GetEtcdPodSpec, cmd/kubeadm/app/phases/etcd/local.go@v1.34.4); etcdpki probes the number",
		untilKubernetesVersion: true,
	},
	"readinessProbe": {
		kubeadm: kubeadmProbe("/readyz", `"probe-port"`, "", 1, 3),
		etcdpki: absent,
		reason: "kubeadm 1.34 also has a readiness probe on /readyz (kubernetes/kubeadm#3039; staticpodutil.ReadinessProbe, " +
			"cmd/kubeadm/app/util/staticpod/utils.go@v1.34.4)",
		untilKubernetesVersion: true,
	},
	"priority": {
		kubeadm: "2000001000",
		etcdpki: absent,
		reason: "kubeadm writes system-node-critical's priority value next to priorityClassName " +
			"(ComponentPod, cmd/kubeadm/app/util/staticpod/utils.go@v1.34.4)",
		untilKubernetesVersion: true,
	},
}

// kubeadmProbe is show's JSON of an HTTP probe of 127.0.0.1's metrics port
// (port: a JSON number or name) as kubeadm's createHTTPProbe
// (cmd/kubeadm/app/util/staticpod/utils.go@v1.34.4) makes it, with a
// timeout of 15s.
func kubeadmProbe(path, port, initialDelay string, period, failures int) string {
	return fmt.Sprintf(`{"httpGet":{"path":%q,"port":%s,"host":"127.0.0.1","scheme":"HTTP"},%s"timeoutSeconds":15,"periodSeconds":%d,"failureThreshold":%d}`,
		path, port, initialDelay, period, failures)
}

// TestKubeadmEtcdManifest compares the etcd static pod kubeadm v1.34.4
// writes for the first control-plane node (`kubeadm init phase etcd local`:
// CreateLocalEtcdStaticPodManifestFile in
// cmd/kubeadm/app/phases/etcd/local.go@v1.34.4, with kubeadm's defaulted
// config for node cp1, advertise address 10.0.0.11) with `etcdpki flags
// --format manifest --kubernetes-version 1.34` for member cp1, parsed as
// v1.Pod: the etcd command's flags as a set, image, probes, ports, volumes,
// mounts, resources, env, labels, annotations, priority, security contexts
// and everything else. They must differ only in allowedManifestDiffs, each
// with its reason. The differences are logged either way.
func TestKubeadmEtcdManifest(t *testing.T) {
	skipShortKubeadm(t)
	m := kubeadmMembers[0]
	cfg := loadKubeadmConfig(t, writeKubeadmConfig(t, kubeadmNode{member: m}))
	manifests := t.TempDir()
	if err := etcdphase.CreateLocalEtcdStaticPodManifestFile(manifests, "", cfg.NodeRegistration.Name, &cfg.ClusterConfiguration, &cfg.LocalAPIEndpoint, false); err != nil {
		t.Fatal(err)
	}
	kubeadmYAML, err := os.ReadFile(kubeadmconstants.GetStaticPodFilepath(kubeadmconstants.Etcd, manifests))
	if err != nil {
		t.Fatal(err)
	}

	p := initKubeadmPKI(t, "ecdsa-p256")
	args := []string{"flags", "--dir", p.dir, "--member", m.name, "--format", "manifest"}
	etcdpkiYAML, code, stderr := runCode(t, append(args, "--kubernetes-version", "1.34")...)
	withVersion := true
	if code != 0 && strings.Contains(stderr, "--kubernetes-version") {
		t.Logf("etcdpki flags has no --kubernetes-version yet (%s): comparing `etcdpki %s`", strings.TrimSpace(stderr), strings.Join(args, " "))
		withVersion = false
		etcdpkiYAML = run(t, args...)
	} else if code != 0 {
		t.Fatalf("etcdpki flags: exit %d\n%s", code, stderr)
	}

	var kubeadmPod, etcdpkiPod v1.Pod
	if err := yaml.UnmarshalStrict(kubeadmYAML, &kubeadmPod); err != nil {
		t.Fatalf("kubeadm's manifest: %v\n%s", err, kubeadmYAML)
	}
	if err := yaml.UnmarshalStrict([]byte(etcdpkiYAML), &etcdpkiPod); err != nil {
		t.Fatalf("etcdpki's manifest is not a v1.Pod: %v\n%s", err, etcdpkiYAML)
	}
	diffs := manifestDiffs(t, &kubeadmPod, &etcdpkiPod)
	var report []string
	seen := map[string]bool{}
	for _, d := range diffs {
		seen[d.key] = true
		a, ok := allowedManifestDiffs[d.key]
		switch {
		case !ok:
			report = append(report, "not allowed: "+d.String())
			t.Errorf("etcdpki's manifest differs from kubeadm's: %s", d)
		case a.kubeadm != d.kubeadm || a.etcdpki != d.etcdpki:
			report = append(report, "not allowed: "+d.String())
			t.Errorf("etcdpki's manifest differs from kubeadm's: %s; allowed is kubeadm %s, etcdpki %s (%s)", d, a.kubeadm, a.etcdpki, a.reason)
		case a.untilKubernetesVersion && withVersion:
			report = append(report, "not allowed with --kubernetes-version: "+d.String())
			t.Errorf("etcdpki's manifest with --kubernetes-version 1.34 still differs from kubeadm's: %s (%s)", d, a.reason)
		default:
			report = append(report, "allowed: "+d.String()+" ("+a.reason+")")
		}
	}
	for _, key := range sortedKeys(allowedManifestDiffs) {
		if a := allowedManifestDiffs[key]; !seen[key] && !(a.untilKubernetesVersion && withVersion) {
			t.Logf("allowed difference %q no longer occurs: remove it from allowedManifestDiffs", key)
		}
	}
	t.Logf("kubeadm v1.34.4's etcd manifest vs etcdpki's (--kubernetes-version: %v), %d differences:\n  %s", withVersion, len(diffs), strings.Join(report, "\n  "))
	if t.Failed() {
		t.Logf("kubeadm's manifest:\n%s\netcdpki's manifest:\n%s", kubeadmYAML, etcdpkiYAML)
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// manifestDiffs lists how etcdpki's static pod differs from kubeadm's: the
// etcd command's flags compared as a set of --name=value, annotations and
// labels key by key, the container's and the pod's other fields one by one
// (volumes and mounts as sets, by name), and whatever is left of both pods
// as one last field, so that no difference goes unseen.
func manifestDiffs(t *testing.T, kubeadm, etcdpki *v1.Pod) []manifestDiff {
	t.Helper()
	var diffs []manifestDiff
	add := func(key string, k, e any) {
		if !apiequality.Semantic.DeepEqual(k, e) {
			diffs = append(diffs, manifestDiff{key, show(k), show(e)})
		}
	}
	if len(kubeadm.Spec.Containers) != 1 || len(etcdpki.Spec.Containers) != 1 {
		t.Fatalf("containers: kubeadm %d, etcdpki %d; want one each", len(kubeadm.Spec.Containers), len(etcdpki.Spec.Containers))
	}
	kc, ec := kubeadm.Spec.Containers[0].DeepCopy(), etcdpki.Spec.Containers[0].DeepCopy()

	// The command: etcd and flags, compared as sets.
	kCmd, kFlags := commandFlags(t, "kubeadm", kc.Command)
	eCmd, eFlags := commandFlags(t, "etcdpki", ec.Command)
	add("command[0]", kCmd, eCmd)
	for _, name := range sortedKeys(mergeKeys(kFlags, eFlags)) {
		k, ok := kFlags[name]
		if !ok {
			k = absent
		}
		e, ok := eFlags[name]
		if !ok {
			e = absent
		}
		if k != e {
			diffs = append(diffs, manifestDiff{"flag --" + name, k, e})
		}
	}
	add("container args", kc.Args, ec.Args)
	kc.Command, ec.Command, kc.Args, ec.Args = nil, nil, nil, nil

	add("container name", kc.Name, ec.Name)
	add("image", kc.Image, ec.Image)
	add("imagePullPolicy", kc.ImagePullPolicy, ec.ImagePullPolicy)
	add("livenessProbe", kc.LivenessProbe, ec.LivenessProbe)
	add("readinessProbe", kc.ReadinessProbe, ec.ReadinessProbe)
	add("startupProbe", kc.StartupProbe, ec.StartupProbe)
	add("ports", kc.Ports, ec.Ports)
	add("env", emptyNil(kc.Env), emptyNil(ec.Env))
	add("resources", kc.Resources, ec.Resources)
	add("volumeMounts", byName(kc.VolumeMounts, func(v v1.VolumeMount) string { return v.Name }),
		byName(ec.VolumeMounts, func(v v1.VolumeMount) string { return v.Name }))
	add("container securityContext", kc.SecurityContext, ec.SecurityContext)
	kc.Name, ec.Name, kc.Image, ec.Image, kc.ImagePullPolicy, ec.ImagePullPolicy = "", "", "", "", "", ""
	kc.LivenessProbe, ec.LivenessProbe, kc.ReadinessProbe, ec.ReadinessProbe, kc.StartupProbe, ec.StartupProbe = nil, nil, nil, nil, nil, nil
	kc.Ports, ec.Ports, kc.Env, ec.Env = nil, nil, nil, nil
	kc.Resources, ec.Resources = v1.ResourceRequirements{}, v1.ResourceRequirements{}
	kc.VolumeMounts, ec.VolumeMounts, kc.SecurityContext, ec.SecurityContext = nil, nil, nil, nil
	add("other container fields", kc, ec)

	kp, ep := kubeadm.DeepCopy(), etcdpki.DeepCopy()
	kp.Spec.Containers, ep.Spec.Containers = nil, nil
	add("apiVersion/kind", kp.TypeMeta, ep.TypeMeta)
	add("name/namespace", kp.Namespace+"/"+kp.Name, ep.Namespace+"/"+ep.Name)
	for _, meta := range []struct {
		what string
		k, e map[string]string
	}{{"label", kp.Labels, ep.Labels}, {"annotation", kp.Annotations, ep.Annotations}} {
		for _, key := range sortedKeys(mergeKeys(meta.k, meta.e)) {
			k, ok := meta.k[key]
			if !ok {
				k = absent
			}
			e, ok := meta.e[key]
			if !ok {
				e = absent
			}
			if k != e {
				diffs = append(diffs, manifestDiff{meta.what + " " + key, k, e})
			}
		}
	}
	add("priority", kp.Spec.Priority, ep.Spec.Priority)
	add("priorityClassName", kp.Spec.PriorityClassName, ep.Spec.PriorityClassName)
	add("hostNetwork", kp.Spec.HostNetwork, ep.Spec.HostNetwork)
	add("pod securityContext", kp.Spec.SecurityContext, ep.Spec.SecurityContext)
	add("volumes", byName(kp.Spec.Volumes, func(v v1.Volume) string { return v.Name }),
		byName(ep.Spec.Volumes, func(v v1.Volume) string { return v.Name }))
	kp.TypeMeta, ep.TypeMeta = metav1.TypeMeta{}, metav1.TypeMeta{}
	kp.ObjectMeta.Name, kp.ObjectMeta.Namespace, ep.ObjectMeta.Name, ep.ObjectMeta.Namespace = "", "", "", ""
	kp.Labels, ep.Labels, kp.Annotations, ep.Annotations = nil, nil, nil, nil
	kp.Spec.Priority, ep.Spec.Priority, kp.Spec.PriorityClassName, ep.Spec.PriorityClassName = nil, nil, "", ""
	kp.Spec.HostNetwork, ep.Spec.HostNetwork, kp.Spec.SecurityContext, ep.Spec.SecurityContext = false, false, nil, nil
	kp.Spec.Volumes, ep.Spec.Volumes = nil, nil
	add("other pod fields", kp, ep)
	return diffs
}

// commandFlags splits an etcd command into its program and its --name=value
// flags (a flag without a value is "true"), failing t on anything else or
// on a flag given twice.
func commandFlags(t *testing.T, who string, command []string) (string, map[string]string) {
	t.Helper()
	if len(command) == 0 {
		t.Fatalf("%s's manifest has no command", who)
	}
	flags := map[string]string{}
	for _, arg := range command[1:] {
		name, value, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !strings.HasPrefix(arg, "--") {
			t.Fatalf("%s's etcd command has %q, not a --flag", who, arg)
		}
		if !ok {
			value = "true"
		}
		if _, dup := flags[name]; dup {
			t.Errorf("%s's etcd command has --%s twice", who, name)
		}
		flags[name] = value
	}
	return command[0], flags
}

// mergeKeys is the union of a's and b's keys, as a set.
func mergeKeys(a, b map[string]string) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// byName returns items sorted by name, so that lists compare as sets.
func byName[T any](items []T, name func(T) string) []T {
	s := slices.Clone(items)
	sort.SliceStable(s, func(i, j int) bool { return name(s[i]) < name(s[j]) })
	if len(s) == 0 {
		return nil
	}
	return s
}

// emptyNil is nil for an empty slice, so that `env: []` and no env compare
// equal.
func emptyNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// show is v as compact JSON, absent for nil, for a difference's message.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	if s := string(b); s != "null" && s != "[]" && s != "{}" && s != `""` {
		return s
	}
	return absent
}
