package distro

// OpenShift 4 (4.17 and later): etcd runs as a static pod that the
// cluster-etcd-operator (CEO) renders and library-go's static pod
// installer writes onto every control plane node, together with one
// secret that holds the peer, serving and metrics-serving certificates of
// ALL control plane nodes and one configmap that holds the CA bundles.
// Every node therefore carries every node's etcd private keys.
//
// Sources (stored copies; path@commit):
//
//   - openshift/cluster-etcd-operator bindata/etcd/pod.gotpl.yaml@01586004a0180c5a3b01a8f7712a4e05434fd8e1
//     (the etcd static pod: containers, /bin/sh -c scripts, etcd flags,
//     volumes and volumeMounts, env from .EnvVars)
//   - openshift/cluster-etcd-operator pkg/etcdenvvar/etcd_env.go@474fffe082bfa8e2e0e8f366e44cc24349c475ea
//     (NODE_<node>_IP, NODE_<node>_ETCD_URL_HOST, NODE_<node>_ETCD_NAME,
//     envVarSafe: "-" and "." become "_"; ALL_ETCD_ENDPOINTS; fixed
//     ETCD_* values) and pkg/etcdenvvar/envvarcontroller_test.go@01586004a0180c5a3b01a8f7712a4e05434fd8e1
//     (the full expected env, ETCDCTL_CACERT on etcd-all-bundles)
//   - openshift/cluster-etcd-operator pkg/tlshelpers/tlshelpers.go@7b8cfd6bab0f69765ef7ae5e87871eef37d5a1c8
//     (secret names etcd-signer, etcd-metric-signer, etcd-client,
//     etcd-all-certs, etcd-{peer,serving,serving-metrics}-<node>; server
//     host names; EKU clientAuth+serverAuth; validity 3 years, CAs 5 years;
//     etcd-client user "etcd-client" in groups system:etcd, etcd-client)
//   - openshift/cluster-etcd-operator pkg/operator/etcdcertsigner/etcdcertsignercontroller.go@0548cff0c1a802d51d8a4ad251ae0458a0c0bda6
//     (etcd-all-certs keys "<secret>.crt"/"<secret>.key";
//     etcd-all-bundles keys server-ca-bundle.crt, metrics-ca-bundle.crt;
//     the etcd-signer signs peer, serving and etcd-client, the metric
//     signer signs serving-metrics)
//   - openshift/cluster-etcd-operator pkg/operator/starter.go (stored copy,
//     no commit shown): CertSecrets etcd-all-certs and CertConfigMaps
//     etcd-all-bundles go to the unrevisioned cert dir; RevisionSecrets /
//     RevisionConfigMaps (etcd-pod, etcd-all-bundles, etcd-all-certs) to
//     etcd-pod-<revision>
//   - openshift/cluster-etcd-operator docs/etcd-tls-assets.md@41c8e208a681ec7e761b88ddc097fb47cf193340
//     (real openssl output: signer CN openshift-etcd_etcd-signer@<unix>,
//     leaf CN = node IP, SAN order, key usages, on-disk listing under
//     /etc/kubernetes/static-pod-resources/etcd-certs; signers are read
//     from openshift-etcd only since 4.17)
//   - openshift/library-go pkg/operator/certrotation/signer.go@0ebfe3e52a95da512a48f1551a596431ac945b80
//     (signer CN "<namespace>_<name>@<unix>") and target.go@8b972290f22ff0129739ca648b902aae5afdfeac
//     (serving certs from MakeServerCertForDuration, clients from
//     MakeClientCertificateForDuration; validity capped by the signer)
//   - openshift/library-go pkg/crypto/crypto.go@04c96064caeaff65a4808307e1210692a5da307f
//     (RSA 2048; SHA256WithRSA; NotBefore now-1s; random int63 serials;
//     SKID = SHA-1 of the modulus; CA key usage
//     keyEncipherment|digitalSignature|certSign; server CN = first sorted
//     host name, IPs also listed as DNS SANs after the DNS names; the
//     serving tls.crt carries the signer after the leaf; client subject
//     O = groups sorted shortest first)
//   - openshift/library-go pkg/operator/staticpod/installerpod/cmd.go@0331b15dde170c836efaff0edb8239bfc7b5af67
//     (NODE_NAME / NODE_ENVVAR_NAME / REVISION substitution; secrets and
//     configmaps written 0600 under <dir>/secrets|configmaps/<name>/<key>,
//     directories 0755; the pod re-encoded by resourceread.WritePodV1OrDie
//     (JSON, library-go pkg/operator/resource/resourceread) and written
//     0600 to the resource dir and to /etc/kubernetes/manifests/<prefix>.yaml)
//   - openshift/cluster-kube-apiserver-operator bindata/assets/kube-apiserver/pod.yaml@a3e0c45715cc81e4250ce58e1dcaf078e8993bdb
//     (resource-dir = /etc/kubernetes/static-pod-resources/kube-apiserver-pod-<rev>,
//     --openshift-config=…/configmaps/config/config.yaml) and
//     bindata/assets/config/defaultconfig.yaml@ed836a1f5ab87cbaa23da439580cab533e459c29
//     (etcd-cafile configmaps/etcd-serving-ca/ca-bundle.crt, etcd-certfile /
//     etcd-keyfile secrets/etcd-client/tls.{crt,key})
//   - openshift/library-go pkg/operator/configobserver/etcd (stored copy,
//     no commit shown): etcd-servers = every etcd endpoint plus
//     https://localhost:2379, sorted

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func init() { All["openshift"] = OpenShift }

