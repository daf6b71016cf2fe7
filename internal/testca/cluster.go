package testca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Options describe the clean cluster New writes.
type Options struct {
	// Members is the number of members, cp1 (10.0.0.11), cp2 (10.0.0.12), …;
	// default 3.
	Members int
	// Algorithm defaults to ECDSA P-256, the fastest to generate.
	Algorithm pki.Algorithm
	// Layout is spec.LayoutKubeadm (default) or spec.LayoutEtcd.
	Layout     string
	Split      bool
	ExternalCA bool
	// Manifests writes each member's etcd settings next to its PKI, as a
	// node has them: kubeadm's static pod manifests/etcd.yaml, or for the
	// etcd layout an etcd config file /etc/etcd/etcd.conf.yml.
	Manifests bool
	// Now is the issue time; zero means the current time to the second.
	Now time.Time
	// Dir is where to write; empty means a new t.TempDir().
	Dir string
}

// Cluster is a PKI written by layout.Init (the output of etcdpki init),
// which a test then breaks.
type Cluster struct {
	t testing.TB
	// Dir is init's output directory: cluster.yaml, ca/ and one tree per
	// member.
	Dir    string
	Spec   *spec.Cluster
	Layout *layout.Layout
	// CA is the cluster CA, with its key.
	CA  *pki.CA
	Now time.Time
}

// New writes a clean cluster PKI with layout.Init.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Algorithm == "" {
		opts.Algorithm = pki.ECDSAP256
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now().Truncate(time.Second)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	sc := spec.Cluster{
		Algorithm:        opts.Algorithm,
		Layout:           opts.Layout,
		SplitCredentials: opts.Split,
		ExternalCA:       opts.ExternalCA,
	}
	for i := 1; i <= opts.Members; i++ {
		sc.Members = append(sc.Members, spec.Member{Name: MemberName(i), IPs: []string{MemberIP(i)}})
	}
	sc = sc.WithDefaults()
	if err := sc.Validate(); err != nil {
		t.Fatalf("testca: %v", err)
	}
	// AnyAlgorithm: tests check every algorithm in every layout, Ed25519
	// in kubeadm's too (what a forced init, or another tool, writes).
	res, err := layout.Init(&sc, opts.Dir, layout.InitOptions{Now: opts.Now, AnyAlgorithm: true})
	if err != nil {
		t.Fatalf("testca: init: %v", err)
	}
	l, _ := layout.ForName(sc.Layout)
	c := &Cluster{t: t, Dir: opts.Dir, Spec: &sc, Layout: l, CA: res.CA, Now: opts.Now}
	if opts.Manifests {
		for _, m := range sc.Members {
			c.WriteSettings(m.Name, nil)
		}
	}
	return c
}

// MemberName is the name of the i-th member (from 1).
func MemberName(i int) string { return fmt.Sprintf("cp%d", i) }

// MemberIP is the address of the i-th member (from 1): 10.0.0.11,
// 10.0.0.12, … and on into 10.0.1.x for big clusters.
func MemberIP(i int) string {
	n := 10 + i
	return fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff)
}

// Names lists the members' names.
func (c *Cluster) Names() []string {
	var names []string
	for _, m := range c.Spec.Members {
		names = append(names, m.Name)
	}
	return names
}

// MemberDir is the member's tree, which stands for the node's "/".
func (c *Cluster) MemberDir(member string) string { return layout.MemberDir(c.Dir, member) }

// PKIDir is the member's PKI directory (…/etc/kubernetes/pki or
// …/etc/etcd/pki), what a bare copy of a node's PKI holds.
func (c *Cluster) PKIDir(member string) string {
	return layout.OnDisk(c.MemberDir(member), c.Layout.PKIDir)
}

// Path maps a node path (e.g. /etc/kubernetes/pki/etcd/ca.crt) into the
// member's tree.
func (c *Cluster) Path(member, nodePath string) string {
	return layout.OnDisk(c.MemberDir(member), nodePath)
}

// CertPath is where kind's certificate of member lies on this machine.
func (c *Cluster) CertPath(member string, kind pki.Kind) string {
	return c.Path(member, c.Layout.CertPath(kind))
}

