package audit

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// Input is one member directory to check, before its files are read.
type Input struct {
	// Dir is the directory on this machine.
	Dir string
	// Root is the node path Dir stands for: "/" for a member tree from
	// init or a copy of a node's root, "/etc/kubernetes" for a copy of
	// that directory, "/etc/kubernetes/pki" or "/etc/etcd/pki" for a bare
	// PKI directory.
	Root   string
	Layout *layout.Layout
	// Spec and SpecMember are set when the member comes from init's output
	// or a --config spec.
	Spec       *spec.Cluster
	SpecMember *spec.Member
}

// Discover turns a path given on the command line into member inputs: an
// init output directory expands to all its members; anything else is one
// member whose kind of directory is recognised by the files in it.
func Discover(dir string) ([]*Input, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, &layout.FileError{Path: dir, Err: unwrapPathError(err)}
	}
	if !st.IsDir() {
		return nil, &layout.FileError{Path: dir, Err: errors.New("is not a directory; give a member's directory")}
	}
	if isFile(layout.SpecFile(dir)) {
		c, err := spec.Load(layout.SpecFile(dir))
		if err != nil {
			return nil, err
		}
		l, _ := layout.ForName(c.Layout)
		var ins []*Input
		for i := range c.Members {
			m := &c.Members[i]
			md := layout.MemberDir(dir, m.Name)
			if !isDir(md) {
				return nil, &layout.FileError{Path: md, Err: fmt.Errorf("member %s of %s is missing", m.Name, layout.SpecFile(dir))}
			}
			ins = append(ins, &Input{Dir: md, Root: "/", Layout: l, Spec: c, SpecMember: m})
		}
		return ins, nil
	}
	in := &Input{Dir: dir, Layout: layout.Kubeadm}
	switch {
	case isDir(filepath.Join(dir, "etc/kubernetes/pki")):
		in.Root = "/"
	case isDir(filepath.Join(dir, "etc/etcd/pki")):
		in.Root, in.Layout = "/", layout.Etcd
	case isDir(filepath.Join(dir, "pki/etcd")), isFile(filepath.Join(dir, "manifests/etcd.yaml")):
		in.Root = "/etc/kubernetes"
	case isDir(filepath.Join(dir, "etcd")) && anyFile(filepath.Join(dir, "etcd"), "ca.crt", "server.crt", "peer.crt"):
		in.Root = "/etc/kubernetes/pki"
	case anyFile(dir, "ca.crt", "server.crt", "peer.crt"):
		in.Root, in.Layout = "/etc/etcd/pki", layout.Etcd
	default:
		return nil, &layout.FileError{Path: dir, Err: errors.New("no etcd PKI found: expected a copy of a node's /etc/kubernetes (pki/etcd/…), a pki directory (etcd/ca.crt), " +
			"an etcd-layout directory (ca.crt, server.crt, peer.crt) or the output of etcdpki init")}
	}
	return []*Input{in}, nil
}

// File is one certificate (or bundle) and, where it has one, its key, as
// read from a member's directory.
type File struct {
	Kind pki.Kind
	// CertPath and KeyPath are on this machine; NodeCertPath is what etcd
	// sees on the node.
	CertPath, KeyPath string
	NodeCertPath      string
	Certs             []*x509.Certificate
	Key               crypto.Signer
	// CertErr and KeyErr say why a file could not be read; a missing file
	// is fs.ErrNotExist.
	CertErr, KeyErr   error
	CertMode, KeyMode fs.FileMode
}

// Cert is the first certificate of the file, or nil.
func (f *File) Cert() *x509.Certificate {
	if f == nil || len(f.Certs) == 0 {
		return nil
	}
	return f.Certs[0]
}

// Member is one member's input with its files read.
type Member struct {
	Name string
	// NameFrom says where the name (and addresses) came from: "manifest",
	// "config file", "flags file", "spec", "certificate" or "directory".
	NameFrom  string
	Input     *Input
	Settings  *Settings
	APIServer *APIServerSettings
	// ClientURLs and PeerURLs are every URL the member listens on or
	// advertises, from its settings or spec.
	ClientURLs, PeerURLs []string
	// Files holds the leaves by kind; CA and PeerCA the trusted CA files
	// of the client and peer ports (usually the same file).
	Files  map[pki.Kind]*File
	CA     *File
	PeerCA *File
	// K8sCA is the Kubernetes cluster CA (pki/ca.crt) when present.
	K8sCA *File
	// Problems are findings made while loading (missing or invalid files,
	// bad manifests).
	Problems []Finding
}