// Node paths of an OpenShift control plane node.
const (
	// The static pod installer's directories (installer flags of the
	// etcd and kube-apiserver operators: --resource-dir, --cert-dir,
	// --pod-manifest-dir).
	ocpManifests     = "/etc/kubernetes/manifests"
	ocpResDir        = "/etc/kubernetes/static-pod-resources"
	ocpEtcdCertDir   = ocpResDir + "/etcd-certs"
	ocpKASCertDir    = ocpResDir + "/kube-apiserver-certs"
	ocpEtcdManifest  = ocpManifests + "/etcd-pod.yaml"
	ocpKASManifest   = ocpManifests + "/kube-apiserver-pod.yaml"
	ocpInPodCertDir  = "/etc/kubernetes/static-pod-certs"     // cert-dir mount
	ocpInPodResource = "/etc/kubernetes/static-pod-resources" // resource-dir mount

	ocpAllCerts   = "secrets/etcd-all-certs"
	ocpAllBundles = "configmaps/etcd-all-bundles"

	// The revisions the fixture's nodes are at; any number works, the
	// installer only uses it in directory names and labels.
	ocpEtcdRevision = 7
	ocpKASRevision  = 11

	ocpImage         = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:0b52c0d9c0b2d8aa6d5b6e3bd0d1a7d2c6f1e2b3a4c5d6e7f8091a2b3c4d5e6f"
	ocpOperatorImage = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:9c1e4b5a6d7f8091a2b3c4d5e6f70819a2b3c4d5e6f708192a3b4c5d6e7f8091"

	// The cipher list of the Intermediate TLS profile as the older
	// bindata/etcd/pod.yaml@02f0c50efbab6e09b93a8c015b59e7fab0fff5ee spells
	// it out; pod.gotpl.yaml fills it from the observed config.
	ocpCipherSuites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256"

	ocpCertValidity = 3 * 365 * 24 * time.Hour // tlshelpers etcdCertValidity
	ocpCAValidity   = 5 * 365 * 24 * time.Hour // tlshelpers etcdCaCertValidity
)

// ocpEtcdResourceDir is the revisioned resource dir of the etcd pod.
func ocpEtcdResourceDir() string { return fmt.Sprintf("%s/etcd-pod-%d", ocpResDir, ocpEtcdRevision) }

// ocpKASResourceDir is the revisioned resource dir of kube-apiserver.
func ocpKASResourceDir() string {
	return fmt.Sprintf("%s/kube-apiserver-pod-%d", ocpResDir, ocpKASRevision)
}

// ocpEnvSafe is etcd_env.go envVarSafe (and the installer's
// NODE_ENVVAR_NAME substitution): "-" and "." become "_".
func ocpEnvSafe(node string) string {
	return strings.ReplaceAll(strings.ReplaceAll(node, "-", "_"), ".", "_")
}

// OpenShift writes an OpenShift 4 control plane: on every node the etcd
// static pod /etc/kubernetes/manifests/etcd-pod.yaml (JSON, as the
// installer re-encodes it; etcd started by a /bin/sh -c script with
// in-pod paths under /etc/kubernetes/static-pod-certs, the hostPath
// /etc/kubernetes/static-pod-resources/etcd-certs), the etcd-all-certs
// secret (peer, serving and serving-metrics pairs of every node) and the
// etcd-all-bundles configmap in that cert dir and in the revisioned
// resource dir, and kube-apiserver's etcd client (the etcd-client secret)
// with its pod manifest and config. Member names are the node names.
//
// OmitIP leaves the node's IP out of its peer and serving certs (and so
// out of every node's copy of them). ForeignCA gives that node signers of
// its own and re-makes every certificate on it from them. OwnPeerCA and
// OwnClientCA are refused: one etcd-signer signs both.
func OpenShift(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	opts.refuseOwnCAs(t, "openshift: one etcd-signer signs peer and client certs")
	nodes := opts.nodes()
	opts.checkHosts(t, nodes)
	now := opts.now()
	keys := NewKeys(t)

	cluster := ocpIssue(t, keys, nodes, opts.OmitIP, now)
	f := &Fixture{Distribution: "openshift", Nodes: nodes}
	for i, n := range nodes {
		set := cluster
		if n.Host == opts.ForeignCA {
			// A node set up on its own: its operator made its signers
			// a moment earlier and signed everything on it.
			set = ocpIssue(t, keys, nodes, opts.OmitIP, now.Add(-time.Duration(i+1)*time.Second))
		}
		root := layout.MemberDir(dir, n.Host)
		ocpWriteNode(t, root, nodes, n, set)
		f.Dirs = append(f.Dirs, root)
		f.Members = append(f.Members, n.Host)
	}
	return f
}