// KeyPath is where kind's key of member lies on this machine.
func (c *Cluster) KeyPath(member string, kind pki.Kind) string {
	return c.Path(member, c.Layout.KeyPath(kind))
}

// Request is the request init makes for kind on member: the member's own
// names on server, peer and the split credentials, none on the clients.
func (c *Cluster) Request(member string, kind pki.Kind) pki.Request {
	m, err := c.Spec.Member(member)
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	req := pki.Request{Kind: kind, CommonName: m.Name, Split: c.Spec.SplitCredentials}
	if kind != pki.KindHealthcheckClient && kind != pki.KindAPIServerClient {
		req.DNSNames, req.IPs = c.Spec.SANs(m)
	}
	return req
}

// Reissue replaces member's kind certificate and key with a new pair from
// the cluster CA, as init would issue it, with the tweaks applied.
func (c *Cluster) Reissue(member string, kind pki.Kind, tweaks ...Tweak) *x509.Certificate {
	c.t.Helper()
	return c.ReissueFrom(c.CA, member, kind, NewKey(c.t, c.Spec.Algorithm), tweaks...)
}

// ReissueFrom replaces member's kind certificate and key with key and a
// certificate for it signed by ca, with the tweaks applied.
func (c *Cluster) ReissueFrom(ca *pki.CA, member string, kind pki.Kind, key crypto.Signer, tweaks ...Tweak) *x509.Certificate {
	c.t.Helper()
	cert := Issue(c.t, ca, c.Request(member, kind), key, c.Now, tweaks...)
	c.WriteCert(member, kind, cert)
	c.WriteKey(member, kind, key)
	return cert
}

// UseCA gives members ca as their etcd CA (ca.crt, and ca.key unless the
// cluster's CA is external) and re-issues all their leaves from it.
func (c *Cluster) UseCA(ca *pki.CA, members ...string) {
	c.t.Helper()
	for _, m := range members {
		c.WriteCert(m, pki.KindCA, ca.Cert)
		if !c.Spec.ExternalCA {
			c.WriteKey(m, pki.KindCA, ca.Key)
		}
		for _, kind := range pki.LeafKinds(c.Spec.SplitCredentials) {
			c.ReissueFrom(ca, m, kind, NewKey(c.t, c.Spec.Algorithm))
		}
	}
}

// WriteCert writes certs (one, or a bundle) as member's kind certificate.
func (c *Cluster) WriteCert(member string, kind pki.Kind, certs ...*x509.Certificate) {
	c.t.Helper()
	c.WriteFile(c.CertPath(member, kind), pki.EncodeCerts(certs...), layout.CertPerm)
}

// WriteKey writes key as member's kind key.
func (c *Cluster) WriteKey(member string, kind pki.Kind, key crypto.Signer) {
	c.t.Helper()
	data, err := pki.EncodeKey(key)
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	c.WriteFile(c.KeyPath(member, kind), data, layout.KeyPerm)
}

// WriteFile writes data to path (on this machine) with layout.WriteFile.
func (c *Cluster) WriteFile(path string, data []byte, perm os.FileMode) {
	c.t.Helper()
	if err := layout.WriteFile(path, data, perm); err != nil {
		c.t.Fatalf("testca: %v", err)
	}
}

// Copy copies member from's kind certificate and key over member to's.
func (c *Cluster) Copy(kind pki.Kind, from, to string) {
	c.t.Helper()
	for _, p := range [][2]string{
		{c.CertPath(from, kind), c.CertPath(to, kind)},
		{c.KeyPath(from, kind), c.KeyPath(to, kind)},
	} {
		data, err := os.ReadFile(p[0])
		if err != nil {
			c.t.Fatalf("testca: %v", err)
		}
		st, err := os.Stat(p[0])
		if err != nil {
			c.t.Fatalf("testca: %v", err)
		}
		c.WriteFile(p[1], data, st.Mode().Perm())
	}
}

// ManifestPath is where a member's etcd settings lie on this machine:
// manifests/etcd.yaml (kubeadm layout) or /etc/etcd/etcd.conf.yml.
func (c *Cluster) ManifestPath(member string) string {
	if c.Layout == layout.Etcd {
		return c.Path(member, "/etc/etcd/etcd.conf.yml")
	}
	return c.Path(member, "/etc/kubernetes/manifests/etcd.yaml")
}

