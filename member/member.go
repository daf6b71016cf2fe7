package member

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// File is one certificate (or bundle) and, where it has one, its key, as
// read from a member's directory.
type File struct {
	Kind pki.Kind
	// CertPath and KeyPath are on this machine; NodeCertPath and
	// NodeKeyPath are what etcd sees on the node.
	CertPath, KeyPath         string
	NodeCertPath, NodeKeyPath string
	Certs                     []*x509.Certificate
	Key                       crypto.Signer
	// CertErr and KeyErr say why a file could not be read; a missing file
	// is fs.ErrNotExist.
	CertErr, KeyErr   error
	CertMode, KeyMode fs.FileMode
	// CertOwner and KeyOwner are "uid:gid", empty where unknown.
	CertOwner, KeyOwner string
	// KeyFacts are what etcdpki collect recorded of the key, for a file
	// read from a bundle (Key is then nil): HasKey and KeyMatches use
	// either.
	KeyFacts *KeyFacts
}

// Cert is the first certificate of the file, or nil.
func (f *File) Cert() *x509.Certificate {
	if f == nil || len(f.Certs) == 0 {
		return nil
	}
	return f.Certs[0]
}

// ProblemKind classifies a load problem.
type ProblemKind int

// The load problems.
const (
	// ProblemMissing: a file the layout expects is absent.
	ProblemMissing ProblemKind = iota
	// ProblemFlagFile: a file a setting names is absent.
	ProblemFlagFile
	// ProblemInvalid: a file is there but cannot be used.
	ProblemInvalid
	// ProblemOutside: a setting names a file outside the member's tree.
	ProblemOutside
	// ProblemSettings: the settings file cannot be read, or holds values
	// etcd would refuse.
	ProblemSettings
	// ProblemKeyInCert: a certificate file also holds a private key
	// (usable, but the key is as readable as the certificate).
	ProblemKeyInCert
)

// Problem is something wrong met while loading a member: a typed value
// from which audit makes its findings.
type Problem struct {
	Kind ProblemKind
	// Role is the kind of the file at fault; empty for settings.
	Role pki.Kind
	// Key is set when the key file, not the certificate, is at fault.
	Key bool
	// File is the path on this machine (the node path for ProblemOutside).
	File string
	// Detail says what is wrong.
	Detail string
	// Harmless is set when nothing breaks (junk after the last PEM block:
	// crypto/tls loads the certificates before it).
	Harmless bool
}

// Member is one member's input with its settings and files read.
type Member struct {
	Name string
	// NameFrom says where the name (and addresses) came from: "manifest",
	// "config file", "env file", "unit", "flags file", "spec",
	// "certificate" or "directory".
	NameFrom string
	// Host is the node's name as the distribution uses it in file names
	// (kubespray's member-HOST.pem, OpenShift's etcd-peer-NODE.crt).
	Host      string
	Input     *Input
	Settings  *Settings
	APIServer *APIServerSettings
	// ClientURLs and PeerURLs are every URL the member listens on or
	// advertises, from its settings or spec.
	ClientURLs, PeerURLs []string
	// Files holds the leaves by kind. A file that fills two roles
	// (kubespray's member cert serves both ports) is one *File under both
	// kinds.
	Files map[pki.Kind]*File
	// CA and PeerCA are the trusted CA files of the client port
	// (--trusted-ca-file) and the peer port (--peer-trusted-ca-file); the
	// same *File when both flags name one file.
	CA     *File
	PeerCA *File
	// APIServerCA is kube-apiserver's --etcd-cafile, when it is another
	// file than CA.
	APIServerCA *File
	// K8sCA is the Kubernetes cluster CA when present.
	K8sCA *File
	// OtherMembersKeys are private keys of other members found on this
	// node (kubespray and OpenShift copy every member's to every node).
	OtherMembersKeys []string
	// Problems are what went wrong while loading.
	Problems []Problem
}

// Distribution is the member's layout.
func (m *Member) Distribution() *Distribution { return m.Input.Distribution }

