package distro

// etcdadm: a standalone etcd cluster, as `etcdadm init` on the first node
// and `etcdadm join https://<first>:2379` on each other node (after the
// CA certificate and key were copied to its certificate directory, as
// init's closing message asks) leave it with the default systemd init
// system and flags.
//
// Sources (kubernetes-retired/etcdadm, formerly kubernetes-sigs/etcdadm;
// stored copies, the newest found):
//
//   - constants/constants.go@04a5b340ce40c21ffd42fc1d96afd4b4d3109922:
//     DefaultCertificateDir /etc/etcd/pki, UnitFile, EnvironmentFile
//     /etc/etcd/etcd.env, EtcdctlEnvFile, DefaultDataDir,
//     DefaultInstallDir /opt/bin/, the ports, the certificate base names,
//     MastersGroup, UnitFileTemplate, EtcdctlEnvFileTemplate
//   - apis/config.go, the newest copy (with InitSystem, EnableV2,
//     ListenMetricsURLs; the index showed no commit for it):
//     setDynamicDefaults (name = hostname), DefaultServerCertSANs,
//     DefaultPeerCertSANs, the default URLs, SetInitDynamicDefaults
//     (state new, an 8-character token, InitialCluster of itself),
//     SetJoinDynamicDefaults (state existing)
//   - cmd/init.go@c07160d78af731d509b373352a3312daa3cc94a4 and
//     cmd/join.go@d650567b12c4e78d60ef3d045259c90cf849ea62 (the join
//     member's InitialCluster: the others, then itself)
//   - certs/certs.go@390cf0ac915c93bc73b4d0701643284cd72f0490 (the four
//     leaves, their CNs, organizations and EKUs)
//   - certs/pkiutil/pki_helpers.go@492b9b02349f7ddfeea6788fd3fe322d7bf1f9f8
//     (RSA-2048, CA CN "etcd", NewSignedCert, ten-year leaves, PKCS#1 keys)
//   - go.mod, the newest copy: k8s.io/client-go v0.26.0, whose
//     util/cert NewSelfSignedCACert gives serial 0, DNSNames {CommonName}
//     (kubernetes/kubernetes#100324), ten years, and whose WriteCert /
//     keyutil.WriteKey write 0644 / 0600 under MkdirAll(0755)
//   - service/unit.go, the newest copy (BuildEnvironment; etcd.env 0600)
//     and service/testdata/buildenvironment/{simple,complex}/want.txt@561c9ee3b58c4b0163a192ee2e0bab65c536bba5
//     (the rendered environment file, its optional lines and blank lines)
//   - initsystem/systemd.go@cbb3da8c5ff6fd50399cda32cbe9881fd1ebd3b6
//     (the unit file, 0755) and service/etcdctl.go@acd9c451e9bfb5f1bc16a19100afae3712832b89
//     (etcdctl.env, 0600)

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

func init() {
	All["etcdadm"] = Etcdadm
}

