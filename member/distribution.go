package member

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/etcdpki/etcdpki/pki"
)

// Distribution is where one kind of node keeps its etcd PKI and settings:
// kubeadm, etcdadm, kubespray, k3s, RKE2, OpenShift, Talos, kops
// etcd-manager. Every fact here is the distribution's own, with the
// source it comes from.
type Distribution struct {
	// Name is what --layout takes: "kubeadm", "etcdadm", "kubespray", ….
	Name string
	// Title names it for people.
	Title string
	// Roots are the node directories operators copy off a node, "/"
	// first: a member directory may stand for any of them.
	Roots []string
	// Markers are node paths whose presence identifies the distribution
	// (any one suffices).
	Markers []string
	// Settings are where etcd's settings live, in the order tried.
	Settings []SettingsSource
	// Files are the default node paths of each leaf kind, used when the
	// settings do not name them; "{host}" stands for the node's name.
	// Keys sit next to their certificates ([KeyPathFor]).
	Files map[pki.Kind]string
	// ClientCA and PeerCA are the trusted CA files of the client port
	// (2379) and the peer port (2380) by default.
	ClientCA, PeerCA string
	// APIServerManifest is kube-apiserver's static pod, if the
	// distribution has one.
	APIServerManifest string
	// K8sCA is the Kubernetes cluster CA, for CIS 2.7.
	K8sCA string
	// OtherMembersKeys are base-name patterns of other members' private
	// keys that the distribution copies to every node.
	OtherMembersKeys []string
	// SharedSANs: one SAN list naming every etcd host is on every leaf
	// (kubespray's openssl.conf), so a member's cert naming the others is
	// by design, not a fault.
	SharedSANs bool
	// Renew is the distribution's own way to re-issue a member's etcd
	// certificates, for fix texts; empty when it has none.
	Renew string
	// RenewSAN is its way to re-issue one from the profile (new SANs or
	// usages), where Renew copies the old certificate's.
	RenewSAN string
	// SigningCAs are node paths of CA certificates (each with its key
	// next to it, [KeyPathFor]) that sign the member's leaves but are not
	// its trusted CA files: renew on the node signs with them.
	SigningCAs []string
	// Base, when set, is a node path pattern ("*" per component) for a
	// directory that "{base}" in Files, ClientCA and PeerCA stands for
	// (kops keeps each member's certificates in its volume, under
	// /mnt/master-<volume>/pki/<cluster token>). ChooseBase picks one of
	// several matches (main's, not events'); nil takes the first.
	Base       string
	ChooseBase func(in *Input, matches []string) string
}

// SettingsSource is one place a distribution keeps etcd's settings.
type SettingsSource struct {
	// Path is the node path.
	Path string
	// Format is one of "manifest", "config", "env", "unit", "flags".
	Format string
}

// KeyPathFor is the key file that goes with a certificate file, as the
// distributions name them: x.crt → x.key, x.pem → x-key.pem.
func KeyPathFor(certPath string) string {
	switch {
	case strings.HasSuffix(certPath, ".crt"):
		return strings.TrimSuffix(certPath, ".crt") + ".key"
	case strings.HasSuffix(certPath, ".pem"):
		return strings.TrimSuffix(certPath, ".pem") + "-key.pem"
	}
	return ""
}

const (
	kubeadmPKI = "/etc/kubernetes/pki"
	etcdadmPKI = "/etc/etcd/pki"
	// kubespray roles/etcd/defaults/main.yml etcd_cert_dir
	kubesprayPKI = "/etc/ssl/etcd/ssl"
	// k3s pkg/daemons/control/deps/deps.go: DataDir/tls/etcd
	k3sTLS  = "/var/lib/rancher/k3s/server/tls/etcd"
	rke2TLS = "/var/lib/rancher/rke2/server/tls/etcd"
)

