package distro

// kOps runs etcd through etcd-manager: per control plane node one
// etcd-manager static pod per etcd cluster ("main" and "events"), which
// mounts the cluster's volume, writes the member's etcd certificates into
// it and starts etcd. nodeup puts the CAs (certificates and keys) into
// /etc/kubernetes/pki/etcd-manager-<cluster>/: a peers CA per etcd
// cluster and one clients CA shared by main, events and kube-apiserver,
// whose etcd client cert nodeup signs on the node.
//
// Sources (stored copies; path@commit):
//
//   - kubernetes/kops nodeup/pkg/model/etcd_manager_tls.go (stored copy,
//     no commit shown; the EtcdClusterNames version): dir
//     /etc/kubernetes/pki/etcd-manager-<cluster>, files etcd-manager-ca,
//     etcd-peers-ca, etcd-clients-ca from keysets etcd-manager-ca-<cluster>,
//     etcd-peers-ca-<cluster> and etcd-clients-ca (shared by main and
//     events); .crt 0644 from NodeupConfig.CAs
//   - kubernetes/kops nodeup/pkg/model/context.go (stored copy with
//     NodeupModelBuilderContext, no commit shown): buildCertificatePairTask
//     writes the .key 0600
//   - kubernetes/kops pkg/model/components/etcdmanager/tests/minimal/tasks.yaml@98ceb17e0f78b675fc699c967f0486dbd12e2f99
//     (keysets cn=etcd-peers-ca-main, …, type ca; the etcd-manager pods:
//     ports, --cluster-name etcd / etcd-events, --dns-suffix
//     .internal.<cluster>, volumes rootfs=/ and
//     pki=/etc/kubernetes/pki/etcd-manager-<cluster> at
//     /etc/kubernetes/pki/etcd-manager)
//   - kubernetes/kops nodeup/pkg/model/manifests.go@3b910a9ad9bb5539996332f6537d52e24b514600
//     (/etc/kubernetes/manifests/etcd-<cluster>.manifest, 0440)
//   - kubernetes/kops pkg/pki/issue.go@bec273ebf1dec1f8db4eaabf30051a099a160c9a,
//     pkg/pki/privatekey.go@80c945b0ffd99531ba85c99bb566b7a83fd4aa9b and
//     SignNewCertificate (pkg/pki/certificate.go, stored copy): CA type
//     "CA,KeyUsageCRLSign,KeyUsageCertSign", client type clientAuth +
//     digitalSignature, basic constraints on both, RSA 2048,
//     NotBefore now-48h, NotAfter now+10y unless a validity is given,
//     random 128-bit serial
//   - kubernetes/kops nodeup/pkg/model/kube_apiserver.go@534c7bf8d637c8dff910b2c060086d6641623774
//     (pathSrvKAPI = /srv/kubernetes/kube-apiserver: etcd-ca.crt (the
//     etcd-clients-ca, 0644) and the issued "etcd-client" pair, CN
//     kube-apiserver, signer etcd-clients-ca) and
//     upup/pkg/fi/nodeup/nodetasks/issue_cert.go (stored copy): .crt 0644,
//     .key 0600, validity 455 days plus a per-node skew below 30 days
//   - kubernetes-sigs/etcd-manager cmd/etcd-manager/main.go@4a5f6993fc198893dd312a7d7ca3b637d6c48c02
//     (pki dir /etc/kubernetes/pki/etcd-manager; LoadCA etcd-peers-ca,
//     etcd-clients-ca; member name = volume EtcdName; peer and client URLs
//     from "__name__" = <name>.<dns-suffix>; peerClientIPs = node address)
//   - kubernetes-sigs/etcd-manager pkg/volumes/aws/volumes.go@f1ea6491bf6a4299f780875125cdf8de3ee8647a
//     (MountName "master-"+volume ID; EtcdName <cluster-name>-<tag token>)
//     and pkg/volumes/mounter.go@722a92ad3d7a404f411df19bac74933e43cc0887
//     (mounted at /mnt/<MountName>, seen by the container under /rootfs)
//   - kubernetes-sigs/etcd-manager pkg/etcd/etcdserver.go@027a212ce83bad2e0dbce3ad9ec74ae6675d601c
//     (pki dir <volume>/pki/<cluster token>) and pkg/etcd/pki.go@722a92ad3d7a404f411df19bac74933e43cc0887
//     (peers/ca.crt, peers/me.{crt,key}: CN and DNS the member name, the
//     peer URL host, IPs peerClientIPs, 127.0.0.1, ::1, EKU clientAuth+
//     serverAuth; clients/ca.crt, clients/server.{crt,key}: CN and DNS the
//     member name, the client and peer URL hosts, IPs 127.0.0.1, ::1, EKU
//     serverAuth+clientAuth)
//   - kubernetes-sigs/etcd-manager pkg/pki/fs.go@7a5fa00deff99c3e71d3979cea28bebb2457fcbe
//     (ca.crt = the CA bundle; keys 0600 in dirs made 0700, certs 0644),
//     pkg/pki/certs.go@8a373907a610ca057c7b719832f126066c4c62f5
//     (CertDuration 2 years) and pkg/pki/certutils.go@03b17ec03c81dd200eacc8ebfc8f53f36abb7847
//     (leaf keys RSA 4096; NotBefore the CA's NotBefore; serial below
//     2^63; keyEncipherment|digitalSignature; no basic constraints)

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func init() { All["kops"] = Kops }