// Etcdadm writes an etcdadm cluster: the first node initialised it, the
// others joined in order. Every member holds the one CA (certificate and
// key, copied from the first node) and its own server, peer,
// etcdctl-etcd-client and apiserver-etcd-client pairs under
// /etc/etcd/pki; etcd reads its settings from /etc/etcd/etcd.env through
// /etc/systemd/system/etcd.service. Member names are the host names.
//
// OmitIP leaves that host's IP out of its server and peer certs.
// ForeignCA gives that host a CA of its own (as `etcdadm init` on it
// would) and signs all its leaves with it. etcdadm has one etcd CA, so
// OwnPeerCA and OwnClientCA fail the test.
func Etcdadm(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	opts.refuseOwnCAs(t, "etcdadm has one etcd CA for peers and clients")
	nodes := opts.nodes()
	now := opts.now()
	keys := NewKeys(t)
	ca := etcdadmCA(t, keys, now)

	f := &Fixture{Distribution: "etcdadm", Nodes: nodes}
	var members []string // name=peerURL of the members so far
	for i, n := range nodes {
		root := layout.MemberDir(dir, n.Host)
		fs := nodeFS{t: t, root: root}
		// MkdirAll(0755) in WriteCert/WriteKey, WriteEnvironmentFile and
		// writeUnitFile.
		fs.dirs(0o755, "/", "/etc", etcdadmEtcDir, etcdadmPKIDir, "/etc/systemd", "/etc/systemd/system")

		nodeCA := ca
		if n.Host == opts.ForeignCA {
			// `etcdadm init` on this node: a CA of its own, made a moment apart.
			nodeCA = etcdadmCA(t, keys, now.Add(-time.Duration(i+1)*time.Second))
		}
		omit := n.Host == opts.OmitIP
		name := n.Host // setDynamicDefaults: os.Hostname()
		peerURL := "https://" + net.JoinHostPort(n.IP, strconv.Itoa(etcdadmPeerPort))
		clientURL := "https://" + net.JoinHostPort(n.IP, strconv.Itoa(etcdadmClientPort))

		// CreatePKIAssets: the CA (written by init; copied by hand before
		// join, with its modes), then server, peer, etcdctl and
		// apiserver client, each with a new key (pkiutil.NewCertAndKey).
		// certutil.WriteCert writes one PEM block, 0644; keyutil.WriteKey
		// of EncodePrivateKeyPEM a PKCS#1 key, 0600.
		fs.cert(etcdadmPKIDir+"/ca.crt", 0o644, nodeCA.Cert)
		fs.key(etcdadmPKIDir+"/ca.key", 0o600, nodeCA.Key)
		both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		// DefaultServerCertSANs: the name, then the host names of the
		// advertise and listen client URLs (the node IP and 127.0.0.1;
		// from a map, so in no fixed order); DefaultPeerCertSANs: the
		// name and the peer URLs' host (the node IP).
		serverIPs := []net.IP{net.ParseIP(n.IP), net.ParseIP(etcdadmLoopback)}
		peerIPs := []net.IP{net.ParseIP(n.IP)}
		if omit {
			serverIPs, peerIPs = []net.IP{net.ParseIP(etcdadmLoopback)}, nil
		}
		leaves := []struct {
			base string
			cn   string
			org  []string
			dns  []string
			ips  []net.IP
			ekus []x509.ExtKeyUsage
		}{
			{"server", name, nil, []string{name}, serverIPs, both},
			{"peer", name, nil, []string{name}, peerIPs, both},
			{"etcdctl-etcd-client", name + "-etcdctl", []string{etcdadmMastersGroup}, nil, nil, client},
			{"apiserver-etcd-client", name + "-kube-apiserver-etcd-client", []string{etcdadmMastersGroup}, nil, nil, client},
		}
		for _, l := range leaves {
			key := keys.RSA()
			cert := etcdadmLeaf(t, nodeCA, key, l.cn, l.org, l.dns, l.ips, l.ekus, now)
			// WriteCertAndKey: the key, then the certificate.
			fs.key(etcdadmPKIDir+"/"+l.base+".key", 0o600, key)
			fs.cert(etcdadmPKIDir+"/"+l.base+".crt", 0o644, cert)
		}

		self := name + "=" + peerURL
		env := etcdadmEnv{
			Name:                     name,
			InitialCluster:           strings.Join(append(append([]string(nil), members...), self), ","),
			InitialClusterState:      "existing",
			InitialAdvertisePeerURLs: peerURL,
			ListenPeerURLs:           peerURL,
			AdvertiseClientURLs:      clientURL,
			ListenClientURLs:         clientURL + ",https://" + net.JoinHostPort(etcdadmLoopback, strconv.Itoa(etcdadmClientPort)),
		}
		if i == 0 {
			env.InitialClusterState = "new"
			env.InitialClusterToken = etcdadmToken(n.Host)
		}
		members = append(members, self)
		fs.file(etcdadmEnvFile, 0o600, env.render())
		fs.file(etcdadmUnitFile, 0o755, []byte(etcdadmUnit))
		fs.file(etcdadmEtcdctlEnv, 0o600, []byte(etcdadmEtcdctlEnvFile))

		f.Dirs = append(f.Dirs, root)
		f.Members = append(f.Members, name)
	}
	return f
}