// Distributions lists every known layout, in detection order: the more
// specific first (a kubespray node also has /etc/kubernetes/pki).
var distributions = []*Distribution{
	{
		Name: "openshift", Title: "OpenShift",
		Roots:   []string{"/", "/etc/kubernetes"},
		Markers: []string{"/etc/kubernetes/manifests/etcd-pod.yaml", "/etc/kubernetes/static-pod-resources/etcd-certs"},
		// cluster-etcd-operator bindata/etcd/pod.yaml
		Settings: []SettingsSource{{"/etc/kubernetes/manifests/etcd-pod.yaml", "manifest"}},
		Files: map[pki.Kind]string{
			pki.KindServer: "/etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-certs/etcd-serving-{host}.crt",
			pki.KindPeer:   "/etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-certs/etcd-peer-{host}.crt",
			// cluster-kube-apiserver-operator: the etcd-client secret in
			// the newest kube-apiserver revision's resource directory.
			pki.KindAPIServerClient: "/etc/kubernetes/static-pod-resources/kube-apiserver-pod-*/secrets/etcd-client/tls.crt",
		},
		ClientCA:          "/etc/kubernetes/static-pod-resources/etcd-certs/configmaps/etcd-all-bundles/server-ca-bundle.crt",
		PeerCA:            "/etc/kubernetes/static-pod-resources/etcd-certs/configmaps/etcd-all-bundles/server-ca-bundle.crt",
		APIServerManifest: "/etc/kubernetes/manifests/kube-apiserver-pod.yaml",
		OtherMembersKeys:  []string{"etcd-peer-*.key", "etcd-serving-*.key", "etcd-serving-metrics-*.key"},
		Renew:             "the cluster-etcd-operator re-issues them (oc delete secret etcd-all-certs -n openshift-etcd, then wait for the new revision)",
	},
	{
		Name: "kubespray", Title: "kubespray",
		Roots:   []string{"/", "/etc/ssl/etcd", "/etc/ssl/etcd/ssl"},
		Markers: []string{kubesprayPKI + "/ca.pem"},
		// kubespray roles/etcd/templates/etcd.env.j2 and etcd-host.service.j2
		Settings: []SettingsSource{{"/etc/etcd.env", "env"}, {"/etc/systemd/system/etcd.service", "unit"}},
		Files: map[pki.Kind]string{
			pki.KindServer:            kubesprayPKI + "/member-{host}.pem",
			pki.KindPeer:              kubesprayPKI + "/member-{host}.pem",
			pki.KindHealthcheckClient: kubesprayPKI + "/admin-{host}.pem",
			pki.KindAPIServerClient:   kubesprayPKI + "/node-{host}.pem",
		},
		ClientCA: kubesprayPKI + "/ca.pem", PeerCA: kubesprayPKI + "/ca.pem",
		APIServerManifest: "/etc/kubernetes/manifests/kube-apiserver.yaml",
		K8sCA:             "/etc/kubernetes/ssl/ca.crt",
		OtherMembersKeys:  []string{"member-*-key.pem", "admin-*-key.pem", "node-*-key.pem"},
		SharedSANs:        true,
		Renew:             "re-run kubespray's cluster.yml with --tags=etcd-secrets after deleting the member's member-HOST.pem and member-HOST-key.pem on the first etcd node (roles/etcd gen_certs_script)",
	},
	{
		Name: "rke2", Title: "RKE2",
		Roots:   []string{"/", "/var/lib/rancher/rke2", "/var/lib/rancher/rke2/server"},
		Markers: []string{rke2TLS},
		// rke2 pkg/podexecutor/staticpod.go: etcd runs as a static pod
		// with --config-file; the file is k3s's server/db/etcd/config.
		Settings: []SettingsSource{{"/var/lib/rancher/rke2/agent/pod-manifests/etcd.yaml", "manifest"}, {"/var/lib/rancher/rke2/server/db/etcd/config", "config"}},
		Files: map[pki.Kind]string{
			pki.KindServer:          rke2TLS + "/server-client.crt",
			pki.KindPeer:            rke2TLS + "/peer-server-client.crt",
			pki.KindAPIServerClient: rke2TLS + "/client.crt",
		},
		ClientCA: rke2TLS + "/server-ca.crt", PeerCA: rke2TLS + "/peer-ca.crt",
		APIServerManifest: "/var/lib/rancher/rke2/agent/pod-manifests/kube-apiserver.yaml",
		K8sCA:             "/var/lib/rancher/rke2/server/tls/server-ca.crt",
		Renew:             "rke2 certificate rotate --service etcd (with rke2-server stopped), then start rke2-server",
	},
	{
		Name: "k3s", Title: "k3s",
		Roots:   []string{"/", "/var/lib/rancher/k3s", "/var/lib/rancher/k3s/server"},
		Markers: []string{k3sTLS},
		// k3s pkg/daemons/executor/etcd.go writes DataDir/db/etcd/config
		Settings: []SettingsSource{{"/var/lib/rancher/k3s/server/db/etcd/config", "config"}},
		Files: map[pki.Kind]string{
			pki.KindServer:          k3sTLS + "/server-client.crt",
			pki.KindPeer:            k3sTLS + "/peer-server-client.crt",
			pki.KindAPIServerClient: k3sTLS + "/client.crt",
		},
		ClientCA: k3sTLS + "/server-ca.crt", PeerCA: k3sTLS + "/peer-ca.crt",
		K8sCA: "/var/lib/rancher/k3s/server/tls/server-ca.crt",
		Renew: "k3s certificate rotate --service etcd (with k3s stopped), then start k3s",
	},
	{
		Name: "talos", Title: "Talos",
		// A bare copy of /system/secrets/etcd reads as etcdadm's flat
		// layout, which names the same files.
		Roots:   []string{"/", "/system/secrets"},
		Markers: []string{"/system/secrets/etcd/ca.crt", "/system/secrets/etcd/peer.crt"},
		Files: map[pki.Kind]string{
			pki.KindServer:            "/system/secrets/etcd/server.crt",
			pki.KindPeer:              "/system/secrets/etcd/peer.crt",
			pki.KindHealthcheckClient: "/system/secrets/etcd/admin.crt",
			// talos pkg/machinery/constants KubernetesAPIServerSecretsDir
			pki.KindAPIServerClient: "/system/secrets/kubernetes/kube-apiserver/etcd-client.crt",
		},
		ClientCA: "/system/secrets/etcd/ca.crt", PeerCA: "/system/secrets/etcd/ca.crt",
		Renew: "Talos re-issues etcd's leaf certificates when the etcd service restarts (talosctl service etcd restart)",
	},
	{
		Name: "kops", Title: "kops etcd-manager",
		Roots:   []string{"/"},
		Markers: []string{"/etc/kubernetes/pki/etcd-manager-main/etcd-peers-ca.crt"},
		// etcd-manager pkg/etcd/etcdserver.go: pkiDir <volume>/pki/<cluster
		// token>, peers/{ca.crt,me.crt,me.key}, clients/{ca.crt,server.crt,
		// server.key}; kops nodeup's etcdmanager builder installs the CAs
		// under /etc/kubernetes/pki/etcd-manager-<cluster>/. etcd's flags
		// are etcd-manager's to build, so nothing on disk says them.
		Base: "/mnt/master-*/pki/*",
		ChooseBase: func(in *Input, matches []string) string {
			// Main's member directory: its peers CA is main's.
			_, want, err := in.read("/etc/kubernetes/pki/etcd-manager-main/etcd-peers-ca.crt")
			for _, m := range matches {
				if _, got, gerr := in.read(m + "/peers/ca.crt"); err == nil && gerr == nil && string(got) == string(want) {
					return m
				}
			}
			return ""
		},
		Files: map[pki.Kind]string{
			pki.KindServer:          "{base}/clients/server.crt",
			pki.KindPeer:            "{base}/peers/me.crt",
			pki.KindAPIServerClient: "/srv/kubernetes/kube-apiserver/etcd-client.crt",
		},
		ClientCA: "{base}/clients/ca.crt", PeerCA: "{base}/peers/ca.crt",
		// nodeup writes etcd-manager's CA pairs here; etcd-manager signs
		// each member's certificates in its volume with them
		// (kops nodeup/pkg/model/etcd_manager_tls.go).
		SigningCAs: []string{"/etc/kubernetes/pki/etcd-manager-main/etcd-clients-ca.crt", "/etc/kubernetes/pki/etcd-manager-main/etcd-peers-ca.crt",
			"/etc/kubernetes/pki/etcd-manager-events/etcd-peers-ca.crt"},
		Renew: "etcd-manager re-issues the member certificates from the CAs in /etc/kubernetes/pki/etcd-manager-main when it restarts; kops rotates the CAs (kops docs: rotate secrets)",
	},
	{
		Name: "etcdadm", Title: "etcdadm / standalone etcd",
		Roots:   []string{"/", "/etc/etcd", etcdadmPKI},
		Markers: []string{etcdadmPKI + "/ca.crt", etcdadmPKI + "/server.crt", etcdadmPKI + "/peer.crt"},
		// etcdadm constants: EnvironmentFile /etc/etcd/etcd.env, unit
		// /etc/systemd/system/etcd.service
		Settings: []SettingsSource{{"/etc/etcd/etcd.env", "env"}, {"/etc/systemd/system/etcd.service", "unit"},
			{"/etc/etcd/etcd.conf.yml", "config"}, {"/etc/etcd/etcd.yaml", "config"}, {"/etc/etcd/etcd.flags", "flags"}},
		Files: map[pki.Kind]string{
			pki.KindServer:            etcdadmPKI + "/server.crt",
			pki.KindPeer:              etcdadmPKI + "/peer.crt",
			pki.KindHealthcheckClient: etcdadmPKI + "/etcdctl-etcd-client.crt",
			pki.KindAPIServerClient:   etcdadmPKI + "/apiserver-etcd-client.crt",
			pki.KindServerClient:      etcdadmPKI + "/server-client.crt",
			pki.KindPeerClient:        etcdadmPKI + "/peer-client.crt",
		},
		ClientCA: etcdadmPKI + "/ca.crt", PeerCA: etcdadmPKI + "/ca.crt",
	},
	{
		Name: "kubeadm", Title: "kubeadm",
		Roots:   []string{"/", "/etc/kubernetes", kubeadmPKI},
		Markers: []string{kubeadmPKI + "/etcd", "/etc/kubernetes/manifests/etcd.yaml"},
		// kubeadm cmd/kubeadm/app/constants: EtcdServerCertName …
		Settings: []SettingsSource{{"/etc/kubernetes/manifests/etcd.yaml", "manifest"}},
		Files: map[pki.Kind]string{
			pki.KindServer:            kubeadmPKI + "/etcd/server.crt",
			pki.KindPeer:              kubeadmPKI + "/etcd/peer.crt",
			pki.KindHealthcheckClient: kubeadmPKI + "/etcd/healthcheck-client.crt",
			pki.KindAPIServerClient:   kubeadmPKI + "/apiserver-etcd-client.crt",
			pki.KindServerClient:      kubeadmPKI + "/etcd/server-client.crt",
			pki.KindPeerClient:        kubeadmPKI + "/etcd/peer-client.crt",
		},
		ClientCA: kubeadmPKI + "/etcd/ca.crt", PeerCA: kubeadmPKI + "/etcd/ca.crt",
		APIServerManifest: "/etc/kubernetes/manifests/kube-apiserver.yaml",
		K8sCA:             kubeadmPKI + "/ca.crt",
		Renew:             "kubeadm certs renew etcd-server etcd-peer etcd-healthcheck-client apiserver-etcd-client (it keeps the old SANs and usages)",
		RenewSAN:          "delete the certificate and its key, then kubeadm init phase certs etcd-server, etcd-peer, etcd-healthcheck-client or apiserver-etcd-client --config with the member's SANs",
	},
}

