package distro

// kubespray with its default etcd deployment (etcd_deployment_type: host,
// cert_management: script): etcd runs from systemd on the hosts of the
// etcd group, with certificates made by make-ssl-etcd.sh on the first etcd
// host and copied to the others; kube-apiserver is kubeadm's, pointed at
// that etcd as external etcd. Every fixture node is in both the etcd and
// the kube_control_plane group (etcd stacked on the control planes), in
// the order of Options.Nodes.
//
// Sources (kubernetes-sigs/kubespray unless named otherwise; stored
// copies of the v2.25–v2.29 era, before v2.30 dropped etcd_cert_dir_mode):
//
//   - roles/kubespray-defaults/defaults/main/main.yml@c18e965c7d0cc5fed47dacd97b4a7b525849ca3d
//     (kube_version v1.29.5, i.e. v2.25): certificates_key_size 2048,
//     certificates_duration 36500, etcd_cert_dir, kube_cert_dir
//     /etc/kubernetes/ssl, kube_cert_compat_dir /etc/kubernetes/pki,
//     etcd_member_name ("etcd" + loop.index), etcd_peer_addresses,
//     etcd_access_addresses, etcd_client_url/etcd_peer_url,
//     etcd_snapshot_count, apiserver_loadbalancer_domain_name,
//     kube_service_addresses, bin_dir
//   - roles/kubespray-defaults/defaults/main/download.yml@c18e965c7d0cc5fed47dacd97b4a7b525849ca3d
//     (etcd_version v3.5.12 for v1.29)
//   - roles/etcd/defaults/main.yml@d82ff6025b5d9fdd6c2b095e223b7d2b0ae2ac56:
//     etcd_owner etcd, etcd_cert_group root, etcd_cert_dir_mode "0700",
//     etcd_cert_alt_names, etcd_cert_alt_ips [], etcd_secure_client,
//     etcd_peer_client_auth, etcd_compaction_retention "8",
//     etcd_metrics "basic", etcd_experimental_initial_corrupt_check
//   - roles/etcd/templates/make-ssl-etcd.sh.j2@5b7ffb81a582965e7e77ea4f6b9501c09923b974
//     (the CA and every leaf; CNs, -days, -extensions ssl_client)
//   - roles/etcd/templates/openssl.conf.j2@02c7e8b8555ddcc30e987663ea74ff9b4e0a7af3
//     ([ssl_client] extensions and [alt_names])
//   - roles/etcd/tasks/gen_certs_script.yml as of v2.26–v2.29, stored as the
//     fork losisin/kubespray@cfff907502e5e888dc33700302430c54d0f19120
//     (MASTERS = etcd hosts, HOSTS = kube_control_plane hosts; which files
//     go to the other etcd hosts; modes; the final recursive chmod; the
//     node-cert symlink hack). Upstream's older copy
//     kubernetes-sigs/kubespray@f4229508bc9601b86c6ce55eb9a8ac96d51c7fd8
//     has the same copy and chmod steps.
//   - roles/etcd/templates/etcd.env.j2@d366de410576d1d0abe7c917b27bebe265d58f54
//   - roles/etcd/tasks/refresh_config.yml@c1995672cec638378eb657363e3b88835e89ebff
//     (/etc/etcd.env, 0640) and roles/etcd/tasks/main.yml@818d659b330c7722410bc09ce54255e56e196706
//     (the last refresh_config leaves initial-cluster-state existing)
//   - roles/etcd/tasks/configure.yml@116b50096cf2b3935ac81e3033bd09dbb860f35d
//     and roles/etcd/templates/etcd-host.service.j2@cfc60204dd5f43fb772576173849e7f4d8cc38c2
//   - roles/kubernetes/preinstall/tasks/0050-create_directories.yml@baf0a331c91691cb2197178b774eca681e059a4c
//     (/etc/kubernetes, manifests, ssl 0755; pki a symlink to ssl)
//   - roles/kubernetes/control-plane/defaults/main/main.yml@64fe5086bf6642fbe9b99668ae42d64066f9b0f3
//     (kube_etcd_cacert_file, kube_etcd_cert_file, kube_etcd_key_file)
//   - roles/kubernetes/control-plane/templates/kubeadm-config.v1beta4.yaml.j2@9f01effadc24b17dcfd9767846b47efa9597d2ca
//     (etcd.external, certificatesDir, apiServer extraArgs)
//   - roles/kubernetes/control-plane/tasks/kubeadm-secondary.yml@36e5d742dc2b3f7984398c38009f236be7c3c065
//     (the other control planes join with a JoinConfiguration only)
//   - kubernetes/kubernetes cmd/kubeadm/app/util/staticpod/utils.go
//     WriteStaticPodToDisk (manifests 0600)
//   - OpenSSL 3: apps/lib/apps.c bio_open_owner (genrsa writes keys 0600),
//     x509 -CAcreateserial (serials count up from a random one), and the
//     default openssl.cnf [v3_ca] that `req -x509` without -config uses
//     (subjectKeyIdentifier=hash, authorityKeyIdentifier=keyid:always,
//     basicConstraints=critical,CA:true; no keyUsage) — checked with
//     OpenSSL 3.0.19 on this machine.

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func init() {
	All["kubespray"] = Kubespray
	All["kubespray-scp"] = KubesprayCopied
}