const (
	// kopsClusterName is the fixture's kOps cluster name (DNS-based, not a
	// gossip .k8s.local name).
	kopsClusterName = "kops.example.com"
	kopsDNSSuffix   = ".internal." + kopsClusterName

	kopsPKIParent   = "/etc/kubernetes/pki"
	kopsManifests   = "/etc/kubernetes/manifests"
	kopsAPIServer   = "/srv/kubernetes/kube-apiserver"
	kopsAPIClientCA = kopsAPIServer + "/etcd-ca.crt"
	kopsAPIClient   = kopsAPIServer + "/etcd-client"

	kopsCAValidity   = 10 * 365 * 24 * time.Hour // SignNewCertificate default
	kopsCABackdate   = 48 * time.Hour            // SignNewCertificate NotBefore
	kopsLeafValidity = 2 * 365 * 24 * time.Hour  // etcd-manager CertDuration
	kopsLeafRSABits  = 4096                      // etcd-manager rsaKeySize

	kopsImage = "registry.k8s.io/etcd-manager/etcd-manager-slim:v3.0.20241009"
)

// kopsEtcdCluster is one of the etcd clusters kOps runs.
type kopsEtcdCluster struct {
	name        string // main, events
	clusterName string // etcd-manager --cluster-name
	peerPort    int
	clientPort  int
	grpcPort    int
	quarantine  int
	cpu         string
	logFile     string
}

var kopsClusters = []kopsEtcdCluster{
	{name: "main", clusterName: "etcd", peerPort: 2380, clientPort: 4001, grpcPort: 3996, quarantine: 3994, cpu: "200m", logFile: "/var/log/etcd.log"},
	{name: "events", clusterName: "etcd-events", peerPort: 2381, clientPort: 4002, grpcPort: 3997, quarantine: 3995, cpu: "100m", logFile: "/var/log/etcd-events.log"},
}

// pkiDir is the host directory nodeup fills for the cluster's
// etcd-manager.
func (c kopsEtcdCluster) pkiDir() string { return kopsPKIParent + "/etcd-manager-" + c.name }

// member is the etcd member (and etcd-manager peer) name of the i-th
// control plane node: <cluster-name>-<volume tag token>, the tokens being
// the instance group names kOps gives the etcd members (a, b, c, …).
func (c kopsEtcdCluster) member(i int) string { return c.clusterName + "-" + kopsMemberToken(i) }

// dnsName is what "__name__" expands to in the URLs.
func (c kopsEtcdCluster) dnsName(i int) string { return c.member(i) + kopsDNSSuffix }

func kopsMemberToken(i int) string {
	if i < 26 {
		return string(rune('a' + i))
	}
	return fmt.Sprintf("m%d", i)
}

