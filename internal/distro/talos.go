package distro

// Talos Linux: machined runs etcd itself (a containerd task with flags
// built by Talos, no settings file on disk) and writes its PKI under
// /system/secrets/etcd. One etcd CA (ECDSA P-256, from the machine
// config's cluster.etcd.ca, key included) serves peers and clients and
// is on every control plane node; each node issues its own leaves.
//
// Sources (siderolabs/talos unless named otherwise; stored copies):
//
//   - pkg/machinery/constants/constants.go@279a3fda7ba24037e06377f01cc495207722caa9
//     (stored copy with DefaultEtcdVersion v3.5.21): EtcdPKIPath
//     /system/secrets/etcd; ca.crt, ca.key, server.crt, server.key,
//     peer.crt, peer.key, admin.crt, admin.key; EtcdUserID 60;
//     KubernetesAPIServerSecretsDir /system/secrets/kubernetes/kube-apiserver
//   - internal/app/machined/pkg/controllers/etcd/pki.go@6ea50fb35379bfab85f15b65531b288bc672bbc2
//     (PKIController: dir 0700, every file 0400, owned by the etcd user)
//   - internal/pkg/etcd/certs.go, CertificateGenerator version (stored
//     copy, no commit shown; older certs.go@2cd3f9be1f36dd3389ee528fa8f0b2548032c2f7
//     has the same names and usages): peer cert CN hostname, DNS the
//     hostname's DNS names, IPs the node addresses; server cert adds
//     127.0.0.1 (::1 only with an IPv6 address) and "localhost"; both
//     serverAuth+clientAuth; client certs CN only, clientAuth; all
//     digitalSignature|keyEncipherment, NotAfter now+87600h
//   - internal/app/machined/pkg/controllers/secrets/etcd.go (stored copy,
//     no commit shown): admin client CN "talos", kube-apiserver client
//     CN "kube-apiserver"
//   - internal/app/machined/pkg/controllers/k8s/render_secrets_static_pod.go
//     (stored copy, no commit shown; older @d24df8f8446219e4d3f749ca69ed358da35dda5c):
//     kube-apiserver gets etcd-client-ca.crt (the etcd CA), etcd-client.crt
//     and etcd-client.key (the EtcdAPIServer pair), 0400, dir 0755
//   - pkg/machinery/config/generate/secrets ca.go and bundle.go (stored
//     copies, no commit shown): NewEtcdCA = O "etcd", ECDSA (SHA-256),
//     NotBefore the generation time, CAValidityTime 87600h
//   - siderolabs/crypto x509/certificate_authority.go@2a076326bbdd3da61460197a3fa1a0484a347478,
//     x509/options.go@c2b4e26d7d7e45e8269a040fb0251446354ba8ef,
//     x509/keypair.go@53659fc35f6abd4ada7ffa22ef1b148cf93c0f28,
//     x509/certificate.go@17107ae45403a2bcd4fecfb4660b60276652b00d
//     (CA: subject O only, certSign|digitalSignature, EKU serverAuth+
//     clientAuth, CA:TRUE, random SKID; leaves from an ECDSA CA get a
//     P-256 key and ECDSA-SHA256, subject from the CSR, NotBefore now,
//     no basic constraints)
//   - internal/app/machined/pkg/system/services/etcd.go@149ffa9774bc3fbea1a69afc01f5da4ac311f085
//     (etcd --name is the hostname; --cert-file server.crt,
//     --peer-cert-file peer.crt, both trusted-ca-files ca.crt)

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func init() { All["talos"] = Talos }

// Node paths of a Talos control plane node.
const (
	talosEtcdPKI       = "/system/secrets/etcd"
	talosCACert        = talosEtcdPKI + "/ca.crt"
	talosCAKey         = talosEtcdPKI + "/ca.key"
	talosServerCert    = talosEtcdPKI + "/server.crt"
	talosServerKey     = talosEtcdPKI + "/server.key"
	talosPeerCert      = talosEtcdPKI + "/peer.crt"
	talosPeerKey       = talosEtcdPKI + "/peer.key"
	talosAdminCert     = talosEtcdPKI + "/admin.crt"
	talosAdminKey      = talosEtcdPKI + "/admin.key"
	talosAPIServerDir  = "/system/secrets/kubernetes/kube-apiserver"
	talosAPIClientCA   = talosAPIServerDir + "/etcd-client-ca.crt"
	talosAPIClientCert = talosAPIServerDir + "/etcd-client.crt"
	talosAPIClientKey  = talosAPIServerDir + "/etcd-client.key"

	talosValidity = 87600 * time.Hour // CAValidityTime and the leaves' NotAfter
)