// Kubespray writes a kubespray cluster as a first run of cluster.yml
// leaves it: every etcd host holds the one CA (with its key) and the
// member, admin and node certificates of every host; etcd is configured
// in /etc/etcd.env; kubeadm's kube-apiserver manifest points at the
// node-<first control plane> client cert; /etc/kubernetes/pki is an
// absolute symlink to /etc/kubernetes/ssl, dangling outside the node.
//
// OmitIP replaces that host's own member-<host>.pem (and key) on that
// host only with one issued without its IP, as a hand-made cert would be;
// the copies on the other hosts stay. ForeignCA gives that host a CA of
// its own and re-makes every certificate on it from that CA, as if it had
// run make-ssl-etcd.sh itself. kubespray has one etcd CA, so OwnPeerCA and
// OwnClientCA fail the test.
func Kubespray(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	return writeKubespray(t, dir, opts, false)
}

// KubesprayCopied is Kubespray with /etc/kubernetes/pki a real directory
// holding a copy of /etc/kubernetes/ssl, as `scp -r` of a node's
// /etc/kubernetes (which follows the symlink) makes it.
func KubesprayCopied(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	f := writeKubespray(t, dir, opts, true)
	f.Distribution = "kubespray-scp"
	return f
}

// Node paths and values kubespray uses.
const (
	kubesprayConfigDir  = "/etc/ssl/etcd"     // etcd_config_dir
	kubesprayCertDir    = "/etc/ssl/etcd/ssl" // etcd_cert_dir
	kubesprayEnvFile    = "/etc/etcd.env"
	kubesprayUnitFile   = "/etc/systemd/system/etcd.service"
	kubesprayKubeDir    = "/etc/kubernetes"     // kube_config_dir
	kubesprayKubeCerts  = "/etc/kubernetes/ssl" // kube_cert_dir
	kubesprayKubeCompat = "/etc/kubernetes/pki" // kube_cert_compat_dir
	kubesprayManifests  = "/etc/kubernetes/manifests"
	kubesprayDataDir    = "/var/lib/etcd" // etcd_data_dir
	kubesprayBinDir     = "/usr/local/bin"
	kubesprayEtcdVer    = "v3.5.12"
	kubesprayKubeVer    = "v1.29.5"
	kubesprayLBDomain   = "lb-apiserver.kubernetes.local" // apiserver_loadbalancer_domain_name
	kubesprayDNSDomain  = "cluster.local"                 // dns_domain = cluster_name
	kubesprayServiceNet = "10.233.0.0/18"                 // kube_service_addresses
	// certificates_duration, in days, for the CA and every leaf.
	kubesprayValidity = 36500 * 24 * time.Hour
	// kubeadm's CA validity (client-go NewSelfSignedCACert, ten years).
	kubesprayKubeCAValidity = 10 * 365 * 24 * time.Hour
)