// Load reads a member's settings and files. It never fails: every
// problem is recorded in Problems.
func Load(in *Input) *Member {
	m := &Member{Input: in, Files: map[pki.Kind]*File{}}
	d := in.Distribution
	m.loadSettings()
	if d.APIServerManifest != "" && in.exists(d.APIServerManifest) {
		if p, data, err := in.read(d.APIServerManifest); err != nil {
			m.problem(ProblemSettings, pki.KindAPIServerClient, p, "cannot read kube-apiserver's manifest: %v", err)
		} else if a, err := ParseAPIServerManifest(p, data); err != nil {
			m.problem(ProblemSettings, pki.KindAPIServerClient, p, "cannot read kube-apiserver's manifest: %v", err)
		} else {
			m.APIServer = a
		}
	}
	m.Host = m.host()
	base := d.base(in)
	expand := func(p string) string { return strings.ReplaceAll(p, "{base}", base) }
	s := m.Settings
	pick := func(set, def string) string {
		if s != nil {
			return set
		}
		return def
	}
	// An unset trusted CA flag leaves the CA nil; FLAG-TRUSTED-CA says so.
	caPath := pick(get(s, func(s *Settings) string { return s.TrustedCAFile }), expand(d.ClientCA))
	peerCAPath := pick(get(s, func(s *Settings) string { return s.PeerTrustedCAFile }), expand(d.PeerCA))
	if caPath != "" {
		m.CA = m.loadFile(pki.KindCA, caPath, KeyPathFor(caPath), true, s != nil)
	}
	switch {
	case peerCAPath == caPath:
		m.PeerCA = m.CA
	case peerCAPath != "":
		m.PeerCA = m.loadFile(pki.KindCA, peerCAPath, KeyPathFor(peerCAPath), true, s != nil)
	}
	type want struct {
		kind               pki.Kind
		cert, key          string
		required, fromFlag bool
	}
	def := func(k pki.Kind) string { return in.newest(expand(d.file(k, m.Host))) }
	wants := []want{
		{pki.KindServer, pick(get(s, func(s *Settings) string { return s.CertFile }), def(pki.KindServer)), pick(get(s, func(s *Settings) string { return s.KeyFile }), KeyPathFor(def(pki.KindServer))), true, s != nil},
		{pki.KindPeer, pick(get(s, func(s *Settings) string { return s.PeerCertFile }), def(pki.KindPeer)), pick(get(s, func(s *Settings) string { return s.PeerKeyFile }), KeyPathFor(def(pki.KindPeer))), true, s != nil},
	}
	for _, k := range []pki.Kind{pki.KindHealthcheckClient, pki.KindAPIServerClient} {
		if p := def(k); p != "" {
			wants = append(wants, want{k, p, KeyPathFor(p), false, false})
		}
	}
	if a := m.APIServer; a != nil && a.CertFile != "" && a.CertFile != def(pki.KindAPIServerClient) {
		// kube-apiserver's credential is what its manifest names.
		wants = append(wants, want{pki.KindAPIServerClient, a.CertFile, a.KeyFile, true, true})
	}
	for _, sp := range []struct {
		kind      pki.Kind
		cert, key string
	}{
		{pki.KindServerClient, get(s, func(s *Settings) string { return s.ClientCertFile }), get(s, func(s *Settings) string { return s.ClientKeyFile })},
		{pki.KindPeerClient, get(s, func(s *Settings) string { return s.PeerClientCertFile }), get(s, func(s *Settings) string { return s.PeerClientKeyFile })},
	} {
		switch {
		case s != nil && sp.cert != "":
			wants = append(wants, want{sp.kind, sp.cert, sp.key, true, true})
		case s == nil && def(sp.kind) != "":
			wants = append(wants, want{sp.kind, def(sp.kind), KeyPathFor(def(sp.kind)), false, false})
		}
	}
	loaded := map[[2]string]*File{}
	for _, w := range wants {
		if w.cert == "" {
			continue // the flag is not set; FLAG rules report that
		}
		if f := loaded[[2]string{w.cert, w.key}]; f != nil {
			// One file, two roles (kubespray's member-HOST.pem is both
			// --cert-file and --peer-cert-file): read and judged once.
			m.Files[w.kind] = f
			continue
		}
		if f := m.loadFile(w.kind, w.cert, w.key, w.required, w.fromFlag); f != nil {
			m.Files[w.kind] = f
			loaded[[2]string{w.cert, w.key}] = f
		}
	}
	if a := m.APIServer; a != nil && a.CAFile != "" && (m.CA == nil || a.CAFile != m.CA.NodeCertPath) {
		m.APIServerCA = m.loadFile(pki.KindCA, a.CAFile, "", true, true)
	}
	if d.K8sCA != "" && in.exists(d.K8sCA) && d.K8sCA != caPath {
		m.K8sCA = m.loadFile(pki.KindCA, d.K8sCA, "", false, false)
	}
	m.findOtherMembersKeys()
	m.resolveName()
	return m
}