// settingsFiles are where a member's etcd configuration is looked for,
// as node paths: kubeadm's static pod, then an etcd config file, then a
// flags file.
var settingsFiles = []struct {
	node  string
	kind  string
	parse func(string, []byte) (*Settings, error)
}{
	{"/etc/kubernetes/manifests/etcd.yaml", "manifest", ParseEtcdManifest},
	{"/etc/etcd/etcd.conf.yml", "config file", ParseConfigFile},
	{"/etc/etcd/etcd.yaml", "config file", ParseConfigFile},
	{"/etc/etcd/etcd.flags", "flags file", ParseFlagsFile},
}

// disk maps a node path into the input directory; ok is false when the
// node path lies outside what the directory holds.
func (in *Input) disk(nodePath string) (string, bool) {
	if nodePath == "" {
		return "", false
	}
	if !path.IsAbs(nodePath) {
		return filepath.Join(in.Dir, filepath.FromSlash(nodePath)), true
	}
	root := strings.TrimSuffix(in.Root, "/") + "/"
	if !strings.HasPrefix(nodePath, root) {
		return "", false
	}
	return filepath.Join(in.Dir, filepath.FromSlash(strings.TrimPrefix(nodePath, root))), true
}

// LoadMember reads a member's settings and files. It never fails: every
// problem becomes a finding in Problems.
func LoadMember(in *Input) *Member {
	m := &Member{Input: in, Files: map[pki.Kind]*File{}}
	for _, sf := range settingsFiles {
		p, ok := in.disk(sf.node)
		if !ok || !exists(p) {
			continue
		}
		data, err := layout.ReadFile(p)
		if err == nil {
			m.Settings, err = sf.parse(p, data)
		}
		if err != nil {
			m.Problems = append(m.Problems, newFinding(RuleFileInvalid, "", p, "cannot read the %s: %v", sf.kind, unwrapFileError(err)))
			m.Settings = nil
			continue
		}
		if m.Settings.Name != "" {
			m.Name, m.NameFrom = m.Settings.Name, sf.kind
		}
		m.ClientURLs = append(append([]string{}, m.Settings.ListenClientURLs...), m.Settings.AdvertiseClientURLs...)
		m.PeerURLs = append(append([]string{}, m.Settings.ListenPeerURLs...), m.Settings.AdvertisePeerURLs...)
		break
	}
	if p, ok := in.disk("/etc/kubernetes/manifests/kube-apiserver.yaml"); ok && exists(p) {
		data, err := layout.ReadFile(p)
		if err == nil {
			m.APIServer, err = ParseAPIServerManifest(p, data)
		}
		if err != nil {
			m.Problems = append(m.Problems, newFinding(RuleFileInvalid, "", p, "cannot read kube-apiserver's manifest: %v", unwrapFileError(err)))
		}
	}
	l := in.Layout
	s := m.Settings
	pick := func(set, def string) string {
		if s != nil {
			return set
		}
		return def
	}
	// An unset trusted CA flag leaves the CA nil; FLAG-TRUSTED-CA says so.
	caPath := pick(get(s, func(s *Settings) string { return s.TrustedCAFile }), l.CertPath(pki.KindCA))
	peerCAPath := pick(get(s, func(s *Settings) string { return s.PeerTrustedCAFile }), l.CertPath(pki.KindCA))
	if caPath != "" {
		m.CA = m.loadFile(pki.KindCA, caPath, siblingKey(caPath), true, s != nil, BreaksBoth)
	}
	switch {
	case peerCAPath == caPath:
		m.PeerCA = m.CA
	case peerCAPath != "":
		m.PeerCA = m.loadFile(pki.KindCA, peerCAPath, siblingKey(peerCAPath), true, s != nil, BreaksBoth)
	}
	type want struct {
		kind               pki.Kind
		cert, key          string
		required, fromFlag bool
	}
	wants := []want{
		{pki.KindServer, pick(get(s, func(s *Settings) string { return s.CertFile }), l.CertPath(pki.KindServer)), pick(get(s, func(s *Settings) string { return s.KeyFile }), l.KeyPath(pki.KindServer)), true, s != nil},
		{pki.KindPeer, pick(get(s, func(s *Settings) string { return s.PeerCertFile }), l.CertPath(pki.KindPeer)), pick(get(s, func(s *Settings) string { return s.PeerKeyFile }), l.KeyPath(pki.KindPeer)), true, s != nil},
		{pki.KindHealthcheckClient, l.CertPath(pki.KindHealthcheckClient), l.KeyPath(pki.KindHealthcheckClient), false, false},
		{pki.KindAPIServerClient, l.CertPath(pki.KindAPIServerClient), l.KeyPath(pki.KindAPIServerClient), false, false},
	}
	if s != nil && s.ClientCertFile != "" {
		wants = append(wants, want{pki.KindServerClient, s.ClientCertFile, s.ClientKeyFile, true, true})
	} else if s == nil {
		wants = append(wants, want{pki.KindServerClient, l.CertPath(pki.KindServerClient), l.KeyPath(pki.KindServerClient), false, false})
	}
	if s != nil && s.PeerClientCertFile != "" {
		wants = append(wants, want{pki.KindPeerClient, s.PeerClientCertFile, s.PeerClientKeyFile, true, true})
	} else if s == nil {
		wants = append(wants, want{pki.KindPeerClient, l.CertPath(pki.KindPeerClient), l.KeyPath(pki.KindPeerClient), false, false})
	}
	for _, w := range wants {
		if w.cert == "" {
			continue // the flag is not set; FLAG rules report that
		}
		if f := m.loadFile(w.kind, w.cert, w.key, w.required, w.fromFlag, loadImpact(w.kind)); f != nil {
			m.Files[w.kind] = f
		}
	}
	if l == layout.Kubeadm {
		if p, ok := in.disk("/etc/kubernetes/pki/ca.crt"); ok && isFile(p) {
			m.K8sCA = m.loadFile(pki.KindCA, "/etc/kubernetes/pki/ca.crt", "", false, false, "")
		}
	}
	m.resolveName()
	for i := range m.Problems {
		m.Problems[i].Member = m.Name
	}
	return m
}