// Node paths and defaults etcdadm uses.
const (
	etcdadmEtcDir       = "/etc/etcd"
	etcdadmPKIDir       = "/etc/etcd/pki" // DefaultCertificateDir
	etcdadmEnvFile      = "/etc/etcd/etcd.env"
	etcdadmEtcdctlEnv   = "/etc/etcd/etcdctl.env"
	etcdadmUnitFile     = "/etc/systemd/system/etcd.service"
	etcdadmDataDir      = "/var/lib/etcd"
	etcdadmInstallDir   = "/opt/bin" // DefaultInstallDir
	etcdadmLoopback     = "127.0.0.1"
	etcdadmClientPort   = 2379
	etcdadmPeerPort     = 2380
	etcdadmMastersGroup = "system:masters"
	// GOMAXPROCS is runtime.NumCPU() of the node; a two-CPU node here.
	etcdadmGOMAXPROCS = 2
	// certificateValidity (leaves) and NewSelfSignedCACert's (CA): ten
	// 365-day years.
	etcdadmValidity = 10 * 365 * 24 * time.Hour
)

// etcdadmToken is SetInitDynamicDefaults' uuid.NewV4().String()[0:8]:
// eight hex digits, here from the host name so fixtures are reproducible.
func etcdadmToken(host string) string {
	sum := sha256.Sum256([]byte("etcdadm-token/" + host))
	return hex.EncodeToString(sum[:4])
}

// etcdadmCA is pkiutil.NewCertificateAuthority: an RSA-2048 key and
// client-go's NewSelfSignedCACert with CN "etcd": serial 0, DNS SAN
// "etcd", NotBefore now, ten years, keyEncipherment|digitalSignature|
// keyCertSign, CA:TRUE (Go adds the CA's subject key ID).
func etcdadmCA(t testing.TB, keys *Keys, now time.Time) *pki.CA {
	t.Helper()
	return newSelfSignedCACert(t, keys.RSA(), big.NewInt(0), "etcd", []string{"etcd"}, now, etcdadmValidity)
}

// etcdadmLeaf is pkiutil.NewSignedCert: a random serial below 2^63, the
// CA's NotBefore, ten years from now, keyEncipherment|digitalSignature,
// the given EKUs, subject and SANs; no basic constraints and no subject
// key ID (Go sets the authority key ID from the CA).
func etcdadmLeaf(t testing.TB, ca *pki.CA, key crypto.Signer, cn string, org, dns []string, ips []net.IP, ekus []x509.ExtKeyUsage, now time.Time) *x509.Certificate {
	t.Helper()
	return newSignedCert(t, ca, key, pkix.Name{CommonName: cn, Organization: org}, dns, ips, ekus, now, etcdadmValidity)
}

// etcdadmEnv is the part of EtcdAdmConfig the environment file shows.
type etcdadmEnv struct {
	Name                     string
	InitialCluster           string
	InitialClusterToken      string // set by init only
	InitialClusterState      string
	InitialAdvertisePeerURLs string
	ListenPeerURLs           string
	AdvertiseClientURLs      string
	ListenClientURLs         string
}