// kopsVolumeID is a stable EBS volume ID for the cluster's volume on a
// node.
func kopsVolumeID(c kopsEtcdCluster, host string) string {
	sum := sha256.Sum256([]byte(kopsClusterName + "/" + c.name + "/" + host))
	return "vol-0" + hex.EncodeToString(sum[:8])
}

// kopsClusterToken is the token etcd-manager's leader picked when it
// created the etcd cluster (controller randomToken; the same for every
// member). Its exact format was not checked; this one is stable.
func kopsClusterToken(c kopsEtcdCluster) string {
	sum := sha256.Sum256([]byte(kopsClusterName + "/" + c.name + "/token"))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// kopsDataDir is the member's etcd-manager base directory on the host:
// the volume's mount point.
func kopsDataDir(c kopsEtcdCluster, host string) string {
	return "/mnt/master-" + kopsVolumeID(c, host)
}

// kopsMemberPKI is etcdserver.go's pkiDir: <base>/pki/<cluster token>.
func kopsMemberPKI(c kopsEtcdCluster, host string) string {
	return kopsDataDir(c, host) + "/pki/" + kopsClusterToken(c)
}

// Kops writes a kOps control plane: per node the CAs nodeup installs for
// etcd-manager (main and events), each etcd member's certificates in its
// volume under /mnt/master-<volume>/pki/<cluster token>/{peers,clients},
// the etcd-manager static pod manifests, and kube-apiserver's etcd
// client in /srv/kubernetes/kube-apiserver. Member names are main's
// ("etcd-a", "etcd-b", …).
//
// OmitIP leaves the node's address out of its peer certs (the only certs
// that carry it). ForeignCA gives the node CAs of its own for everything;
// OwnPeerCA gives it its own etcd-peers-ca for main and events (and peer
// certs signed by them); OwnClientCA its own etcd-clients-ca (and serving
// certs and the kube-apiserver client signed by it).
func Kops(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	nodes := opts.nodes()
	opts.checkHosts(t, nodes)
	now := opts.now()
	keys := NewKeys(t)
	leafKeys := kopsRSA4096(t, 2*len(kopsClusters)*len(nodes))

	cluster := kopsNewCAs(t, keys, now)
	f := &Fixture{Distribution: "kops", Nodes: nodes}
	for i, n := range nodes {
		cas := cluster
		// CAs made by another kops state store, a moment earlier.
		own := func() *kopsCAs { return kopsNewCAs(t, keys, now.Add(-time.Duration(i+1)*time.Second)) }
		switch n.Host {
		case opts.ForeignCA:
			cas = own()
		case opts.OwnPeerCA, opts.OwnClientCA:
			mine := own()
			c := *cluster
			c.peers = map[string]*pki.CA{}
			for k, v := range cluster.peers {
				c.peers[k] = v
			}
			if n.Host == opts.OwnPeerCA {
				c.peers = mine.peers
			}
			if n.Host == opts.OwnClientCA {
				c.clients = mine.clients
			}
			cas = &c
		}
		root := layout.MemberDir(dir, n.Host)
		mk := leafKeys[i*2*len(kopsClusters) : (i+1)*2*len(kopsClusters)]
		kopsWriteNode(t, root, keys, cas, i, n, n.Host == opts.OmitIP, mk, now)
		f.Dirs = append(f.Dirs, root)
		f.Members = append(f.Members, kopsClusters[0].member(i))
	}
	return f
}

var (
	kopsPoolMu sync.Mutex
	kopsPool   []crypto.Signer
)

// kopsRSA4096 returns n distinct RSA-4096 keys, the size etcd-manager
// gives its leaves. They take about a second each to generate, so the
// process keeps them and every kOps fixture uses the same ones (distinct
// within a fixture, as on a real cluster).
func kopsRSA4096(t testing.TB, n int) []crypto.Signer {
	t.Helper()
	kopsPoolMu.Lock()
	defer kopsPoolMu.Unlock()
	if missing := n - len(kopsPool); missing > 0 {
		out := make([]crypto.Signer, missing)
		errs := make([]error, missing)
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.NumCPU())
		for i := range out {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				k, err := rsa.GenerateKey(rand.Reader, kopsLeafRSABits)
				out[i], errs[i] = k, err
			}(i)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("distro: generating RSA-%d key: %v", kopsLeafRSABits, err)
			}
		}
		kopsPool = append(kopsPool, out...)
	}
	return append([]crypto.Signer(nil), kopsPool[:n]...)
}