func (m *Member) problem(kind ProblemKind, role pki.Kind, file, format string, args ...any) {
	m.Problems = append(m.Problems, Problem{Kind: kind, Role: role, File: file, Detail: fmt.Sprintf(format, args...)})
}

// read reads a node path with the one bounded reader.
func (in *Input) read(nodePath string) (string, []byte, error) {
	lexical, err := in.Lexical(nodePath)
	if err != nil {
		return nodePath, nil, err
	}
	p, err := in.Disk(nodePath)
	if err != nil {
		if errors.Is(err, ErrOutside) {
			err = errors.New("a symbolic link on the way leads outside the member directory")
		}
		return lexical, nil, err
	}
	data, err := layout.ReadFile(p)
	return lexical, data, unwrapFileError(err)
}

// host is the node's name as the distribution's file names use it: from
// a certificate path the settings name, /etc/hostname, the only
// member-*.pem of the node, or the directory's name.
func (m *Member) host() string {
	d := m.Input.Distribution
	tmpl := d.Files[pki.KindServer]
	if !strings.Contains(tmpl, "{host}") {
		return ""
	}
	prefix, suffix, _ := strings.Cut(path.Base(tmpl), "{host}")
	if s := m.Settings; s != nil {
		for _, p := range []string{s.CertFile, s.PeerCertFile} {
			b := path.Base(p)
			if strings.HasPrefix(b, prefix) && strings.HasSuffix(b, suffix) && len(b) > len(prefix)+len(suffix) {
				return b[len(prefix) : len(b)-len(suffix)]
			}
		}
		if s.Name != "" && m.Input.exists(d.file(pki.KindServer, s.Name)) {
			return s.Name
		}
	}
	if _, data, err := m.Input.read("/etc/hostname"); err == nil {
		if h := strings.TrimSpace(string(data)); h != "" && m.Input.exists(d.file(pki.KindServer, h)) {
			return h
		}
	}
	if certs := m.Input.glob(path.Dir(tmpl), prefix+"*"+suffix); len(certs) == 1 {
		b := path.Base(certs[0])
		return b[len(prefix) : len(b)-len(suffix)]
	}
	return filepath.Base(filepath.Clean(m.Input.Dir))
}

// findOtherMembersKeys lists the private keys of other members on this
// node.
func (m *Member) findOtherMembersKeys() {
	d := m.Input.Distribution
	own := map[string]bool{}
	for _, f := range m.Files {
		own[f.NodeKeyPath] = true
	}
	for _, pat := range d.OtherMembersKeys {
		dir := path.Dir(d.Files[pki.KindServer])
		for _, p := range m.Input.glob(dir, pat) {
			if own[p] || strings.Contains(path.Base(p), "-"+m.Host+"-key.pem") || strings.HasSuffix(path.Base(p), "-"+m.Host+".key") {
				continue
			}
			if !slices.Contains(m.OtherMembersKeys, p) { // patterns overlap (etcd-serving-*, etcd-serving-metrics-*)
				m.OtherMembersKeys = append(m.OtherMembersKeys, p)
			}
		}
	}
	sort.Strings(m.OtherMembersKeys)
}