// ocpPair is a certificate (with the chain the file holds) and its key.
type ocpPair struct {
	certs []*x509.Certificate
	key   crypto.Signer
}

// ocpSet is what one cert-signer run produces: the two signers and every
// certificate signed from them.
type ocpSet struct {
	signer, metricSigner *pki.CA
	// per node name: etcd-peer-, etcd-serving-, etcd-serving-metrics-
	peer, serving, metrics map[string]ocpPair
	client                 ocpPair // etcd-client (kube-apiserver, CEO)
}

// ocpIssue is one EtcdCertSignerController sync: the signers, then for
// each node its peer, serving and serving-metrics certs, and the etcd
// client cert.
func ocpIssue(t testing.TB, keys *Keys, nodes []Node, omitIP string, now time.Time) *ocpSet {
	t.Helper()
	s := &ocpSet{
		signer:       ocpSigner(t, keys.RSA(), "openshift-etcd_etcd-signer", now),
		metricSigner: ocpSigner(t, keys.RSA(), "openshift-etcd_etcd-metric-signer", now),
		peer:         map[string]ocpPair{},
		serving:      map[string]ocpPair{},
		metrics:      map[string]ocpPair{},
	}
	for _, n := range nodes {
		// createCertForNode: the same host names for all three; the
		// node's internal IP is all GetInternalIPAddressesForNodeName
		// finds on a single-stack node.
		hosts := ocpServerHostNames(n.IP)
		omitted := ocpServerHostNames("")
		if n.Host == omitIP {
			s.peer[n.Host] = ocpServingPair(t, s.signer, keys.RSA(), omitted, now)
			s.serving[n.Host] = ocpServingPair(t, s.signer, keys.RSA(), omitted, now)
		} else {
			s.peer[n.Host] = ocpServingPair(t, s.signer, keys.RSA(), hosts, now)
			s.serving[n.Host] = ocpServingPair(t, s.signer, keys.RSA(), hosts, now)
		}
		s.metrics[n.Host] = ocpServingPair(t, s.metricSigner, keys.RSA(), hosts, now)
	}
	s.client = ocpClientPair(t, s.signer, keys.RSA(), "etcd-client", []string{"system:etcd", "etcd-client"}, now)
	return s
}

// ocpServerHostNames is tlshelpers getServerHostNames for a node IP ("" for
// none).
func ocpServerHostNames(ip string) []string {
	hosts := []string{
		"localhost",
		"etcd.kube-system.svc",
		"etcd.kube-system.svc.cluster.local",
		"etcd.openshift-etcd.svc",
		"etcd.openshift-etcd.svc.cluster.local",
		"127.0.0.1",
		"::1",
	}
	if ip != "" {
		hosts = append(hosts, ip)
	}
	return hosts
}

// ocpSerial is library-go randomSerialNumber: a random positive int63.
func ocpSerial(t testing.TB) *big.Int {
	t.Helper()
	n := randSerial(t, big.NewInt(math.MaxInt64))
	return n.Add(n, big.NewInt(1))
}

// ocpKeyID is library-go newKeyPairWithHash: SHA-1 of the RSA modulus.
func ocpKeyID(key crypto.Signer) []byte {
	sum := sha1.Sum(key.Public().(*rsa.PublicKey).N.Bytes())
	return sum[:]
}

// ocpSigner is certrotation setSigningCertKeyPairSecret through
// MakeSelfSignedCAConfigForDuration: CN "<namespace>_<name>@<unix>",
// 5 years, NotBefore now-1s, keyEncipherment|digitalSignature|certSign,
// CA:TRUE, SKID = AKID.
func ocpSigner(t testing.TB, key crypto.Signer, name string, now time.Time) *pki.CA {
	t.Helper()
	id := ocpKeyID(key)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s@%d", name, now.Unix())},
		SignatureAlgorithm:    x509.SHA256WithRSA,
		NotBefore:             now.Add(-time.Second),
		NotAfter:              now.Add(ocpCAValidity),
		SerialNumber:          ocpSerial(t),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		AuthorityKeyId:        id,
		SubjectKeyId:          id,
	}
	return selfSignedCA(t, tmpl, key)
}

// ocpValidity caps a target's lifetime by what the signer has left
// (target.go setTargetCertKeyPairSecret).
func ocpValidity(ca *pki.CA, now time.Time) time.Duration {
	if left := ca.Cert.NotAfter.Sub(now); left < ocpCertValidity {
		return left
	}
	return ocpCertValidity
}

