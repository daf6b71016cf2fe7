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
	// refused maps the key algorithms that the layout's other readers
	// cannot load to the reason; [Layout.CheckAlgorithm] reports them.
	refused map[pki.Algorithm]string
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
	// kubeadm reads these files too (join --control-plane, certs renew,
	// certs check-expiration, upgrade), and loads a private key only if it
	// is RSA or ECDSA: TryLoadKeyFromDisk in
	// k8s.io/kubernetes@v1.34.4/cmd/kubeadm/app/util/pkiutil/pki_helpers.go
	// fails with "the private key file … is neither in RSA nor ECDSA
	// format", and its encryptionAlgorithm offers RSA-2048/3072/4096 and
	// ECDSA-P256/P384 only (cmd/kubeadm/app/apis/kubeadm/types.go).
	refused: map[pki.Algorithm]string{
		pki.Ed25519: "kubeadm loads only RSA and ECDSA keys: kubeadm join --control-plane and kubeadm certs renew would fail with \"the private key file etcd/….key is neither in RSA nor ECDSA format\"",
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

// AlgorithmError is a key algorithm that a layout's other readers cannot
// load (Ed25519 in kubeadm's layout): etcd would run with such keys, and
// kubeadm would fail on them later.
type AlgorithmError struct {
	Layout    string
	Algorithm pki.Algorithm
	// Reason says who refuses the keys and how.
	Reason string
}

func (e *AlgorithmError) Error() string {
	return fmt.Sprintf("key algorithm %s is refused for the %s layout: %s", e.Algorithm, e.Layout, e.Reason)
}

// Hint is what to do instead.
func (e *AlgorithmError) Hint() string {
	return fmt.Sprintf("use --algo ecdsa-p256 (or rsa-2048, kubeadm's default), or --layout %s for a standalone etcd cluster; --force writes %s keys anyway", spec.LayoutEtcd, e.Algorithm)
}

// CheckAlgorithm reports whether keys of alg are fit for l. The returned
// error, if any, is of type *[AlgorithmError]. Every algorithm of
// [pki.Algorithms] is fit for the etcd layout (etcd itself loads them all).
func (l *Layout) CheckAlgorithm(alg pki.Algorithm) error {
	if why, ok := l.refused[alg]; ok {
		return &AlgorithmError{Layout: l.Name, Algorithm: alg, Reason: why}
	}
	return nil
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
