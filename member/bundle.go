package member

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// BundleSchema is the schema version of a bundle (etcdpki collect). Fields
// are only added within a version.
const BundleSchema = "etcdpki.io/bundle/v1"

// Bundle is what etcdpki collect writes of a node: public facts only —
// every certificate as PEM, of each key its type, size, public key
// fingerprint and whether it matches its certificate (never a byte of
// the key), file modes and owners, the member's settings with their
// sources and kube-apiserver's etcd settings. check, expiry, graph and
// exporter read a bundle as they read the member's directory.
type Bundle struct {
	SchemaVersion string    `json:"schemaVersion"`
	CollectedAt   time.Time `json:"collectedAt"`
	// Host is the node's host name, where collect ran.
	Host    string         `json:"host,omitempty"`
	Members []BundleMember `json:"members"`
	// Files are every certificate and key file of the members; a member
	// refers to them by index, so that one file in two roles (one CA
	// file for both ports) stays one.
	Files []BundleFile `json:"files"`
}

// BundleMember is one member of a bundle.
type BundleMember struct {
	Name       string             `json:"name"`
	NameFrom   string             `json:"nameFrom,omitempty"`
	NodeHost   string             `json:"nodeHost,omitempty"`
	Input      BundleInput        `json:"input"`
	Settings   *Settings          `json:"settings,omitempty"`
	APIServer  *APIServerSettings `json:"apiServer,omitempty"`
	ClientURLs []string           `json:"clientURLs,omitempty"`
	PeerURLs   []string           `json:"peerURLs,omitempty"`
	// Files maps a leaf kind to its file's index in Bundle.Files; CA,
	// PeerCA, APIServerCA and K8sCA are indexes too, -1 for none.
	Files            map[pki.Kind]int `json:"files"`
	CA               int              `json:"ca"`
	PeerCA           int              `json:"peerCA"`
	APIServerCA      int              `json:"apiServerCA"`
	K8sCA            int              `json:"k8sCA"`
	OtherMembersKeys []string         `json:"otherMembersKeys,omitempty"`
	Problems         []Problem        `json:"problems,omitempty"`
}

// BundleInput is where the member's files were read.
type BundleInput struct {
	Dir          string        `json:"dir"`
	Root         string        `json:"root"`
	Layout       string        `json:"layout"`
	InitDir      string        `json:"initDir,omitempty"`
	SettingsFile string        `json:"settingsFile,omitempty"`
	Spec         *spec.Cluster `json:"spec,omitempty"`
	SpecMember   string        `json:"specMember,omitempty"`
}

// BundleFile is one certificate file and its key file.
type BundleFile struct {
	Kind         pki.Kind `json:"kind"`
	CertPath     string   `json:"certPath"`
	KeyPath      string   `json:"keyPath,omitempty"`
	NodeCertPath string   `json:"nodeCertPath,omitempty"`
	NodeKeyPath  string   `json:"nodeKeyPath,omitempty"`
	// Certs are the file's certificates, PEM.
	Certs string `json:"certs,omitempty"`
	// Key is what collect recorded of the key file: never the key.
	Key       *KeyFacts   `json:"key,omitempty"`
	CertErr   *FileErr    `json:"certError,omitempty"`
	KeyErr    *FileErr    `json:"keyError,omitempty"`
	CertMode  fs.FileMode `json:"certMode,omitempty"`
	KeyMode   fs.FileMode `json:"keyMode,omitempty"`
	CertOwner string      `json:"certOwner,omitempty"`
	KeyOwner  string      `json:"keyOwner,omitempty"`
}

// KeyFacts are the public facts of a private key.
type KeyFacts struct {
	// Type is "RSA", "ECDSA" or "Ed25519"; Bits the RSA modulus or the
	// curve size.
	Type string `json:"type"`
	Bits int    `json:"bits,omitempty"`
	// PublicKeyFingerprint is the SHA-256 of the public key (SPKI),
	// pki.PublicKeyFingerprint.
	PublicKeyFingerprint string `json:"publicKeyFingerprint"`
	// MatchesCert says whether it is the key of its file's certificate.
	MatchesCert bool `json:"matchesCert"`
}

// FileErr is a file's error in a bundle: its text and whether the file
// was missing.
type FileErr struct {
	Message  string `json:"message"`
	NotExist bool   `json:"notExist,omitempty"`
}