// kopsCAs are the kOps keysets a node's etcd uses.
type kopsCAs struct {
	manager map[string]*pki.CA // etcd-manager-ca-<cluster>
	peers   map[string]*pki.CA // etcd-peers-ca-<cluster>
	clients *pki.CA            // etcd-clients-ca
}

func kopsNewCAs(t testing.TB, keys *Keys, now time.Time) *kopsCAs {
	t.Helper()
	c := &kopsCAs{manager: map[string]*pki.CA{}, peers: map[string]*pki.CA{}}
	for _, e := range kopsClusters {
		c.manager[e.name] = kopsCA(t, keys.RSA(), "etcd-manager-ca-"+e.name, now)
		c.peers[e.name] = kopsCA(t, keys.RSA(), "etcd-peers-ca-"+e.name, now)
	}
	c.clients = kopsCA(t, keys.RSA(), "etcd-clients-ca", now)
	return c
}

// kopsCA is pki.IssueCert of type "ca" (a Keypair task with subject
// cn=<name>): self-signed, CA:TRUE, cRLSign|keyCertSign, NotBefore 48h
// back, 10 years, a random 128-bit serial; Go adds the SKID of a CA.
func kopsCA(t testing.TB, key crypto.Signer, name string, now time.Time) *pki.CA {
	t.Helper()
	tmpl := &x509.Certificate{
		BasicConstraintsValid: true,
		IsCA:                  true,
		SerialNumber:          randSerial(t, pow2(128)),
		KeyUsage:              x509.KeyUsageCRLSign | x509.KeyUsageCertSign,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-kopsCABackdate),
		NotAfter:              now.Add(kopsCAValidity),
	}
	return selfSignedCA(t, tmpl, key)
}

// kopsEtcdLeaf is etcd-manager newSignedCert.
func kopsEtcdLeaf(t testing.TB, ca *pki.CA, key crypto.Signer, cn string, dns []string, ips []net.IP, ekus []x509.ExtKeyUsage, now time.Time) *x509.Certificate {
	t.Helper()
	return newSignedCert(t, ca, key, pkix.Name{CommonName: cn}, dns, ips, ekus, now, kopsLeafValidity)
}

// kopsAddAltNames is pki.go addAltNames for https URLs of a DNS host:
// the host as a DNS name, then 127.0.0.1 and ::1 unless 127.0.0.1 is
// already there (in which case it returns early, adding nothing more).
func kopsAddAltNames(dns []string, ips []net.IP, host string) ([]string, []net.IP) {
	dns = append(dns, host)
	for _, ip := range ips {
		if ip.String() == "127.0.0.1" {
			return dns, ips
		}
	}
	ips = append(ips, net.ParseIP("127.0.0.1"))
	for _, ip := range ips {
		if ip.String() == "::1" {
			return dns, ips
		}
	}
	return dns, append(ips, net.ParseIP("::1"))
}