// Modes. gen_certs_script.yml ends with a file task on etcd_cert_dir
// (owner etcd, group root, mode etcd_cert_dir_mode 0700, recurse), which
// sets the directory and every file in it to 0700 on every etcd host
// (the 0640 of the copies and OpenSSL's 0600/0644 on the first host do
// not survive it). Ansible makes the missing parent /etc/ssl/etcd with the
// same attributes.
const (
	kubesprayCertMode = 0o700
	kubesprayDirMode  = 0o700
	kubesprayEnvMode  = 0o640 // refresh_config.yml
	kubesprayUnitMode = 0o644 // configure.yml template, no mode: umask 022
	kubesprayPodMode  = 0o600 // kubeadm WriteStaticPodToDisk
)

// kubesprayCN is make-ssl-etcd.sh's cn="${host%%.*}".
func kubesprayCN(host string) string {
	cn, _, _ := strings.Cut(host, ".")
	return cn
}

// kubesprayMember is etcd_member_name: "etcd" + the host's place in the
// etcd group, from 1.
func kubesprayMember(i int) string { return fmt.Sprintf("etcd%d", i+1) }

// kubespraySANs is openssl.conf.j2's [alt_names], which every leaf gets
// (-extensions ssl_client): DNS localhost, then each etcd host's inventory
// name (etcd_access_address adds nothing while it is an IP), then
// apiserver_loadbalancer_domain_name (always defined by kubespray-defaults)
// and etcd_cert_alt_names; IPs: each etcd host's ip (no access_ip set),
// etcd_cert_alt_ips (none), 127.0.0.1. omit drops that host's own IP.
func kubespraySANs(nodes []Node, omit string) ([]string, []net.IP) {
	dns := []string{"localhost"}
	var ips []net.IP
	for _, n := range nodes {
		dns = append(dns, n.Host)
	}
	dns = append(dns, kubesprayLBDomain,
		"etcd.kube-system.svc."+kubesprayDNSDomain, "etcd.kube-system.svc", "etcd.kube-system", "etcd")
	for _, n := range nodes {
		if n.Host != omit {
			ips = append(ips, net.ParseIP(n.IP))
		}
	}
	ips = append(ips, net.ParseIP("127.0.0.1"))
	return dns, ips
}

// kubesprayKeyID is OpenSSL's subjectKeyIdentifier=hash: the SHA-1 of the
// subjectPublicKey bits (RFC 5280 4.2.1.2 method 1).
func kubesprayKeyID(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("distro: %v", err)
	}
	var spki struct {
		Algorithm        asn1.RawValue
		SubjectPublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		t.Fatalf("distro: %v", err)
	}
	sum := sha1.Sum(spki.SubjectPublicKey.Bytes)
	return sum[:]
}

// kubesprayRandSerial is OpenSSL's rand_serial: 159 random bits.
func kubesprayRandSerial(t testing.TB) *big.Int {
	t.Helper()
	return randSerial(t, pow2(159))
}

// kubesprayIssuer is one run of make-ssl-etcd.sh: a CA and the serial
// file (-CAcreateserial) its leaves count up from.
type kubesprayIssuer struct {
	ca     *pki.CA
	serial *big.Int
}

