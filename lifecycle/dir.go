package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// Dir is a cluster's PKI directory as init writes it.
type Dir struct {
	// Path is the directory: <Path>/ca, <Path>/<member>, <Path>/cluster.yaml.
	Path   string
	Spec   *spec.Cluster
	Layout *layout.Layout
}

// Open reads the spec of the PKI directory out (out/cluster.yaml).
func Open(out string) (*Dir, error) {
	specFile := layout.SpecFile(out)
	if _, err := os.Stat(specFile); err != nil {
		return nil, &layout.FileError{Path: specFile, Err: fmt.Errorf("%v; is %s the output directory of etcdpki init?", unwrapPath(err), out)}
	}
	c, err := spec.Load(specFile)
	if err != nil {
		return nil, err
	}
	l, err := layout.ForName(c.Layout)
	if err != nil {
		return nil, err
	}
	return &Dir{Path: out, Spec: c, Layout: l}, nil
}

// NextCADir is where the new CA waits during a CA rotation, from Stage
// until Finalize makes it <out>/ca.
func NextCADir(out string) string { return layout.NextCADir(out) }

// BackupsDir holds one directory per command run that replaced files.
func BackupsDir(out string) string { return filepath.Join(out, "backups") }

// NodeStateDir is where the commands that change a node's tree in place
// keep their lock, backups and rotation state (see [layout.NodeStateDir]).
func NodeStateDir(dir, root string) string { return layout.NodeStateDir(dir, root) }

// MemberRoot is member's tree, standing for the node's /.
func (d *Dir) MemberRoot(member string) string { return layout.MemberDir(d.Path, member) }

// CertPath is where member's certificate of kind is on disk.
func (d *Dir) CertPath(member string, kind pki.Kind) string {
	return layout.OnDisk(d.MemberRoot(member), d.Layout.CertPath(kind))
}

// KeyPath is where member's key of kind is on disk.
func (d *Dir) KeyPath(member string, kind pki.Kind) string {
	return layout.OnDisk(d.MemberRoot(member), d.Layout.KeyPath(kind))
}

// LeafKinds are the leaf kinds every member of the cluster has.
func (d *Dir) LeafKinds() []pki.Kind { return pki.LeafKinds(d.Spec.SplitCredentials) }

// rel is p relative to the directory, for messages and results.
func (d *Dir) rel(p string) string { return relTo(d.Path, p) }