// errFromBundle is a file error read back from a bundle: its text, and
// fs.ErrNotExist for a missing file.
type errFromBundle struct{ FileErr }

func (e *errFromBundle) Error() string { return e.Message }
func (e *errFromBundle) Unwrap() error {
	if e.NotExist {
		return fs.ErrNotExist
	}
	return nil
}

// HasKey reports whether the file's key was read: here, or by collect.
func (f *File) HasKey() bool { return f != nil && (f.Key != nil || f.KeyFacts != nil) }

// KeyMatches reports whether the file's key is the private key of pub,
// from the key itself or from collect's facts. False without a key.
func (f *File) KeyMatches(pub crypto.PublicKey) bool {
	switch {
	case f == nil:
		return false
	case f.Key != nil:
		return pki.KeyMatches(pub, f.Key)
	case f.KeyFacts != nil:
		fp, err := pki.PublicKeyFingerprint(pub)
		return err == nil && fp == f.KeyFacts.PublicKeyFingerprint
	}
	return false
}

// NewBundle records members' public facts (see Bundle).
func NewBundle(members []*Member, now time.Time) (*Bundle, error) {
	b := &Bundle{SchemaVersion: BundleSchema, CollectedAt: now.UTC(), Files: []BundleFile{}}
	b.Host, _ = os.Hostname()
	index := map[*File]int{}
	ref := func(f *File) (int, error) {
		if f == nil {
			return -1, nil
		}
		if i, ok := index[f]; ok {
			return i, nil
		}
		bf, err := bundleFile(f)
		if err != nil {
			return 0, err
		}
		b.Files = append(b.Files, bf)
		index[f] = len(b.Files) - 1
		return len(b.Files) - 1, nil
	}
	for _, m := range members {
		bm := BundleMember{Name: m.Name, NameFrom: m.NameFrom, NodeHost: m.Host, Settings: m.Settings, APIServer: m.APIServer,
			ClientURLs: m.ClientURLs, PeerURLs: m.PeerURLs, Files: map[pki.Kind]int{}, OtherMembersKeys: m.OtherMembersKeys, Problems: m.Problems}
		in := m.Input
		bm.Input = BundleInput{Dir: in.Dir, Root: in.Root, InitDir: in.InitDir, SettingsFile: in.SettingsFile, Spec: in.Spec}
		if in.Distribution != nil {
			bm.Input.Layout = in.Distribution.Name
		}
		if in.SpecMember != nil {
			bm.Input.SpecMember = in.SpecMember.Name
		}
		var err error
		for k, f := range m.Files {
			if bm.Files[k], err = ref(f); err != nil {
				return nil, err
			}
		}
		for _, p := range []struct {
			f  *File
			to *int
		}{{m.CA, &bm.CA}, {m.PeerCA, &bm.PeerCA}, {m.APIServerCA, &bm.APIServerCA}, {m.K8sCA, &bm.K8sCA}} {
			if *p.to, err = ref(p.f); err != nil {
				return nil, err
			}
		}
		b.Members = append(b.Members, bm)
	}
	return b, nil
}

// EncodeBundle records members' public facts (NewBundle) as the JSON
// etcdpki collect writes and an exporter serves at /bundle: indented, one
// trailing newline. It returns NewBundle's errors.
func EncodeBundle(members []*Member, now time.Time) ([]byte, error) {
	b, err := NewBundle(members, now)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

func bundleFile(f *File) (BundleFile, error) {
	bf := BundleFile{Kind: f.Kind, CertPath: f.CertPath, KeyPath: f.KeyPath, NodeCertPath: f.NodeCertPath, NodeKeyPath: f.NodeKeyPath,
		CertMode: f.CertMode, KeyMode: f.KeyMode, CertOwner: f.CertOwner, KeyOwner: f.KeyOwner,
		CertErr: fileErr(f.CertErr), KeyErr: fileErr(f.KeyErr), Key: f.KeyFacts}
	var pemBuf bytes.Buffer
	for _, c := range f.Certs {
		if err := pem.Encode(&pemBuf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			return bf, err
		}
	}
	bf.Certs = pemBuf.String()
	if f.Key != nil {
		facts, err := keyFacts(f.Key, f.Cert())
		if err != nil {
			return bf, err
		}
		bf.Key = facts
	}
	return bf, nil
}

// keyFacts describes key by its public half only.
func keyFacts(key crypto.Signer, cert *x509.Certificate) (*KeyFacts, error) {
	fp, err := pki.PublicKeyFingerprint(key.Public())
	if err != nil {
		return nil, err
	}
	kf := &KeyFacts{PublicKeyFingerprint: fp, MatchesCert: cert != nil && pki.KeyMatches(cert.PublicKey, key)}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		kf.Type, kf.Bits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		kf.Type, kf.Bits = "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		kf.Type = "Ed25519"
	}
	return kf, nil
}