// newKubesprayIssuer is the script's root CA: openssl genrsa 2048, then
// `openssl req -sha256 -x509 -new -nodes -key ca-key.pem -days 36500
// -subj /CN=etcd-ca` with the system openssl.cnf's v3_ca extensions.
func newKubesprayIssuer(t testing.TB, keys *Keys, now time.Time) *kubesprayIssuer {
	t.Helper()
	key := keys.RSA()
	ski := kubesprayKeyID(t, key.Public())
	tmpl := &x509.Certificate{
		SerialNumber:          kubesprayRandSerial(t),
		Subject:               pkix.Name{CommonName: "etcd-ca"},
		NotBefore:             now.UTC(),
		NotAfter:              now.Add(kubesprayValidity).UTC(),
		BasicConstraintsValid: true, // critical, CA:TRUE
		IsCA:                  true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ski, // keyid:always, self-signed
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	ca := selfSignedCA(t, tmpl, key)
	// x509_load_serial with -CAcreateserial: a random serial when ca.srl
	// does not exist, plus one for each certificate signed.
	return &kubesprayIssuer{ca: ca, serial: kubesprayRandSerial(t)}
}

// kubesprayOIDBasicConstraints is id-ce-basicConstraints.
var kubesprayOIDBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// leaf is `openssl x509 -sha256 -req ... -days 36500 -extensions
// ssl_client -extfile openssl.conf`: NotBefore now, extendedKeyUsage
// clientAuth, serverAuth; basicConstraints CA:FALSE (not critical, which
// Go's own BasicConstraints would mark); subjectKeyIdentifier=hash;
// authorityKeyIdentifier=keyid (Go copies the CA's subject key ID); the
// shared SAN list; no keyUsage (the CSR's v3_req is not copied by x509
// -req). The subject is the CSR's -subj, a bare CN.
func (s *kubesprayIssuer) leaf(t testing.TB, key crypto.Signer, cn string, dns []string, ips []net.IP, now time.Time) *x509.Certificate {
	t.Helper()
	s.serial = new(big.Int).Add(s.serial, big.NewInt(1))
	caFalse, err := asn1.Marshal(struct{}{}) // SEQUENCE {}: cA FALSE, no pathLen
	if err != nil {
		t.Fatalf("distro: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       new(big.Int).Set(s.serial),
		Subject:            pkix.Name{CommonName: cn},
		NotBefore:          now.UTC(),
		NotAfter:           now.Add(kubesprayValidity).UTC(),
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		ExtraExtensions:    []pkix.Extension{{Id: kubesprayOIDBasicConstraints, Value: caFalse}},
		SubjectKeyId:       kubesprayKeyID(t, key.Public()),
		DNSNames:           dns,
		IPAddresses:        ips,
		SignatureAlgorithm: x509.SHA256WithRSA,
	}
	return testca.Sign(t, tmpl, s.ca.Cert, key.Public(), s.ca.Key)
}

// kubesprayPair is one certificate file and its key file.
type kubesprayPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// kubesprayBundle is what one run of make-ssl-etcd.sh leaves in
// etcd_cert_dir: ca.pem and ca-key.pem, then, by file base name
// ("member-node1", "admin-node1", "node-node1", …), every leaf.
type kubesprayBundle struct {
	ca    *pki.CA
	files map[string]kubesprayPair
	order []string
}

// makeKubesprayBundle runs the script for the cluster: MASTERS (the etcd
// hosts) get member-<host> (CN etcd-member-<cn>) and admin-<host> (CN
// etcd-admin-<cn>) in that order, host by host; then HOSTS (the
// kube_control_plane hosts; kube_network_plugin calico with the kdd
// datastore adds no others) get node-<host> (CN etcd-node-<cn>). Every
// key is a new RSA-2048 (certificates_key_size) key.
func makeKubesprayBundle(t testing.TB, keys *Keys, nodes []Node, now time.Time) *kubesprayBundle {
	t.Helper()
	iss := newKubesprayIssuer(t, keys, now)
	dns, ips := kubespraySANs(nodes, "")
	b := &kubesprayBundle{ca: iss.ca, files: map[string]kubesprayPair{}}
	add := func(base, cn string) {
		key := keys.RSA()
		b.files[base] = kubesprayPair{cert: iss.leaf(t, key, cn, dns, ips, now), key: key}
		b.order = append(b.order, base)
	}
	for _, n := range nodes {
		add("member-"+n.Host, "etcd-member-"+kubesprayCN(n.Host))
		add("admin-"+n.Host, "etcd-admin-"+kubesprayCN(n.Host))
	}
	for _, n := range nodes {
		add("node-"+n.Host, "etcd-node-"+kubesprayCN(n.Host))
	}
	return b
}

// writeKubespray writes the cluster; copied makes /etc/kubernetes/pki a
// directory copy instead of the symlink.
func writeKubespray(t testing.TB, dir string, opts Options, copied bool) *Fixture {
	t.Helper()
	opts.refuseOwnCAs(t, "kubespray has one etcd CA for peers and clients")
	nodes := opts.nodes()
	now := opts.now()
	keys := NewKeys(t)

	// The first etcd host runs make-ssl-etcd.sh once for everyone.
	cluster := makeKubesprayBundle(t, keys, nodes, now)
	// kubeadm init on the first control plane makes the Kubernetes CA;
	// the other control planes download it (upload-certs); kept here for
	// CIS 2.7 (the etcd CA is not the cluster CA).
	k8sCA := kubesprayKubeCA(t, keys, now)

	var members, peers, clients []string
	for i, n := range nodes {
		members = append(members, kubesprayMember(i))
		peers = append(peers, kubesprayMember(i)+"=https://"+net.JoinHostPort(n.IP, "2380"))
		clients = append(clients, "https://"+net.JoinHostPort(n.IP, "2379"))
	}

	f := &Fixture{Distribution: "kubespray", Nodes: nodes, Members: members}
	for i, n := range nodes {
		root := layout.MemberDir(dir, n.Host)
		fs := nodeFS{t: t, root: root}
		fs.dirs(0o755, "/", "/etc", "/etc/ssl", "/etc/systemd", "/etc/systemd/system",
			kubesprayKubeDir, kubesprayManifests, kubesprayKubeCerts)
		fs.dirs(kubesprayDirMode, kubesprayConfigDir, kubesprayCertDir)

		bundle := cluster
		if n.Host == opts.ForeignCA {
			// Set up on its own: its own script run, its own CA and keys.
			bundle = makeKubesprayBundle(t, keys, nodes, now)
		}
		// The first host has the script's output; the others get ca.pem,
		// ca-key.pem, every admin-/member- pair of the etcd group and every
		// node- pair of kube_control_plane (gen_certs_script.yml "Gather
		// etcd member/admin and kube_control_plane client certs"); the
		// final chmod makes them all alike.
		fs.cert(kubesprayCertDir+"/ca.pem", kubesprayCertMode, bundle.ca.Cert)
		fs.key(kubesprayCertDir+"/ca-key.pem", kubesprayCertMode, bundle.ca.Key)
		for _, base := range bundle.order {
			p := bundle.files[base]
			fs.cert(kubesprayCertDir+"/"+base+".pem", kubesprayCertMode, p.cert)
			fs.key(kubesprayCertDir+"/"+base+"-key.pem", kubesprayCertMode, p.key)
		}
		if n.Host == opts.OmitIP {
			// A hand-made member cert on this host: the same profile from
			// the host's CA, without the host's own IP, with a new key.
			iss := &kubesprayIssuer{ca: bundle.ca, serial: kubesprayRandSerial(t)}
			dns, ips := kubespraySANs(nodes, n.Host)
			key := keys.RSA()
			cert := iss.leaf(t, key, "etcd-member-"+kubesprayCN(n.Host), dns, ips, now)
			fs.cert(kubesprayCertDir+"/member-"+n.Host+".pem", kubesprayCertMode, cert)
			fs.key(kubesprayCertDir+"/member-"+n.Host+"-key.pem", kubesprayCertMode, key)
		}

		fs.file(kubesprayEnvFile, kubesprayEnvMode, kubesprayEnv(n, members[i], peers))
		fs.file(kubesprayUnitFile, kubesprayUnitMode, []byte(kubesprayUnit))

		// kubeadm's PKI lives in kube_cert_dir (certificatesDir); kubeadm
		// writes certs 0644 and keys 0600 (client-go WriteCert/WriteKey).
		fs.cert(kubesprayKubeCerts+"/ca.crt", 0o644, k8sCA.Cert)
		fs.key(kubesprayKubeCerts+"/ca.key", 0o600, k8sCA.Key)
		if copied {
			fs.dirs(0o755, kubesprayKubeCompat)
			fs.cert(kubesprayKubeCompat+"/ca.crt", 0o644, k8sCA.Cert)
			fs.key(kubesprayKubeCompat+"/ca.key", 0o600, k8sCA.Key)
		} else if err := os.Symlink(kubesprayKubeCerts, fs.path(kubesprayKubeCompat)); err != nil {
			// 0050-create_directories.yml: src kube_cert_dir, dest
			// kube_cert_compat_dir, state link: an absolute target.
			t.Fatalf("distro: %v", err)
		}

		// kubeadm join --control-plane takes the ClusterConfiguration from
		// the cluster, so every control plane runs kube-apiserver with the
		// first control plane's etcd client cert (the reason for
		// gen_certs_script.yml's "Pretend all control plane have all
		// certs" symlinks, which on etcd hosts are real files already).
		fs.file(kubesprayManifests+"/kube-apiserver.yaml", kubesprayPodMode,
			kubesprayAPIServerPod(t, n, nodes[0], len(nodes), clients))

		f.Dirs = append(f.Dirs, root)
	}
	return f
}

// kubesprayKubeCA stands for kubeadm's cluster CA (pkiutil.NewCertificateAuthority
// through client-go NewSelfSignedCACert): RSA-2048, CN and DNS SAN
// "kubernetes", ten years, keyEncipherment|digitalSignature|keyCertSign.
// The serial is random here; client-go's choice differs across versions.
func kubesprayKubeCA(t testing.TB, keys *Keys, now time.Time) *pki.CA {
	t.Helper()
	return newSelfSignedCACert(t, keys.RSA(), kubesprayRandSerial(t), "kubernetes", []string{"kubernetes"}, now, kubesprayKubeCAValidity)
}

// kubesprayEnv renders etcd.env.j2 for a host with the defaults: Ansible
// renders True for a bare boolean and true for `| lower`; optional keys
// whose variables are undefined are left out (trim_blocks), and
// etcd_snapshot_count is defined by kubespray-defaults. The template's
// longer comments are left out; its section labels stay.
func kubesprayEnv(n Node, member string, peers []string) []byte {
	cert := func(name string) string { return kubesprayCertDir + "/" + name }
	client := "https://" + net.JoinHostPort(n.IP, "2379")
	peer := "https://" + net.JoinHostPort(n.IP, "2380")
	lines := []string{
		"# Environment file for etcd " + kubesprayEtcdVer,
		"ETCD_DATA_DIR=" + kubesprayDataDir,
		"ETCD_ADVERTISE_CLIENT_URLS=" + client,
		"ETCD_INITIAL_ADVERTISE_PEER_URLS=" + peer,
		"ETCD_INITIAL_CLUSTER_STATE=existing",
		"ETCD_METRICS=basic",
		"ETCD_LISTEN_CLIENT_URLS=" + client + ",https://127.0.0.1:2379",
		"ETCD_ELECTION_TIMEOUT=5000",
		"ETCD_HEARTBEAT_INTERVAL=250",
		"ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd",
		"ETCD_LISTEN_PEER_URLS=" + peer,
		"ETCD_NAME=" + member,
		"ETCD_PROXY=off",
		"ETCD_INITIAL_CLUSTER=" + strings.Join(peers, ","),
		"ETCD_AUTO_COMPACTION_RETENTION=8",
		"ETCD_SNAPSHOT_COUNT=10000",
		"ETCD_ENABLE_V2=true",
		"",
		"# TLS settings",
		"ETCD_TRUSTED_CA_FILE=" + cert("ca.pem"),
		"ETCD_CERT_FILE=" + cert("member-"+n.Host+".pem"),
		"ETCD_KEY_FILE=" + cert("member-"+n.Host+"-key.pem"),
		"ETCD_CLIENT_CERT_AUTH=true",
		"",
		"ETCD_PEER_TRUSTED_CA_FILE=" + cert("ca.pem"),
		"ETCD_PEER_CERT_FILE=" + cert("member-"+n.Host+".pem"),
		"ETCD_PEER_KEY_FILE=" + cert("member-"+n.Host+"-key.pem"),
		"ETCD_PEER_CLIENT_CERT_AUTH=True",
		"",
		"",
		"",
		"# CLI settings",
		"ETCDCTL_ENDPOINTS=https://127.0.0.1:2379",
		"ETCDCTL_CACERT=" + cert("ca.pem"),
		"ETCDCTL_KEY=" + cert("admin-"+n.Host+"-key.pem"),
		"ETCDCTL_CERT=" + cert("admin-"+n.Host+".pem"),
		"",
		"ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=True",
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// kubesprayUnit is etcd-host.service.j2 with bin_dir /usr/local/bin.
const kubesprayUnit = `[Unit]
Description=etcd
After=network.target

[Service]
Type=notify
User=etcd
EnvironmentFile=` + kubesprayEnvFile + `
ExecStart=` + kubesprayBinDir + `/etcd
NotifyAccess=all
Restart=always
RestartSec=10s
LimitNOFILE=40000

[Install]
WantedBy=multi-user.target
`

// kubesprayAPIServerPod is the kube-apiserver static pod kubeadm writes
// from kubespray's ClusterConfiguration: etcd.external with
// etcd_access_addresses and etcd_cert_dir/{ca.pem, node-<first>.pem,
// node-<first>-key.pem}, certificatesDir /etc/kubernetes/ssl, and the
// extraArgs of the kubeadm-config template at their defaults (Ansible
// booleans render True/False). kubeadm sorts the flags and mounts the
// directory of the external etcd certs as etcd-certs-0.
func kubesprayAPIServerPod(t testing.TB, n, first Node, count int, clients []string) []byte {
	t.Helper()
	k := func(name string) string { return kubesprayKubeCerts + "/" + name }
	flags := []string{
		"--advertise-address=" + n.IP,
		"--allow-privileged=true",
		"--anonymous-auth=True",
		fmt.Sprintf("--apiserver-count=%d", count),
		"--authorization-mode=Node,RBAC",
		"--bind-address=0.0.0.0",
		"--client-ca-file=" + k("ca.crt"),
		"--default-not-ready-toleration-seconds=300",
		"--default-unreachable-toleration-seconds=300",
		"--enable-admission-plugins=NodeRestriction",
		"--enable-aggregator-routing=False",
		"--enable-bootstrap-token-auth=true",
		"--endpoint-reconciler-type=lease",
		"--etcd-cafile=" + kubesprayCertDir + "/ca.pem",
		"--etcd-certfile=" + kubesprayCertDir + "/node-" + first.Host + ".pem",
		"--etcd-keyfile=" + kubesprayCertDir + "/node-" + first.Host + "-key.pem",
		"--etcd-servers=" + strings.Join(clients, ","),
		"--event-ttl=1h0m0s",
		"--kubelet-client-certificate=" + k("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + k("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalDNS,InternalIP,Hostname,ExternalDNS,ExternalIP",
		"--profiling=False",
		"--proxy-client-cert-file=" + k("front-proxy-client.crt"),
		"--proxy-client-key-file=" + k("front-proxy-client.key"),
		"--request-timeout=1m0s",
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-client-ca-file=" + k("front-proxy-ca.crt"),
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-username-headers=X-Remote-User",
		"--secure-port=6443",
		"--service-account-issuer=https://kubernetes.default.svc." + kubesprayDNSDomain,
		"--service-account-key-file=" + k("sa.pub"),
		"--service-account-lookup=True",
		"--service-account-signing-key-file=" + k("sa.key"),
		"--service-cluster-ip-range=" + kubesprayServiceNet,
		"--service-node-port-range=30000-32767",
		"--storage-backend=etcd3",
		"--tls-cert-file=" + k("apiserver.crt"),
		"--tls-private-key-file=" + k("apiserver.key"),
	}
	type mount struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
		ReadOnly  bool   `json:"readOnly"`
	}
	type hostPath struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	type volume struct {
		Name     string   `json:"name"`
		HostPath hostPath `json:"hostPath"`
	}
	mounts := []mount{
		{"ca-certs", "/etc/ssl/certs", true},
		{"etcd-certs-0", kubesprayCertDir, true},
		{"k8s-certs", kubesprayKubeCerts, true},
	}
	var volumes []volume
	for _, m := range mounts {
		volumes = append(volumes, volume{m.Name, hostPath{m.MountPath, "DirectoryOrCreate"}})
	}
	pod := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata": map[string]any{
			"annotations": map[string]string{
				"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": net.JoinHostPort(n.IP, "6443"),
			},
			"labels":    map[string]string{"component": "kube-apiserver", "tier": "control-plane"},
			"name":      "kube-apiserver",
			"namespace": "kube-system",
		},
		"spec": map[string]any{
			"containers": []any{map[string]any{
				"command":         append([]string{"kube-apiserver"}, flags...),
				"image":           "registry.k8s.io/kube-apiserver:" + kubesprayKubeVer,
				"imagePullPolicy": "IfNotPresent",
				"name":            "kube-apiserver",
				"volumeMounts":    mounts,
			}},
			"hostNetwork":       true,
			"priorityClassName": "system-node-critical",
			"volumes":           volumes,
		},
	}
	out, err := yaml.Marshal(pod)
	if err != nil {
		t.Fatalf("distro: %v", err)
	}
	return out
}