// LoadMembers is LoadMember for each input, in parallel: reading and
// parsing one member's files is independent of the others'. The result is
// in the order of inputs.
func LoadMembers(inputs []*Input) []*Member {
	members := make([]*Member, len(inputs))
	forEach(len(inputs), func(i int) { members[i] = LoadMember(inputs[i]) })
	return members
}

// forEach calls f(0), …, f(n-1) on up to GOMAXPROCS goroutines and waits
// for all of them.
func forEach(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// resolveName settles the member's name (settings, then spec, then the
// server cert's CN, then the directory's name) and, without settings, takes
// its URLs from the spec member of that name.
func (m *Member) resolveName() {
	in := m.Input
	sm := in.SpecMember
	if m.Name == "" && sm != nil {
		m.Name, m.NameFrom = sm.Name, "spec"
	}
	if m.Name == "" {
		if c := m.Files[pki.KindServer].Cert(); c != nil && c.Subject.CommonName != "" {
			m.Name, m.NameFrom = c.Subject.CommonName, "certificate"
		} else {
			m.Name, m.NameFrom = filepath.Base(filepath.Clean(in.Dir)), "directory"
		}
	}
	if sm == nil && in.Spec != nil {
		if found, err := in.Spec.Member(m.Name); err == nil {
			sm = found
			if m.NameFrom != "manifest" && m.NameFrom != "config file" && m.NameFrom != "flags file" {
				m.NameFrom = "spec"
			}
		}
	}
	if m.Settings == nil && sm != nil {
		c := in.Spec
		m.ClientURLs = []string{c.ClientURL(sm)}
		if !sm.OnLoopback() {
			m.ClientURLs = append(m.ClientURLs, c.LocalClientURL())
		}
		m.PeerURLs = []string{c.PeerURL(sm)}
	}
}

// loadFile reads a cert (or bundle) and its key. A file that is absent is
// nil unless required; every problem becomes a finding. impact is what an
// unusable file breaks (loadImpact, or "" for files nothing loads).
func (m *Member) loadFile(kind pki.Kind, nodeCert, nodeKey string, required, fromFlag bool, impact string) *File {
	problem := func(rule, file, breaks, format string, args ...any) {
		m.Problems = append(m.Problems, NewFinding(rule, "", file, breaks, format, args...))
	}
	certPath, ok := m.Input.disk(nodeCert)
	if !ok {
		problem(RuleFlagFile, nodeCert, "",
			"%s lies outside %s (which stands for the node's %s); it cannot be checked", nodeCert, m.Input.Dir, m.Input.Root)
		return nil
	}
	f := &File{Kind: kind, CertPath: certPath, NodeCertPath: nodeCert}
	f.Certs, f.CertErr, f.CertMode = readCerts(certPath)
	if errors.Is(f.CertErr, fs.ErrNotExist) && !required {
		return nil
	}
	if f.CertErr != nil {
		rule, what := RuleFileInvalid, "cannot be used"
		if errors.Is(f.CertErr, fs.ErrNotExist) {
			rule, what = RuleFileMissing, "is missing"
			if fromFlag {
				rule = RuleFlagFile
			}
		}
		breaks := impact
		if len(f.Certs) > 0 {
			// Junk after the last PEM block: crypto/tls loads the certs
			// before it, so nothing breaks.
			breaks = ""
		}
		problem(rule, certPath, breaks, "%s certificate %s: %v", kind, what, unwrapFileError(f.CertErr))
	}
	if nodeKey == "" {
		return f
	}
	keyPath, ok := m.Input.disk(nodeKey)
	if !ok {
		return f
	}
	f.KeyPath = keyPath
	var data []byte
	data, f.KeyErr = layout.ReadFile(keyPath)
	if f.KeyErr == nil {
		_ = statMode(keyPath, &f.KeyMode)
		f.Key, f.KeyErr = pki.ParseKey(data)
	}
	if kind == pki.KindCA {
		// etcd never reads ca.key; only issuing on the node needs it.
		impact = ""
	}
	switch {
	case f.KeyErr == nil:
	case kind == pki.KindCA && errors.Is(f.KeyErr, fs.ErrNotExist):
		// ca.key is optional: an external CA keeps it elsewhere.
	case errors.Is(f.KeyErr, fs.ErrNotExist):
		rule := RuleFileMissing
		if fromFlag {
			rule = RuleFlagFile
		}
		problem(rule, keyPath, impact, "%s key is missing", kind)
	default:
		problem(RuleFileInvalid, keyPath, impact, "%s key cannot be used: %v", kind, unwrapFileError(f.KeyErr))
	}
	return f
}

func readCerts(p string) ([]*x509.Certificate, error, fs.FileMode) {
	var mode fs.FileMode
	certs, err := layout.ReadCerts(p)
	if err == nil {
		err = statMode(p, &mode)
	}
	if errors.Is(err, pki.ErrTrailingData) {
		// The certs before the junk are usable to etcd's PEM loader too,
		// but say so.
		return certs, err, mode
	}
	if err != nil {
		return nil, err, mode
	}
	return certs, nil, mode
}

func statMode(p string, mode *fs.FileMode) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	*mode = st.Mode().Perm()
	return nil
}