// WriteSettings writes member's etcd settings as render produces them
// (kubeadm static pod or etcd config file), after edit changes the
// configuration (nil for none).
func (c *Cluster) WriteSettings(member string, edit func(*render.Config)) {
	c.t.Helper()
	cfg, err := render.ForMember(c.Spec, member, render.Options{})
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	if edit != nil {
		edit(cfg)
	}
	var data []byte
	if c.Layout == layout.Etcd {
		data, err = cfg.ConfigFile()
	} else {
		data, err = cfg.Manifest(c.Spec, "")
	}
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	c.WriteFile(c.ManifestPath(member), data, layout.KeyPerm)
}

// EditFlags rewrites member's kubeadm etcd manifest with its etcd flags
// changed by edit: the map holds flag names without dashes and their
// values; delete an entry to drop the flag. Use it for flags render.Config
// does not know, e.g. auto-tls.
func (c *Cluster) EditFlags(member string, edit func(flags map[string]string)) {
	c.t.Helper()
	if c.Layout != layout.Kubeadm {
		c.t.Fatalf("testca: EditFlags needs the kubeadm layout")
	}
	p := c.ManifestPath(member)
	if _, err := os.Stat(p); err != nil {
		c.WriteSettings(member, nil)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	var pod map[string]any
	if err := yaml.Unmarshal(data, &pod); err != nil {
		c.t.Fatalf("testca: %s: %v", p, err)
	}
	containers := pod["spec"].(map[string]any)["containers"].([]any)
	ctr := containers[0].(map[string]any)
	var cmd []string
	for _, a := range ctr["command"].([]any) {
		cmd = append(cmd, a.(string))
	}
	flags := map[string]string{}
	for _, a := range cmd[1:] {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		flags[k] = v
	}
	edit(flags)
	ctr["command"] = append([]string{cmd[0]}, flagList(flags)...)
	out, err := yaml.Marshal(pod)
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	c.WriteFile(p, out, layout.KeyPerm)
}

// WriteAPIServerManifest writes a kube-apiserver static pod into member's
// manifests/ whose --etcd-* flags are render.APIServerFlags', changed by
// edit (nil for none).
func (c *Cluster) WriteAPIServerManifest(member string, edit func(flags map[string]string)) {
	c.t.Helper()
	list, err := render.APIServerFlags(c.Spec, member, render.Options{})
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	flags := map[string]string{"advertise-address": c.memberIP(member)}
	for _, a := range list {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		flags[k] = v
	}
	if edit != nil {
		edit(flags)
	}
	pod := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": "kube-apiserver", "namespace": "kube-system"},
		"spec": map[string]any{"containers": []any{map[string]any{
			"name":    "kube-apiserver",
			"image":   "registry.k8s.io/kube-apiserver:v1.34.0",
			"command": append([]string{"kube-apiserver"}, flagList(flags)...),
		}}},
	}
	out, err := yaml.Marshal(pod)
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	c.WriteFile(c.Path(member, "/etc/kubernetes/manifests/kube-apiserver.yaml"), out, layout.KeyPerm)
}

func (c *Cluster) memberIP(member string) string {
	m, err := c.Spec.Member(member)
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	return m.AdvertiseHost()
}

// flagList renders flags as sorted --k=v arguments.
func flagList(flags map[string]string) []string {
	var out []string
	for k, v := range flags {
		out = append(out, "--"+k+"="+v)
	}
	sort.Strings(out)
	return out
}

// K8sCA writes a Kubernetes cluster CA (pki/ca.crt and ca.key) into
// member's tree, as a control-plane node has one next to the etcd PKI;
// cert is the CA certificate to write (the etcd CA's to break CIS 2.7).
func (c *Cluster) K8sCA(member string, ca *pki.CA) {
	c.t.Helper()
	c.WriteFile(c.Path(member, "/etc/kubernetes/pki/ca.crt"), pki.EncodeCert(ca.Cert), layout.CertPerm)
	data, err := pki.EncodeKey(ca.Key)
	if err != nil {
		c.t.Fatalf("testca: %v", err)
	}
	c.WriteFile(c.Path(member, "/etc/kubernetes/pki/ca.key"), data, layout.KeyPerm)
}