// ocpServingPair is MakeServerCertForDuration with tlshelpers' extension
// (EKU clientAuth, serverAuth): hosts sorted, CN the first, IP hosts as IP
// SANs and again as DNS SANs after the DNS names; the file holds the leaf
// and then the signer.
func ocpServingPair(t testing.TB, ca *pki.CA, key crypto.Signer, hosts []string, now time.Time) ocpPair {
	t.Helper()
	sorted := append([]string(nil), hosts...)
	sort.Strings(sorted)
	var ips []net.IP
	var dns []string
	for _, h := range sorted {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, h)
		}
	}
	for _, ip := range ips {
		dns = append(dns, ip.String())
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: sorted[0]},
		SignatureAlgorithm:    x509.SHA256WithRSA,
		NotBefore:             now.Add(-time.Second),
		NotAfter:              now.Add(ocpValidity(ca, now)),
		SerialNumber:          ocpSerial(t),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
		SubjectKeyId:          ocpKeyID(key),
		IPAddresses:           ips,
		DNSNames:              dns,
	}
	leaf := testca.Sign(t, tmpl, ca.Cert, key.Public(), ca.Key)
	return ocpPair{certs: []*x509.Certificate{leaf, ca.Cert}, key: key}
}

// ocpClientPair is MakeClientCertificateForDuration: CN the user, O the
// groups sorted shortest first (UserToSubject), keyEncipherment|
// digitalSignature, EKU clientAuth, no SKID; the file holds the leaf only.
func ocpClientPair(t testing.TB, ca *pki.CA, key crypto.Signer, user string, groups []string, now time.Time) ocpPair {
	t.Helper()
	g := append([]string(nil), groups...)
	sort.Slice(g, func(i, j int) bool {
		if len(g[i]) == len(g[j]) {
			return g[i] < g[j]
		}
		return len(g[i]) < len(g[j])
	})
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: user, Organization: g},
		SignatureAlgorithm:    x509.SHA256WithRSA,
		NotBefore:             now.Add(-time.Second),
		NotAfter:              now.Add(ocpValidity(ca, now)),
		SerialNumber:          ocpSerial(t),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	return ocpPair{certs: []*x509.Certificate{testca.Sign(t, tmpl, ca.Cert, key.Public(), ca.Key)}, key: key}
}

// ocpWriteNode writes one control plane node's tree.
func ocpWriteNode(t testing.TB, root string, nodes []Node, me Node, s *ocpSet) {
	t.Helper()
	// The installer writes every secret, configmap and pod manifest 0600
	// (writeSecret, writeConfig, writePod); keys are RSA PRIVATE KEY
	// (library-go EncodeKey).
	const mode = 0o600
	disk := nodeFS{t: t, root: root}
	// etcd-all-certs and etcd-all-bundles, into the unrevisioned cert dir
	// (CertSecrets, CertConfigMaps) and the revisioned resource dir
	// (RevisionSecrets, RevisionConfigMaps).
	for _, base := range []string{ocpEtcdCertDir, ocpEtcdResourceDir()} {
		for _, n := range nodes {
			for _, c := range []struct {
				prefix string
				pair   ocpPair
			}{
				{"etcd-peer-", s.peer[n.Host]},
				{"etcd-serving-", s.serving[n.Host]},
				{"etcd-serving-metrics-", s.metrics[n.Host]},
			} {
				name := base + "/" + ocpAllCerts + "/" + c.prefix + n.Host
				disk.cert(name+".crt", mode, c.pair.certs...)
				disk.key(name+".key", mode, c.pair.key)
			}
		}
		// ensureBundles: each bundle holds the signer's CA bundle (one
		// CA on a cluster that has not rotated).
		disk.cert(base+"/"+ocpAllBundles+"/server-ca-bundle.crt", mode, s.signer.Cert)
		disk.cert(base+"/"+ocpAllBundles+"/metrics-ca-bundle.crt", mode, s.metricSigner.Cert)
	}
	pod := ocpEtcdPod(nodes, me)
	disk.file(ocpEtcdResourceDir()+"/etcd-pod.yaml", mode, pod)
	disk.file(ocpEtcdManifest, mode, pod)

	// kube-apiserver: the etcd-client secret and the etcd-serving-ca
	// configmap (openshift-config copies of etcd-client and
	// etcd-ca-bundle) are revisioned resources of its pod.
	kas := ocpKASResourceDir()
	disk.cert(kas+"/secrets/etcd-client/tls.crt", mode, s.client.certs...)
	disk.key(kas+"/secrets/etcd-client/tls.key", mode, s.client.key)
	disk.cert(kas+"/configmaps/etcd-serving-ca/ca-bundle.crt", mode, s.signer.Cert)
	disk.file(kas+"/configmaps/config/config.yaml", mode, ocpKASConfig(nodes))
	kasPod := ocpKASPod()
	disk.file(kas+"/kube-apiserver-pod.yaml", mode, kasPod)
	disk.file(ocpKASManifest, mode, kasPod)
	disk.dirs(0o755, ocpKASCertDir)

	// The installer creates its directories 0755.
	err := filepath.WalkDir(disk.path("/etc"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
	if err != nil {
		t.Fatalf("distro: %v", err)
	}
}

// The pod as resourceread.WritePodV1OrDie encodes it (JSON, field order
// of the corev1 types, empty fields left out).
type (
	ocpPod struct {
		Kind       string     `json:"kind"`
		APIVersion string     `json:"apiVersion"`
		Metadata   ocpMeta    `json:"metadata"`
		Spec       ocpPodSpec `json:"spec"`
		Status     struct{}   `json:"status"`
	}
	ocpMeta struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		CreationTimestamp *string           `json:"creationTimestamp"`
		Labels            map[string]string `json:"labels"`
		Annotations       map[string]string `json:"annotations,omitempty"`
	}
	ocpPodSpec struct {
		Volumes           []ocpVolume     `json:"volumes"`
		InitContainers    []ocpContainer  `json:"initContainers,omitempty"`
		Containers        []ocpContainer  `json:"containers"`
		HostNetwork       bool            `json:"hostNetwork"`
		PriorityClassName string          `json:"priorityClassName"`
		Tolerations       []ocpToleration `json:"tolerations"`
	}
	ocpVolume struct {
		Name     string      `json:"name"`
		HostPath ocpHostPath `json:"hostPath"`
	}
	ocpHostPath struct {
		Path string  `json:"path"`
		Type *string `json:"type,omitempty"`
	}
	ocpContainer struct {
		Name                     string           `json:"name"`
		Image                    string           `json:"image"`
		Command                  []string         `json:"command"`
		Args                     []string         `json:"args,omitempty"`
		Ports                    []ocpPort        `json:"ports,omitempty"`
		Env                      []ocpEnv         `json:"env,omitempty"`
		Resources                ocpResources     `json:"resources"`
		VolumeMounts             []ocpVolumeMount `json:"volumeMounts,omitempty"`
		TerminationMessagePolicy string           `json:"terminationMessagePolicy"`
		ImagePullPolicy          string           `json:"imagePullPolicy"`
		SecurityContext          *ocpSecurity     `json:"securityContext,omitempty"`
	}
	ocpPort struct {
		Name          string `json:"name,omitempty"`
		ContainerPort int    `json:"containerPort"`
		Protocol      string `json:"protocol"`
	}
	ocpEnv struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	ocpResources struct {
		Requests map[string]string `json:"requests"`
	}
	ocpVolumeMount struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	}
	ocpSecurity struct {
		Privileged bool `json:"privileged"`
	}
	ocpToleration struct {
		Operator string `json:"operator"`
	}
)