func kopsWriteNode(t testing.TB, root string, keys *Keys, cas *kopsCAs, i int, n Node, omitIP bool, leafKeys []crypto.Signer, now time.Time) {
	t.Helper()
	// Keys are RSA PRIVATE KEY (PKCS#1), as kOps and etcd-manager write them.
	fs := nodeFS{t: t, root: root}
	var dirs []string
	for ci, c := range kopsClusters {
		// nodeup: the CA pairs for this cluster's etcd-manager.
		for _, ca := range []struct {
			file string
			ca   *pki.CA
		}{
			{"etcd-manager-ca", cas.manager[c.name]},
			{"etcd-peers-ca", cas.peers[c.name]},
			{"etcd-clients-ca", cas.clients},
		} {
			fs.cert(c.pkiDir()+"/"+ca.file+".crt", 0o644, ca.ca.Cert)
			fs.key(c.pkiDir()+"/"+ca.file+".key", 0o600, ca.ca.Key)
		}

		// etcd-manager createKeypairs for this member.
		name, host := c.member(i), c.dnsName(i)
		var peerIPs []net.IP
		if !omitIP {
			peerIPs = append(peerIPs, net.ParseIP(n.IP)) // peerClientIPs
		}
		peerDNS, peerIPs := kopsAddAltNames([]string{name}, peerIPs, host)
		serverDNS, serverIPs := kopsAddAltNames([]string{name}, nil, host) // ClientUrls
		serverDNS, serverIPs = kopsAddAltNames(serverDNS, serverIPs, host) // PeerUrls

		peerKey, serverKey := leafKeys[2*ci], leafKeys[2*ci+1]
		peersCA, clientsCA := cas.peers[c.name], cas.clients
		peer := kopsEtcdLeaf(t, peersCA, peerKey, name, peerDNS, peerIPs,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, now)
		server := kopsEtcdLeaf(t, clientsCA, serverKey, name, serverDNS, serverIPs,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, now)

		p := kopsMemberPKI(c, n.Host)
		fs.cert(p+"/peers/ca.crt", 0o644, peersCA.Cert)
		fs.cert(p+"/peers/me.crt", 0o644, peer)
		fs.key(p+"/peers/me.key", 0o600, peerKey)
		fs.cert(p+"/clients/ca.crt", 0o644, clientsCA.Cert)
		fs.cert(p+"/clients/server.crt", 0o644, server)
		fs.key(p+"/clients/server.key", 0o600, serverKey)
		dirs = append(dirs, kopsDataDir(c, n.Host)+"/pki", p, p+"/peers", p+"/clients")

		fs.file(kopsManifests+"/etcd-"+c.name+".manifest", 0o440, kopsManifest(c))
	}

	// nodeup: kube-apiserver's etcd client, issued on the node from
	// etcd-clients-ca.
	apiKey := keys.RSA()
	tmpl := &x509.Certificate{
		BasicConstraintsValid: true,
		SerialNumber:          randSerial(t, pow2(128)),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		Subject:               pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:             now.Add(-kopsCABackdate),
		NotAfter:              now.Add(time.Duration(kopsValidHours(n)) * time.Hour).UTC(),
	}
	api := testca.Sign(t, tmpl, cas.clients.Cert, apiKey.Public(), cas.clients.Key)
	fs.cert(kopsAPIClientCA, 0o644, cas.clients.Cert)
	fs.cert(kopsAPIClient+".crt", 0o644, api)
	fs.key(kopsAPIClient+".key", 0o600, apiKey)

	// Directory modes: nodeup's 0755; etcd-manager's pki dirs 0700.
	fs.chmod(0o755, "/etc", "/etc/kubernetes", kopsPKIParent, kopsManifests,
		"/srv", "/srv/kubernetes", kopsAPIServer, "/mnt")
	for _, c := range kopsClusters {
		fs.chmod(0o755, c.pkiDir(), kopsDataDir(c, n.Host))
	}
	fs.chmod(0o700, dirs...)
}

// kopsValidHours is issue_cert.go's validity: 455 days plus a skew below
// 30 days hashed from the node's interface addresses (here its IP).
func kopsValidHours(n Node) uint32 {
	h := fnv.New32()
	_, _ = h.Write([]byte(n.IP))
	return 455*24 + h.Sum32()%(30*24)
}