// siblingKey is ca.key next to ca.crt.
func siblingKey(certPath string) string {
	if strings.HasSuffix(certPath, ".crt") {
		return strings.TrimSuffix(certPath, ".crt") + ".key"
	}
	if strings.HasSuffix(certPath, ".pem") {
		return strings.TrimSuffix(certPath, ".pem") + "-key.pem"
	}
	return ""
}

func get(s *Settings, f func(*Settings) string) string {
	if s == nil {
		return ""
	}
	return f(s)
}

// exists reports whether anything is at p, even a dangling symlink or a
// directory: a settings file that is there but unreadable is reported
// rather than silently skipped.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func anyFile(dir string, names ...string) bool {
	for _, n := range names {
		if isFile(filepath.Join(dir, n)) {
			return true
		}
	}
	return false
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// unwrapFileError drops the path from a layout.FileError: findings carry
// the file separately.
func unwrapFileError(err error) error {
	var fe *layout.FileError
	if errors.As(err, &fe) {
		return fe.Err
	}
	return err
}

// sortedKinds lists a member's leaf kinds in catalogue order.
func (m *Member) sortedKinds() []pki.Kind {
	order := map[pki.Kind]int{}
	for i, k := range pki.LeafKinds(true) {
		order[k] = i
	}
	var kinds []pki.Kind
	for k := range m.Files {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return order[kinds[i]] < order[kinds[j]] })
	return kinds
}