func ocpMarshal(pod ocpPod) []byte {
	data, err := json.Marshal(pod)
	if err != nil {
		panic(err) // static types, cannot fail
	}
	return data
}

// ocpEnvVars is the env of the etcd pod's containers after the installer
// ran: the computed variables sorted by name (getEtcdEnvVars,
// GetSubstitutionReplacer), NODE_NAME replaced by this node's name.
func ocpEnvVars(nodes []Node, me Node) []ocpEnv {
	var endpoints []string
	for _, n := range nodes {
		endpoints = append(endpoints, "https://"+net.JoinHostPort(n.IP, "2379"))
	}
	sort.Strings(endpoints)
	all := strings.Join(endpoints, ",")
	vars := map[string]string{
		"ALL_ETCD_ENDPOINTS":                       all,
		"ETCDCTL_API":                              "3",
		"ETCDCTL_CACERT":                           ocpInPodCertDir + "/" + ocpAllBundles + "/server-ca-bundle.crt",
		"ETCDCTL_CERT":                             ocpInPodCertDir + "/" + ocpAllCerts + "/etcd-peer-" + me.Host + ".crt",
		"ETCDCTL_KEY":                              ocpInPodCertDir + "/" + ocpAllCerts + "/etcd-peer-" + me.Host + ".key",
		"ETCDCTL_ENDPOINTS":                        all,
		"ETCD_CIPHER_SUITES":                       ocpCipherSuites,
		"ETCD_DATA_DIR":                            "/var/lib/etcd",
		"ETCD_ELECTION_TIMEOUT":                    "1000",
		"ETCD_ENABLE_PPROF":                        "true",
		"ETCD_EXPERIMENTAL_MAX_LEARNERS":           fmt.Sprint(len(nodes)),
		"ETCD_EXPERIMENTAL_WARNING_APPLY_DURATION": "200ms",
		"ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL": "5s",
		"ETCD_HEARTBEAT_INTERVAL":                          "100",
		"ETCD_IMAGE":                                       ocpImage,
		"ETCD_INITIAL_CLUSTER_STATE":                       "existing",
		"ETCD_QUOTA_BACKEND_BYTES":                         "8589934592",
		"ETCD_SOCKET_REUSE_ADDRESS":                        "true",
		"ETCD_TLS_MIN_VERSION":                             "TLS1.2",
	}
	for _, n := range nodes {
		safe := ocpEnvSafe(n.Host)
		vars["NODE_"+safe+"_ETCD_NAME"] = n.Host
		vars["NODE_"+safe+"_ETCD_URL_HOST"] = n.IP
		vars["NODE_"+safe+"_IP"] = n.IP
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	env := make([]ocpEnv, 0, len(names))
	for _, k := range names {
		env = append(env, ocpEnv{Name: k, Value: vars[k]})
	}
	return env
}

// ocpEtcdScript is the etcd container's script: the template's
// discovery, port wait and exec of etcd, with NODE_NAME and
// NODE_ENVVAR_NAME substituted for this node. Only its flags and paths
// are upstream's; the wording of the shell around them is not.
func ocpEtcdScript(me Node) string {
	safe := ocpEnvSafe(me.Host)
	certs := ocpInPodCertDir + "/" + ocpAllCerts
	bundle := ocpInPodCertDir + "/" + ocpAllBundles + "/server-ca-bundle.crt"
	lines := []string{
		"#!/bin/sh",
		"set -euo pipefail",
		"",
		"etcdctl member list || true",
		"",
		"ETCD_INITIAL_CLUSTER=$(discover-etcd-initial-cluster \\",
		"  --cacert=" + bundle + " \\",
		"  --cert=" + certs + "/etcd-peer-" + me.Host + ".crt \\",
		"  --key=" + certs + "/etcd-peer-" + me.Host + ".key \\",
		"  --endpoints=${ALL_ETCD_ENDPOINTS} \\",
		"  --data-dir=/var/lib/etcd \\",
		"  --target-peer-url-host=${NODE_" + safe + "_ETCD_URL_HOST} \\",
		"  --target-name=" + me.Host + ")",
		"export ETCD_INITIAL_CLUSTER",
		"",
		"while [ -n \"$(ss -Htan '( sport = 2379 or sport = 2380 or sport = 9978 )')\" ]; do sleep 1; done",
		"",
		"export ETCD_NAME=${NODE_" + safe + "_ETCD_NAME}",
		"env | grep ETCD | grep -v NODE",
		"",
		"set -x",
		"exec nice -n -19 ionice -c2 -n0 etcd \\",
		"  --logger=zap \\",
		"  --log-level=info \\",
		"  --experimental-initial-corrupt-check=true \\",
		"  --snapshot-count=10000 \\",
		"  --initial-advertise-peer-urls=https://${NODE_" + safe + "_IP}:2380 \\",
		"  --cert-file=" + certs + "/etcd-serving-" + me.Host + ".crt \\",
		"  --key-file=" + certs + "/etcd-serving-" + me.Host + ".key \\",
		"  --trusted-ca-file=" + bundle + " \\",
		"  --client-cert-auth=true \\",
		"  --peer-cert-file=" + certs + "/etcd-peer-" + me.Host + ".crt \\",
		"  --peer-key-file=" + certs + "/etcd-peer-" + me.Host + ".key \\",
		"  --peer-trusted-ca-file=" + bundle + " \\",
		"  --peer-client-cert-auth=true \\",
		"  --advertise-client-urls=https://${NODE_" + safe + "_IP}:2379 \\",
		"  --listen-client-urls=https://0.0.0.0:2379,unixs://${NODE_" + safe + "_IP}:0 \\",
		"  --listen-peer-urls=https://0.0.0.0:2380 \\",
		"  --metrics=extensive \\",
		"  --listen-metrics-urls=https://0.0.0.0:9978 ||  mv /etc/kubernetes/etcd-backup-dir/etcd-member.yaml /etc/kubernetes/manifests",
		"",
	}
	return strings.Join(lines, "\n")
}

// ocpMetricsScript is the etcd-metrics container's grpc-proxy: the peer
// pair as client of etcd's port 9978, the serving-metrics pair to serve
// 9979, clients checked against the metrics bundle.
func ocpMetricsScript(me Node) string {
	safe := ocpEnvSafe(me.Host)
	certs := ocpInPodCertDir + "/" + ocpAllCerts
	bundles := ocpInPodCertDir + "/" + ocpAllBundles
	lines := []string{
		"#!/bin/sh",
		"set -euo pipefail",
		"",
		"export ETCD_NAME=${NODE_" + safe + "_ETCD_NAME}",
		"",
		"exec nice -n -18 etcd grpc-proxy start \\",
		"  --endpoints https://${NODE_" + safe + "_ETCD_URL_HOST}:9978 \\",
		"  --metrics-addr https://0.0.0.0:9979 \\",
		"  --listen-addr 127.0.0.1:9977 \\",
		"  --advertise-client-url \"\"  \\",
		"  --key " + certs + "/etcd-peer-" + me.Host + ".key \\",
		"  --key-file " + certs + "/etcd-serving-metrics-" + me.Host + ".key \\",
		"  --cert " + certs + "/etcd-peer-" + me.Host + ".crt \\",
		"  --cert-file " + certs + "/etcd-serving-metrics-" + me.Host + ".crt \\",
		"  --cacert " + bundles + "/server-ca-bundle.crt \\",
		"  --trusted-ca-file " + bundles + "/metrics-ca-bundle.crt \\",
		"  --listen-cipher-suites " + ocpCipherSuites + " \\",
		"  --tls-min-version $(ETCD_TLS_MIN_VERSION)",
		"",
	}
	return strings.Join(lines, "\n")
}

// ocpReadyzScript is the etcd-readyz container: it serves 9980 with the
// node's serving pair and dials etcd with the ETCDCTL_* credentials.
func ocpReadyzScript(me Node) string {
	certs := ocpInPodCertDir + "/" + ocpAllCerts
	lines := []string{
		"#!/bin/sh",
		"set -euo pipefail",
		"",
		"exec nice -n -18 cluster-etcd-operator readyz \\",
		"  --target=https://localhost:2379 \\",
		"  --listen-port=9980 \\",
		"  --serving-cert-file=" + certs + "/etcd-serving-" + me.Host + ".crt \\",
		"  --serving-key-file=" + certs + "/etcd-serving-" + me.Host + ".key \\",
		"  --client-cert-file=$(ETCDCTL_CERT) \\",
		"  --client-key-file=$(ETCDCTL_KEY) \\",
		"  --client-cacert-file=$(ETCDCTL_CACERT) \\",
		"  --listen-tls-min-version=$(ETCD_TLS_MIN_VERSION)",
		"",
	}
	return strings.Join(lines, "\n")
}

func ocpEtcdPod(nodes []Node, me Node) []byte {
	env := ocpEnvVars(nodes, me)
	version := ocpEnv{Name: "ETCD_STATIC_POD_VERSION", Value: fmt.Sprint(ocpEtcdRevision)}
	withVersion := append(append([]ocpEnv(nil), env...), version)
	mount := func(name, p string) ocpVolumeMount { return ocpVolumeMount{Name: name, MountPath: p} }
	req := func(mem, cpu string) ocpResources {
		return ocpResources{Requests: map[string]string{"memory": mem, "cpu": cpu}}
	}
	priv := &ocpSecurity{Privileged: true}
	sh := []string{"/bin/sh", "-c"}
	container := func(name, image, script string, env []ocpEnv, res ocpResources, mounts ...ocpVolumeMount) ocpContainer {
		return ocpContainer{
			Name: name, Image: image, Command: append(append([]string(nil), sh...), script),
			Env: env, Resources: res, VolumeMounts: mounts,
			TerminationMessagePolicy: "FallbackToLogsOnError", ImagePullPolicy: "IfNotPresent",
			SecurityContext: priv,
		}
	}
	emptyType := ""
	hostPath := func(name, p string) ocpVolume { return ocpVolume{Name: name, HostPath: ocpHostPath{Path: p}} }
	data := hostPath("data-dir", "/var/lib/etcd")
	data.HostPath.Type = &emptyType

	ensureEnv := container("etcd-ensure-env-vars", ocpImage,
		"#!/bin/sh\nset -euo pipefail\n\n: \"${NODE_"+ocpEnvSafe(me.Host)+"_ETCD_URL_HOST?not set}\"\n: \"${NODE_"+ocpEnvSafe(me.Host)+"_ETCD_NAME?not set}\"\n: \"${NODE_"+ocpEnvSafe(me.Host)+"_IP?not set}\"\n",
		env, req("60Mi", "10m"))
	etcdctl := container("etcdctl", ocpImage, "", withVersion, req("60Mi", "10m"),
		mount("static-pod-dir", ocpManifests), mount("resource-dir", ocpInPodResource),
		mount("cert-dir", ocpInPodCertDir), mount("data-dir", "/var/lib/etcd/"))
	etcdctl.Command = []string{"/bin/bash", "-c", "trap TERM INT; sleep infinity & wait"}
	etcdctl.SecurityContext = nil
	readyz := container("etcd-readyz", ocpOperatorImage, ocpReadyzScript(me), env, req("50Mi", "10m"),
		mount("log-dir", "/var/log/etcd/"), mount("cert-dir", ocpInPodCertDir))
	readyz.Ports = []ocpPort{{Name: "readyz", ContainerPort: 9980, Protocol: "TCP"}}

	pod := ocpPod{
		Kind: "Pod", APIVersion: "v1",
		Metadata: ocpMeta{
			Name: "etcd", Namespace: "openshift-etcd",
			Labels: map[string]string{"app": "etcd", "k8s-app": "etcd", "etcd": "true", "revision": fmt.Sprint(ocpEtcdRevision)},
			Annotations: map[string]string{
				"kubectl.kubernetes.io/default-container": "etcd",
				"target.workload.openshift.io/management": `{"effect": "PreferredDuringScheduling"}`,
			},
		},
		Spec: ocpPodSpec{
			Volumes: []ocpVolume{
				hostPath("static-pod-dir", ocpManifests),
				hostPath("resource-dir", ocpEtcdResourceDir()),
				hostPath("cert-dir", ocpEtcdCertDir),
				data,
				hostPath("usr-local-bin", "/usr/local/bin"),
				hostPath("log-dir", "/var/log/etcd"),
				hostPath("config-dir", "/etc/kubernetes"),
				hostPath("etcd-auto-backup-dir", "/var/lib/etcd-auto-backup"),
			},
			InitContainers: []ocpContainer{
				container("setup", ocpImage, "#!/bin/sh\nmkdir -p /var/log/etcd  && chmod 0600 /var/log/etcd\nmkdir -p /var/lib/etcd-auto-backup  && chmod 0600 /var/lib/etcd-auto-backup\n",
					nil, req("50Mi", "5m"), mount("log-dir", "/var/log/etcd")),
				ensureEnv,
				container("etcd-resources-copy", ocpImage, "#!/bin/sh\nset -euo pipefail\n\nrm -f $(grep -l '^### Created by cluster-etcd-operator' /usr/local/bin/*)\ncp -p "+ocpInPodCertDir+"/configmaps/etcd-scripts/*.sh /usr/local/bin\n",
					nil, req("60Mi", "10m"), mount("resource-dir", ocpInPodResource),
					mount("cert-dir", ocpInPodCertDir), mount("usr-local-bin", "/usr/local/bin")),
			},
			Containers: []ocpContainer{
				etcdctl,
				container("etcd", ocpImage, ocpEtcdScript(me), withVersion, req("600Mi", "300m"),
					mount("static-pod-dir", ocpManifests), mount("resource-dir", ocpInPodResource),
					mount("cert-dir", ocpInPodCertDir), mount("data-dir", "/var/lib/etcd/")),
				container("etcd-metrics", ocpImage, ocpMetricsScript(me), withVersion, req("200Mi", "40m"),
					mount("resource-dir", ocpInPodResource), mount("cert-dir", ocpInPodCertDir),
					mount("data-dir", "/var/lib/etcd/")),
				readyz,
			},
			HostNetwork:       true,
			PriorityClassName: "system-node-critical",
			Tolerations:       []ocpToleration{{Operator: "Exists"}},
		},
	}
	return ocpMarshal(pod)
}

// ocpKASPod is the part of the kube-apiserver static pod that locates
// its etcd client: the openshift-config file in resource-dir.
func ocpKASPod() []byte {
	hostPath := func(name, p string) ocpVolume { return ocpVolume{Name: name, HostPath: ocpHostPath{Path: p}} }
	script := strings.Join([]string{
		"LOCK=/var/log/kube-apiserver/.lock",
		"exec {LOCK_FD}>${LOCK} && flock --verbose -w 30 \"${LOCK_FD}\" || exit 1",
		"exec watch-termination --termination-touch-file=/var/log/kube-apiserver/.terminating --termination-log-file=/var/log/kube-apiserver/termination.log --graceful-termination-duration=135s --kubeconfig=" + ocpInPodResource + "/configmaps/kube-apiserver-cert-syncer-kubeconfig/kubeconfig -- hyperkube kube-apiserver --openshift-config=" + ocpInPodResource + "/configmaps/config/config.yaml --advertise-address=${HOST_IP} -v=2 --permit-address-sharing",
		"",
	}, "\n")
	pod := ocpPod{
		Kind: "Pod", APIVersion: "v1",
		Metadata: ocpMeta{
			Name: "kube-apiserver", Namespace: "openshift-kube-apiserver",
			Labels: map[string]string{"app": "openshift-kube-apiserver", "apiserver": "true", "revision": fmt.Sprint(ocpKASRevision)},
		},
		Spec: ocpPodSpec{
			Volumes: []ocpVolume{
				hostPath("resource-dir", ocpKASResourceDir()),
				hostPath("cert-dir", ocpKASCertDir),
				hostPath("audit-dir", "/var/log/kube-apiserver"),
			},
			Containers: []ocpContainer{{
				Name: "kube-apiserver", Image: ocpImage,
				Command: []string{"/bin/bash", "-ec"}, Args: []string{script},
				Ports:     []ocpPort{{ContainerPort: 6443, Protocol: "TCP"}},
				Env:       []ocpEnv{{Name: "STATIC_POD_VERSION", Value: fmt.Sprint(ocpKASRevision)}},
				Resources: ocpResources{Requests: map[string]string{"memory": "1Gi", "cpu": "265m"}},
				VolumeMounts: []ocpVolumeMount{
					{Name: "resource-dir", MountPath: ocpInPodResource},
					{Name: "cert-dir", MountPath: ocpInPodCertDir},
					{Name: "audit-dir", MountPath: "/var/log/kube-apiserver"},
				},
				TerminationMessagePolicy: "FallbackToLogsOnError", ImagePullPolicy: "IfNotPresent",
				SecurityContext: &ocpSecurity{Privileged: true},
			}},
			HostNetwork:       true,
			PriorityClassName: "system-node-critical",
			Tolerations:       []ocpToleration{{Operator: "Exists"}},
		},
	}
	return ocpMarshal(pod)
}

// ocpKASConfig is the etcd part of kube-apiserver's config.yaml: the
// default etcd-* file arguments and the observed etcd-servers.
func ocpKASConfig(nodes []Node) []byte {
	servers := []string{"https://localhost:2379"}
	for _, n := range nodes {
		servers = append(servers, "https://"+net.JoinHostPort(n.IP, "2379"))
	}
	sort.Strings(servers)
	cfg := map[string]any{
		"apiVersion": "kubecontrolplane.config.openshift.io/v1",
		"kind":       "KubeAPIServerConfig",
		"apiServerArguments": map[string][]string{
			"etcd-cafile":   {ocpInPodResource + "/configmaps/etcd-serving-ca/ca-bundle.crt"},
			"etcd-certfile": {ocpInPodResource + "/secrets/etcd-client/tls.crt"},
			"etcd-keyfile":  {ocpInPodResource + "/secrets/etcd-client/tls.key"},
			"etcd-prefix":   {"kubernetes.io"},
			"etcd-servers":  servers,
		},
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	return data
}