// render is BuildEnvironment with EnvFileTemplate as the golden files of
// service/testdata show it: the cert paths are setDynamicDefaults' (the
// certificates dir and the constants' file names); a line whose value is
// unset (the join member's token; EnableV2, Logger, LogOutputs and
// ListenMetricsURLs, which init and join leave empty) stays as an empty
// line; ETCD_CLIENT_CERT_AUTH sits in the peer block and
// ETCD_PEER_CLIENT_CERT_AUTH in the client block, as etcdadm writes them.
func (e etcdadmEnv) render() []byte {
	pkiFile := func(name string) string { return path.Join(etcdadmPKIDir, name) }
	optional := func(key, value string) string {
		if value == "" {
			return ""
		}
		return key + "=" + value
	}
	lines := []string{
		"ETCD_NAME=" + e.Name,
		"",
		"# Initial cluster configuration",
		"ETCD_INITIAL_CLUSTER=" + e.InitialCluster,
		optional("ETCD_INITIAL_CLUSTER_TOKEN", e.InitialClusterToken),
		"ETCD_INITIAL_CLUSTER_STATE=" + e.InitialClusterState,
		"",
		"# Peer configuration",
		"ETCD_INITIAL_ADVERTISE_PEER_URLS=" + e.InitialAdvertisePeerURLs,
		"ETCD_LISTEN_PEER_URLS=" + e.ListenPeerURLs,
		"",
		"ETCD_CLIENT_CERT_AUTH=true",
		"ETCD_PEER_CERT_FILE=" + pkiFile("peer.crt"),
		"ETCD_PEER_KEY_FILE=" + pkiFile("peer.key"),
		"ETCD_PEER_TRUSTED_CA_FILE=" + pkiFile("ca.crt"),
		"",
		"# Client/server configuration",
		"ETCD_ADVERTISE_CLIENT_URLS=" + e.AdvertiseClientURLs,
		"ETCD_LISTEN_CLIENT_URLS=" + e.ListenClientURLs,
		"",
		"ETCD_PEER_CLIENT_CERT_AUTH=true",
		"ETCD_CERT_FILE=" + pkiFile("server.crt"),
		"ETCD_KEY_FILE=" + pkiFile("server.key"),
		"ETCD_TRUSTED_CA_FILE=" + pkiFile("ca.crt"),
		"",
		"# Other",
		"ETCD_DATA_DIR=" + etcdadmDataDir,
		"ETCD_STRICT_RECONFIG_CHECK=true",
		"GOMAXPROCS=" + strconv.Itoa(etcdadmGOMAXPROCS),
		"", // ETCD_ENABLE_V2
		"",
		"# Logging configuration",
		"", // ETCD_LOGGER
		"", // ETCD_LOG_OUTPUTS
		"",
		"# Profiling/metrics",
		"", // ETCD_LISTEN_METRICS_URLS
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// etcdadmUnit is UnitFileTemplate with EnvironmentFile and EtcdExecutable
// (InstallDir/etcd) filled in.
const etcdadmUnit = `[Unit]
Description=etcd
Documentation=https://github.com/coreos/etcd
Conflicts=etcd-member.service
Conflicts=etcd2.service

[Service]
EnvironmentFile=` + etcdadmEnvFile + `
ExecStart=` + etcdadmInstallDir + `/etcd

Type=notify
TimeoutStartSec=0
Restart=on-failure
RestartSec=5s

LimitNOFILE=65536
Nice=-10
IOSchedulingClass=best-effort
IOSchedulingPriority=2

[Install]
WantedBy=multi-user.target
`

// etcdadmEtcdctlEnvFile is EtcdctlEnvFileTemplate for the default
// certificates dir: etcdctl's client credential is etcdctl-etcd-client.
const etcdadmEtcdctlEnvFile = `export ETCDCTL_API=3

export ETCDCTL_CACERT=` + etcdadmPKIDir + `/ca.crt
export ETCDCTL_CERT=` + etcdadmPKIDir + `/etcdctl-etcd-client.crt
export ETCDCTL_KEY=` + etcdadmPKIDir + `/etcdctl-etcd-client.key

export ETCDCTL_DIAL_TIMEOUT=3s
`