func fileErr(err error) *FileErr {
	if err == nil {
		return nil
	}
	return &FileErr{Message: err.Error(), NotExist: errors.Is(err, fs.ErrNotExist)}
}

// ReadBundle reads a bundle that collect wrote, refusing another schema.
func ReadBundle(r io.Reader) (*Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(r)
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("not an etcdpki bundle: %w", err)
	}
	if b.SchemaVersion != BundleSchema {
		return nil, fmt.Errorf("bundle schema %q: this etcdpki reads %s", b.SchemaVersion, BundleSchema)
	}
	return &b, nil
}

// Load rebuilds the bundle's members as Load would have read them on the
// node, with their keys' facts in place of the keys. It returns an error
// for a bundle whose references, layouts or certificates do not parse.
func (b *Bundle) Load() ([]*Member, error) {
	files := make([]*File, len(b.Files))
	for i, bf := range b.Files {
		f := &File{Kind: bf.Kind, CertPath: bf.CertPath, KeyPath: bf.KeyPath, NodeCertPath: bf.NodeCertPath, NodeKeyPath: bf.NodeKeyPath,
			CertMode: bf.CertMode, KeyMode: bf.KeyMode, CertOwner: bf.CertOwner, KeyOwner: bf.KeyOwner, KeyFacts: bf.Key}
		if bf.CertErr != nil {
			f.CertErr = &errFromBundle{*bf.CertErr}
		}
		if bf.KeyErr != nil {
			f.KeyErr = &errFromBundle{*bf.KeyErr}
		}
		if bf.Certs != "" {
			certs, err := pki.ParseCerts([]byte(bf.Certs))
			if err != nil {
				return nil, fmt.Errorf("bundle file %s: %w", bf.CertPath, err)
			}
			f.Certs = certs
		}
		files[i] = f
	}
	at := func(i int) (*File, error) {
		switch {
		case i == -1:
			return nil, nil
		case i < 0 || i >= len(files):
			return nil, fmt.Errorf("bundle refers to file %d of %d", i, len(files))
		}
		return files[i], nil
	}
	var out []*Member
	for _, bm := range b.Members {
		d, err := LookupDistribution(bm.Input.Layout)
		if err != nil {
			return nil, fmt.Errorf("bundle member %s: %w", bm.Name, err)
		}
		in := &Input{Dir: bm.Input.Dir, Root: bm.Input.Root, Distribution: d, InitDir: bm.Input.InitDir, SettingsFile: bm.Input.SettingsFile, Spec: bm.Input.Spec}
		if in.Spec != nil && bm.Input.SpecMember != "" {
			if sm, err := in.Spec.Member(bm.Input.SpecMember); err == nil {
				in.SpecMember = sm
			}
		}
		m := &Member{Name: bm.Name, NameFrom: bm.NameFrom, Host: bm.NodeHost, Input: in, Settings: bm.Settings, APIServer: bm.APIServer,
			ClientURLs: bm.ClientURLs, PeerURLs: bm.PeerURLs, Files: map[pki.Kind]*File{}, OtherMembersKeys: bm.OtherMembersKeys, Problems: bm.Problems}
		for k, i := range bm.Files {
			f, err := at(i)
			if err != nil {
				return nil, err
			}
			if f != nil {
				m.Files[k] = f
			}
		}
		for _, p := range []struct {
			i  int
			to **File
		}{{bm.CA, &m.CA}, {bm.PeerCA, &m.PeerCA}, {bm.APIServerCA, &m.APIServerCA}, {bm.K8sCA, &m.K8sCA}} {
			if *p.to, err = at(p.i); err != nil {
				return nil, err
			}
		}
		out = append(out, m)
	}
	return out, nil
}
