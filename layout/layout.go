package layout

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// Layout maps certificate kinds to file paths on a node.
type Layout struct {
	// Name is spec.LayoutKubeadm or spec.LayoutEtcd.
	Name string
	// PKIDir is the node's PKI directory, e.g. /etc/kubernetes/pki.
	PKIDir string
	// DataDir is etcd's --data-dir on the node.
	DataDir string
	// base holds each kind's file name without extension, relative to PKIDir.
	base map[pki.Kind]string
}

// Kubeadm is kubeadm's layout: the etcd files under pki/etcd/, the
// apiserver's etcd client cert directly under pki/ (kubeadm's constants
// EtcdServerCertName, EtcdPeerCertName, EtcdHealthcheckClientCertName and
// APIServerEtcdClientCertName).
var Kubeadm = &Layout{
	Name:    spec.LayoutKubeadm,
	PKIDir:  "/etc/kubernetes/pki",
	DataDir: "/var/lib/etcd",
	base: map[pki.Kind]string{
		pki.KindCA:                "etcd/ca",
		pki.KindServer:            "etcd/server",
		pki.KindPeer:              "etcd/peer",
		pki.KindHealthcheckClient: "etcd/healthcheck-client",
		pki.KindAPIServerClient:   "apiserver-etcd-client",
		pki.KindServerClient:      "etcd/server-client",
		pki.KindPeerClient:        "etcd/peer-client",
	},
}

// Etcd is a standalone etcd node's layout, as etcdadm writes it: one flat
// /etc/etcd/pki, with the healthcheck/etcdctl client cert called
// etcdctl-etcd-client.
var Etcd = &Layout{
	Name:    spec.LayoutEtcd,
	PKIDir:  "/etc/etcd/pki",
	DataDir: "/var/lib/etcd",
	base: map[pki.Kind]string{
		pki.KindCA:                "ca",
		pki.KindServer:            "server",
		pki.KindPeer:              "peer",
		pki.KindHealthcheckClient: "etcdctl-etcd-client",
		pki.KindAPIServerClient:   "apiserver-etcd-client",
		pki.KindServerClient:      "server-client",
		pki.KindPeerClient:        "peer-client",
	},
}

// ForName returns the layout called name.
func ForName(name string) (*Layout, error) {
	switch name {
	case spec.LayoutKubeadm, "":
		return Kubeadm, nil
	case spec.LayoutEtcd:
		return Etcd, nil
	}
	return nil, fmt.Errorf("unknown layout %q (want %s or %s)", name, spec.LayoutKubeadm, spec.LayoutEtcd)
}

// CertPath is the node path of kind's certificate.
func (l *Layout) CertPath(kind pki.Kind) string { return path.Join(l.PKIDir, l.base[kind]+".crt") }

// KeyPath is the node path of kind's private key.
func (l *Layout) KeyPath(kind pki.Kind) string { return path.Join(l.PKIDir, l.base[kind]+".key") }

// MemberDir is where init writes a member's tree: copying it to the node's
// root directory puts every file in place.
func MemberDir(out, member string) string { return filepath.Join(out, member) }

// CADir is where init keeps the CA (and, with an external CA, the only copy
// of its key).
func CADir(out string) string { return filepath.Join(out, "ca") }

// NextCADir is where rotate-ca stage keeps the next CA while a rotation
// is in progress: <out>/ca-next. check reads it to tell a rotation's new
// CA in the members' bundles from a CA nobody should trust.
func NextCADir(out string) string { return filepath.Join(out, "ca-next") }

// SpecFile is where init records the spec it wrote, so that later commands
// (flags, up) can read it from the output directory.
func SpecFile(out string) string { return filepath.Join(out, "cluster.yaml") }

// OnDisk maps a node path into a member tree rooted at root.
func OnDisk(root, nodePath string) string { return filepath.Join(root, filepath.FromSlash(nodePath)) }

// NodeStateDir is where the commands that change a node's tree in place
// (renew, install, rotate-ca on member directories) keep their lock file,
// their backups (<state>/backups/<time>-<command>/, the replaced files
// under their paths relative to dir) and a CA rotation's state
// (<state>/ca-next, <state>/ca-retired): /var/lib/etcdpki of the node when
// dir stands for the node's / (root "/"), else <dir>/.etcdpki for a copy
// of a subtree such as /etc/kubernetes. Neither is read by any
// distribution, and both stay out of the PKI directories that etcd and
// kubeadm list.
func NodeStateDir(dir, root string) string {
	if path.Clean(root) == "/" {
		return filepath.Join(dir, "var", "lib", "etcdpki")
	}
	return filepath.Join(dir, ".etcdpki")
}