// resolveName settles the member's name (settings, then spec, then the
// server cert's CN, then the directory's name) and, without settings,
// takes its URLs from the spec member of that name.
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
			if m.Settings == nil {
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

// FromSettings reports whether the member's name and addresses come from
// its own etcd settings.
func (m *Member) FromSettings() bool { return m.Settings != nil }

// loadFile reads a cert (or bundle) and its key. A file that is absent is
// nil unless required; every problem is recorded.
func (m *Member) loadFile(kind pki.Kind, nodeCert, nodeKey string, required, fromFlag bool) *File {
	certPath, certDisk, err := m.locate(nodeCert)
	if certPath == "" {
		m.problem(ProblemOutside, kind, nodeCert, "%s lies outside %s (which stands for the node's %s); it cannot be checked", nodeCert, m.Input.Dir, m.Input.Root)
		return nil
	}
	f := &File{Kind: kind, CertPath: certPath, NodeCertPath: nodeCert, NodeKeyPath: nodeKey}
	if err != nil {
		f.CertErr = err
	} else {
		f.Certs, f.CertErr = readCerts(certDisk)
		f.CertMode, f.CertOwner = statFile(certDisk)
	}
	if errors.Is(f.CertErr, fs.ErrNotExist) && !required {
		return nil
	}
	if errors.Is(f.CertErr, pki.ErrKeyInCertFile) {
		m.Problems = append(m.Problems, Problem{Kind: ProblemKeyInCert, Role: kind, File: certPath,
			Detail: fmt.Sprintf("%s certificate file also holds a private key (mode %04o)", kind, f.CertMode)})
		f.CertErr = nil
	}
	if f.CertErr != nil {
		kindP, what := ProblemInvalid, "cannot be used"
		if errors.Is(f.CertErr, fs.ErrNotExist) {
			kindP, what = ProblemMissing, "is missing"
			if fromFlag {
				kindP = ProblemFlagFile
			}
		}
		m.Problems = append(m.Problems, Problem{Kind: kindP, Role: kind, File: certPath, Harmless: len(f.Certs) > 0,
			Detail: fmt.Sprintf("%s certificate %s: %v", kind, what, unwrapFileError(f.CertErr))})
	}
	if nodeKey == "" {
		return f
	}
	keyPath, keyDisk, err := m.locate(nodeKey)
	if keyPath == "" {
		return f
	}
	f.KeyPath = keyPath
	var data []byte
	if err != nil {
		f.KeyErr = err
	} else if data, f.KeyErr = layout.ReadFile(keyDisk); f.KeyErr == nil {
		f.KeyMode, f.KeyOwner = statFile(keyDisk)
		f.Key, f.KeyErr = pki.ParseKey(data)
	}
	switch {
	case f.KeyErr == nil:
	case kind == pki.KindCA && errors.Is(f.KeyErr, fs.ErrNotExist):
		// ca.key is optional: an external CA keeps it elsewhere.
	case errors.Is(f.KeyErr, fs.ErrNotExist):
		kindP := ProblemMissing
		if fromFlag {
			kindP = ProblemFlagFile
		}
		m.Problems = append(m.Problems, Problem{Kind: kindP, Role: kind, Key: true, File: keyPath, Detail: fmt.Sprintf("%s key is missing", kind)})
	default:
		m.Problems = append(m.Problems, Problem{Kind: ProblemInvalid, Role: kind, Key: true, File: keyPath, Detail: fmt.Sprintf("%s key cannot be used: %v", kind, unwrapFileError(f.KeyErr))})
	}
	return f
}

// locate maps a node path to its name in the tree (empty when it lies
// outside the root) and the file to read, with symlinks followed inside
// the tree. A link that leads out of the tree, or loops, is an error on
// the named file.
func (m *Member) locate(nodePath string) (lexical, disk string, err error) {
	lexical, err = m.Input.Lexical(nodePath)
	if err != nil {
		return "", "", err
	}
	disk, err = m.Input.Disk(nodePath)
	if errors.Is(err, ErrOutside) {
		err = errors.New("a symbolic link on the way leads outside the member directory")
	}
	return lexical, disk, err
}

func readCerts(p string) ([]*x509.Certificate, error) {
	certs, err := layout.ReadCerts(p)
	if errors.Is(err, pki.ErrTrailingData) || errors.Is(err, pki.ErrKeyInCertFile) {
		// The certs before the junk are usable to etcd's PEM loader too,
		// but say so.
		return certs, err
	}
	if err != nil {
		return nil, err
	}
	return certs, nil
}

// statFile returns a file's permission bits and "uid:gid".
func statFile(p string) (fs.FileMode, string) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, ""
	}
	owner := ""
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf("%d:%d", sys.Uid, sys.Gid)
	}
	return st.Mode().Perm(), owner
}