// Talos writes a Talos control plane: per node /system/secrets/etcd with
// the cluster's etcd CA (certificate and key) and the node's server, peer
// and admin ("talos") pairs, and kube-apiserver's etcd client pair. No
// etcd settings file exists on disk. Member names are the host names.
//
// OmitIP leaves the node's address out of its server and peer certs.
// ForeignCA gives the node an etcd CA of its own (as a node whose machine
// config came from another secrets bundle would have) and signs all of
// its leaves with it. OwnPeerCA and OwnClientCA are refused: one CA
// serves both ports.
func Talos(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	opts.refuseOwnCAs(t, "talos: one etcd CA serves peers and clients")
	nodes := opts.nodes()
	opts.checkHosts(t, nodes)
	now := opts.now()
	keys := NewKeys(t)

	// talosctl gen secrets made the CA before the machines booted.
	clusterCA := talosCA(t, keys.ECDSA(), now.Add(-time.Hour))
	f := &Fixture{Distribution: "talos", Nodes: nodes}
	for i, n := range nodes {
		ca := clusterCA
		if n.Host == opts.ForeignCA {
			ca = talosCA(t, keys.ECDSA(), now.Add(-time.Hour-time.Duration(i+1)*time.Second))
		}
		root := layout.MemberDir(dir, n.Host)
		talosWriteNode(t, root, keys, ca, n, n.Host == opts.OmitIP, now)
		f.Dirs = append(f.Dirs, root)
		f.Members = append(f.Members, n.Host)
	}
	return f
}

// talosSerial is siderolabs/crypto NewSerialNumber: a random positive
// serial (128 bits here).
func talosSerial(t testing.TB) *big.Int {
	t.Helper()
	n := randSerial(t, pow2(128))
	return n.Add(n, big.NewInt(1))
}

// talosCA is NewEtcdCA through NewSelfSignedCertificateAuthority.
func talosCA(t testing.TB, key crypto.Signer, at time.Time) *pki.CA {
	t.Helper()
	skid := make([]byte, 20)
	if _, err := rand.Read(skid); err != nil {
		t.Fatalf("distro: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          talosSerial(t),
		Subject:               pkix.Name{Organization: []string{"etcd"}},
		SubjectKeyId:          skid,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
		NotBefore:             at,
		NotAfter:              at.Add(talosValidity),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	return selfSignedCA(t, tmpl, key)
}

// talosLeaf is NewKeyPair/NewCertificateFromCSR: subject CN only,
// NotBefore now, no basic constraints, no SKID (Go copies the CA's SKID
// into the authority key ID).
func talosLeaf(t testing.TB, ca *pki.CA, key crypto.Signer, cn string, dns []string, ips []net.IP, ekus []x509.ExtKeyUsage, now time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SignatureAlgorithm: x509.ECDSAWithSHA256,
		SerialNumber:       talosSerial(t),
		Subject:            pkix.Name{CommonName: cn},
		NotBefore:          now,
		NotAfter:           now.Add(talosValidity),
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:        ekus,
		DNSNames:           dns,
		IPAddresses:        ips,
	}
	return testca.Sign(t, tmpl, ca.Cert, key.Public(), ca.Key)
}

func talosWriteNode(t testing.TB, root string, keys *Keys, ca *pki.CA, n Node, omitIP bool, now time.Time) {
	t.Helper()
	serving := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}

	// NodeAddresses: the node's address (none when omitted);
	// HostnameStatus.DNSNames: the hostname (no domain set).
	var addrs []net.IP
	if !omitIP {
		addrs = append(addrs, net.ParseIP(n.IP))
	}
	peerIPs := append([]net.IP(nil), addrs...)
	serverIPs := append(append([]net.IP(nil), addrs...), net.ParseIP("127.0.0.1"))
	for _, a := range addrs {
		if a.To4() == nil {
			serverIPs = append(serverIPs, net.ParseIP("::1"))
			break
		}
	}

	serverKey, peerKey, adminKey, apiKey := keys.ECDSA(), keys.ECDSA(), keys.ECDSA(), keys.ECDSA()
	server := talosLeaf(t, ca, serverKey, n.Host, []string{n.Host, "localhost"}, serverIPs, serving, now)
	peer := talosLeaf(t, ca, peerKey, n.Host, []string{n.Host}, peerIPs, serving, now)
	admin := talosLeaf(t, ca, adminKey, "talos", nil, nil, client, now)
	api := talosLeaf(t, ca, apiKey, "kube-apiserver", nil, nil, client, now)

	// 0400 is the mode of every file Talos writes into both directories;
	// keys are EC PRIVATE KEY, as siderolabs/crypto writes them.
	fs := nodeFS{t: t, root: root}
	fs.cert(talosCACert, 0o400, ca.Cert)
	fs.key(talosCAKey, 0o400, ca.Key)
	fs.cert(talosServerCert, 0o400, server)
	fs.key(talosServerKey, 0o400, serverKey)
	fs.cert(talosPeerCert, 0o400, peer)
	fs.key(talosPeerKey, 0o400, peerKey)
	fs.cert(talosAdminCert, 0o400, admin)
	fs.key(talosAdminKey, 0o400, adminKey)
	fs.cert(talosAPIClientCA, 0o400, ca.Cert)
	fs.cert(talosAPIClientCert, 0o400, api)
	fs.key(talosAPIClientKey, 0o400, apiKey)

	fs.chmod(0o755, "/system", "/system/secrets")
	fs.chmod(0o700, talosEtcdPKI)
	fs.chmod(0o755, "/system/secrets/kubernetes", talosAPIServerDir)
}