func relTo(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// CA reads the cluster's CA, certificate and key, from <out>/ca.
func (d *Dir) CA() (*pki.CA, error) { return readCA(layout.CADir(d.Path)) }

// NextCA reads the new CA of a rotation in progress from <out>/ca-next,
// or from <out>/ca once an interrupted finalize has put it there (see
// [RotationStatus].Promoted); it returns nil, nil when there is none.
func (d *Dir) NextCA() (*pki.CA, error) {
	if !d.rotating() {
		return nil, nil
	}
	if d.promoted() {
		return d.CA()
	}
	return readCA(NextCADir(d.Path))
}

// promoted reports whether what is in <out>/ca-next is the CA of <out>/ca:
// a finalize made the new CA <out>/ca and was killed before it removed
// <out>/ca-next. Since removeNextCA renames ca-next away before removing
// it, that leaves the whole of ca-next; an older etcdpki removed ca.crt and
// ca.key one at a time and could leave either alone, which counts too.
func (d *Dir) promoted() bool {
	dir, caDir := NextCADir(d.Path), layout.CADir(d.Path)
	cur, err := layout.ReadCert(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		return false
	}
	if crt := filepath.Join(dir, "ca.crt"); exists(crt) {
		next, err := layout.ReadCert(crt)
		return err == nil && bytes.Equal(next.Raw, cur.Raw)
	}
	key, err := layout.ReadKey(filepath.Join(dir, "ca.key"))
	return err == nil && pki.KeyMatches(cur.PublicKey, key)
}

// rotating reports whether a CA rotation is in progress: whether the new
// CA's files are in <out>/ca-next. A directory without them is what a
// stage killed before its first rename leaves (its temporary files are
// removed by repair), and the next stage makes the CA afresh.
func (d *Dir) rotating() bool {
	dir := NextCADir(d.Path)
	return exists(filepath.Join(dir, "ca.crt")) || exists(filepath.Join(dir, "ca.key"))
}

// refuseDuringRotation is the refusal of add-member and renew while a CA
// rotation is in progress: their certificates would be signed by the old
// CA, which the rotation is about to retire.
func (d *Dir) refuseDuringRotation(op string) error {
	if !d.rotating() {
		return nil
	}
	if d.promoted() {
		return &RefusedError{Op: op, Detail: "the last CA rotation's finalize was interrupted: the new CA is " + layout.CADir(d.Path) + " already, but " + NextCADir(d.Path) + " is still there",
			Hint: "etcdpki rotate-ca finalize --dir " + d.Path + " completes it"}
	}
	return &RefusedError{Op: op, Detail: "a CA rotation is in progress (" + NextCADir(d.Path) + " exists): certificates signed now by the old CA would stop working when it is finalized",
		Hint: "finish it first: etcdpki rotate-ca status --dir " + d.Path}
}

// member returns the spec member called name, or a RefusedError listing
// the members.
func (d *Dir) member(op, name string) (*spec.Member, error) {
	m, err := d.Spec.Member(name)
	if err != nil {
		return nil, &RefusedError{Op: op, Detail: err.Error()}
	}
	return m, nil
}

// members resolves names (empty: every member) in spec order.
func (d *Dir) members(op string, names []string) ([]*spec.Member, error) {
	if len(names) == 0 {
		var all []*spec.Member
		for i := range d.Spec.Members {
			all = append(all, &d.Spec.Members[i])
		}
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if _, err := d.member(op, n); err != nil {
			return nil, err
		}
		want[n] = true
	}
	var ms []*spec.Member
	for i := range d.Spec.Members {
		if want[d.Spec.Members[i].Name] {
			ms = append(ms, &d.Spec.Members[i])
		}
	}
	return ms, nil
}

// readCA reads ca.crt and ca.key from dir and checks that they belong
// together and form a CA.
func readCA(dir string) (*pki.CA, error) {
	certPath := filepath.Join(dir, "ca.crt")
	kp, err := layout.ReadKeyPair(certPath, filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, err
	}
	if !kp.Cert.IsCA {
		return nil, &layout.FileError{Path: certPath, Err: errors.New("is not a CA certificate (basic constraints CA:FALSE)")}
	}
	return &pki.CA{Cert: kp.Cert, Key: kp.Key}, nil
}

// RefusedError is a change a command will not make: an unsafe order of
// rotation stages, a member that does not exist, a rotation in progress.
// Nothing has been written when it is returned.
type RefusedError struct {
	// Op is the command: "add-member", "renew", "rotate-ca stage", …
	Op     string
	Detail string
	// Hint says what to do instead.
	Hint string
}

func (e *RefusedError) Error() string { return e.Op + ": " + e.Detail }

// Result says what a command did to the files.
type Result struct {
	// Dir is the directory the paths below are relative to.
	Dir string
	// Written lists the files written; Unchanged the files that already
	// had the content they were to get.
	Written, Unchanged []string
	// Repaired lists files whose interrupted replacement was completed
	// before the command started (see the package documentation).
	Repaired []string
	// Backup is the directory holding the previous content of every
	// replaced file, under the same relative paths; empty when no file was
	// replaced.
	Backup string
}

// Issued is one certificate a command issued.
type Issued struct {
	Member string
	Kind   pki.Kind
	// Serial and Fingerprint identify the new certificate; OldSerial and
	// OldFingerprint the one it replaced (empty for a new member).
	Serial, Fingerprint       string
	OldSerial, OldFingerprint string
	NotAfter                  time.Time
	// KeyReused is true when the old key was kept.
	KeyReused bool
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// unwrapPath drops the *fs.PathError wrapper, whose text repeats a path
// the message names already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