func get(s *Settings, f func(*Settings) string) string {
	if s == nil {
		return ""
	}
	return f(s)
}

// unwrapFileError drops the path from a layout.FileError: problems carry
// the file separately.
func unwrapFileError(err error) error {
	var fe *layout.FileError
	if errors.As(err, &fe) {
		return fe.Err
	}
	return err
}

// LoadAll is Load for each input, in parallel: reading and parsing one
// member's files is independent of the others'. The result is in the
// order of inputs.
func LoadAll(inputs []*Input) []*Member {
	members := make([]*Member, len(inputs))
	ForEach(len(inputs), func(i int) { members[i] = Load(inputs[i]) })
	return members
}

// ForEach calls f(0), …, f(n-1) on up to GOMAXPROCS goroutines and waits
// for all of them.
func ForEach(n int, f func(i int)) {
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

// LoadDirs discovers the members in dirs and reads them. A spec, when
// given, describes the members whose directories have none of their own,
// as check's --config does. Member names are made distinct
// ([UniqueNames]). Members read elsewhere (opts.Collected) keep their
// argument's place.
func LoadDirs(dirs []string, c *spec.Cluster, opts DiscoverOptions) ([]*Member, error) {
	// Detecting a layout probes a few dozen paths: done for all
	// directories in parallel, the first error (in order) reported. A
	// regular file is a bundle of etcdpki collect, read as the members it
	// holds.
	found := make([][]*Input, len(dirs))
	bundled := make([][]*Member, len(dirs))
	errs := make([]error, len(dirs))
	ForEach(len(dirs), func(i int) {
		if ms, ok := opts.Collected[i]; ok {
			bundled[i] = ms
			return
		}
		if st, err := os.Stat(dirs[i]); err == nil && st.Mode().IsRegular() {
			bundled[i], errs[i] = LoadBundleFile(dirs[i])
			return
		}
		found[i], errs[i] = Discover(dirs[i], opts)
	})
	var inputs []*Input
	for i := range dirs {
		ins, err := found[i], errs[i]
		if err != nil {
			return nil, err
		}
		for _, in := range ins {
			if in.Spec == nil && c != nil {
				in.Spec = c
			}
		}
		inputs = append(inputs, ins...)
	}
	loaded := LoadAll(inputs)
	var members []*Member
	next := 0
	for i := range dirs {
		members = append(members, bundled[i]...)
		members = append(members, loaded[next:next+len(found[i])]...)
		next += len(found[i])
	}
	UniqueNames(members)
	return members, nil
}

// LoadBundleFile reads the members of a bundle file (etcdpki collect).
// The error names the file.
func LoadBundleFile(path string) ([]*Member, error) {
	data, err := layout.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := ReadBundle(bytes.NewReader(data))
	if err != nil {
		return nil, &layout.FileError{Path: path, Err: fmt.Errorf("is not a directory, nor a bundle of etcdpki collect (%w)", err)}
	}
	ms, err := b.Load()
	if err != nil {
		return nil, &layout.FileError{Path: path, Err: err}
	}
	return ms, nil
}

// UniqueNames keeps member names distinct (two copies of the same node,
// or members named only by their certs' CN), since findings and the
// verdict are keyed by name.
func UniqueNames(members []*Member) {
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.Name] {
			m.Name = m.Name + " [" + m.Input.Dir + "]"
		}
		seen[m.Name] = true
	}
}

// SortedKinds lists a member's leaf kinds in catalogue order.
func (m *Member) SortedKinds() []pki.Kind {
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