// Distributions returns every known distribution, in detection order.
func Distributions() []*Distribution { return append([]*Distribution(nil), distributions...) }

// DistributionNames lists what --layout accepts.
func DistributionNames() []string {
	var n []string
	for _, d := range distributions {
		n = append(n, d.Name)
	}
	return n
}

// LookupDistribution returns the distribution called name. "etcd" is
// etcdadm's layout, as init calls it.
func LookupDistribution(name string) (*Distribution, error) {
	if name == "etcd" {
		name = "etcdadm"
	}
	for _, d := range distributions {
		if d.Name == name {
			return d, nil
		}
	}
	return nil, fmt.Errorf("unknown layout %q (want one of %s)", name, strings.Join(DistributionNames(), ", "))
}

// file is the default node path of kind for host.
func (d *Distribution) file(kind pki.Kind, host string) string {
	p := d.Files[kind]
	return strings.ReplaceAll(p, "{host}", host)
}

// newest resolves a node path pattern with "*" in one component to the
// newest match: the longest, then the last in order, so that
// kube-apiserver-pod-10 wins over kube-apiserver-pod-9. A path without
// "*" is returned as it is; one with no match too (and reads as missing).
func (in *Input) newest(pattern string) string {
	i := strings.Index(pattern, "*")
	if i < 0 {
		return pattern
	}
	dir := path.Dir(pattern[:i+1])
	rest := strings.TrimPrefix(pattern, dir+"/")
	first, tail, _ := strings.Cut(rest, "/")
	best := ""
	for _, m := range in.glob(dir, first) {
		if tail != "" && !in.exists(path.Join(m, tail)) {
			continue
		}
		if len(m) > len(best) || (len(m) == len(best) && m > best) {
			best = m
		}
	}
	if best == "" {
		return pattern
	}
	if tail == "" {
		return best
	}
	return path.Join(best, tail)
}

// base resolves the distribution's Base pattern in the member's tree:
// "" when it has none or nothing matches.
func (d *Distribution) base(in *Input) string {
	if d.Base == "" {
		return ""
	}
	matches := []string{"/"}
	for _, part := range strings.Split(strings.Trim(d.Base, "/"), "/") {
		var next []string
		for _, m := range matches {
			if strings.Contains(part, "*") {
				for _, p := range in.glob(m, part) {
					if in.isDir(p) {
						next = append(next, p)
					}
				}
			} else if p := path.Join(m, part); in.isDir(p) {
				next = append(next, p)
			}
		}
		matches = next
	}
	sort.Strings(matches)
	if len(matches) == 0 {
		return ""
	}
	if d.ChooseBase != nil {
		if m := d.ChooseBase(in, matches); m != "" {
			return m
		}
	}
	return matches[0]
}