// The etcd-manager pod as kOps renders it (sigs.k8s.io/yaml sorts keys,
// as kOps' own YAML output is).
type (
	kopsPod struct {
		APIVersion string      `json:"apiVersion"`
		Kind       string      `json:"kind"`
		Metadata   kopsMeta    `json:"metadata"`
		Spec       kopsPodSpec `json:"spec"`
		Status     struct{}    `json:"status"`
	}
	kopsMeta struct {
		Annotations       map[string]string `json:"annotations"`
		CreationTimestamp *string           `json:"creationTimestamp"`
		Labels            map[string]string `json:"labels"`
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
	}
	kopsPodSpec struct {
		Containers        []kopsContainer  `json:"containers"`
		HostNetwork       bool             `json:"hostNetwork"`
		HostPID           bool             `json:"hostPID"`
		PriorityClassName string           `json:"priorityClassName"`
		Tolerations       []map[string]any `json:"tolerations"`
		Volumes           []kopsVolume     `json:"volumes"`
	}
	kopsContainer struct {
		Command         []string        `json:"command"`
		Image           string          `json:"image"`
		Name            string          `json:"name"`
		Resources       map[string]any  `json:"resources"`
		SecurityContext map[string]bool `json:"securityContext"`
		VolumeMounts    []kopsVolumeMnt `json:"volumeMounts"`
	}
	kopsVolumeMnt struct {
		MountPath string `json:"mountPath"`
		Name      string `json:"name"`
	}
	kopsVolume struct {
		HostPath map[string]string `json:"hostPath"`
		Name     string            `json:"name"`
	}
)

func kopsManifest(c kopsEtcdCluster) []byte {
	args := []string{
		"--backup-store=s3://kops-state-store/" + kopsClusterName + "/backups/etcd/" + c.name,
		fmt.Sprintf("--client-urls=https://__name__:%d", c.clientPort),
		"--cluster-name=" + c.clusterName,
		"--containerized=true",
		"--dns-suffix=" + kopsDNSSuffix,
		fmt.Sprintf("--grpc-port=%d", c.grpcPort),
		fmt.Sprintf("--peer-urls=https://__name__:%d", c.peerPort),
		fmt.Sprintf("--quarantine-client-urls=https://__name__:%d", c.quarantine),
		"--v=6",
		"--volume-name-tag=k8s.io/etcd/" + c.name,
		"--volume-provider=aws",
		"--volume-tag=k8s.io/etcd/" + c.name,
		"--volume-tag=k8s.io/role/master=1",
		"--volume-tag=kubernetes.io/cluster/" + kopsClusterName + "=owned",
	}
	script := "mkfifo /tmp/pipe; (tee -a /var/log/etcd.log < /tmp/pipe & ) ; exec /etcd-manager " +
		strings.Join(args, " ") + " > /tmp/pipe 2>&1"
	pod := kopsPod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: kopsMeta{
			Annotations: map[string]string{"scheduler.alpha.kubernetes.io/critical-pod": ""},
			Labels:      map[string]string{"k8s-app": "etcd-manager-" + c.name},
			Name:        "etcd-manager-" + c.name,
			Namespace:   "kube-system",
		},
		Spec: kopsPodSpec{
			Containers: []kopsContainer{{
				Command: []string{"/bin/sh", "-c", script},
				Image:   kopsImage,
				Name:    "etcd-manager",
				Resources: map[string]any{"requests": map[string]string{
					"cpu": c.cpu, "memory": "100Mi"}},
				SecurityContext: map[string]bool{"privileged": true},
				VolumeMounts: []kopsVolumeMnt{
					{MountPath: "/rootfs", Name: "rootfs"},
					{MountPath: "/run", Name: "run"},
					{MountPath: "/etc/kubernetes/pki/etcd-manager", Name: "pki"},
					{MountPath: "/var/log/etcd.log", Name: "varlogetcd"},
				},
			}},
			HostNetwork:       true,
			HostPID:           true,
			PriorityClassName: "system-cluster-critical",
			Tolerations:       []map[string]any{{"key": "CriticalAddonsOnly", "operator": "Exists"}},
			Volumes: []kopsVolume{
				{HostPath: map[string]string{"path": "/", "type": "Directory"}, Name: "rootfs"},
				{HostPath: map[string]string{"path": "/run", "type": "DirectoryOrCreate"}, Name: "run"},
				{HostPath: map[string]string{"path": c.pkiDir(), "type": "DirectoryOrCreate"}, Name: "pki"},
				{HostPath: map[string]string{"path": c.logFile, "type": "FileOrCreate"}, Name: "varlogetcd"},
			},
		},
	}
	data, err := yaml.Marshal(pod)
	if err != nil {
		panic(err) // static types, cannot fail
	}
	return data
}
