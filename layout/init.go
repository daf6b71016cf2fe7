package layout

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// InitOptions tune Init.
type InitOptions struct {
	// Force re-issues leaf certificates that already exist. It never
	// replaces a CA key.
	Force bool
	// AnyAlgorithm writes keys of the spec's algorithm even when the
	// layout's other readers cannot load them ([Layout.CheckAlgorithm]).
	AnyAlgorithm bool
	// Now is the issue time; zero means time.Now().
	Now time.Time
	// Progress, when set, is called with 0 and then as each key is
	// generated (rsa-4096 for seven members takes a while); see
	// pki.GenerateKeysProgress.
	Progress func(done, total int)
}

// InitResult says what Init did.
type InitResult struct {
	// Out is the output directory.
	Out string
	// CA is the cluster's CA (its key is set).
	CA *pki.CA
	// CACreated is false when an existing CA in Out was reused.
	CACreated bool
	// Written and Kept list files (paths under Out) that were written or
	// left as they were.
	Written []string
	Kept    []string
	// Repaired lists the files whose write an interrupted run had left
	// half done and that Init completed before anything else ([Repair]).
	Repaired []string
}

// ConflictError is a file that init refuses to touch.
type ConflictError struct {
	Path   string
	Detail string
	Hint   string
}

func (e *ConflictError) Error() string { return e.Path + ": " + e.Detail }

// pendingFile is one file init is about to write.
type pendingFile struct {
	path string
	data []byte
	perm os.FileMode
}

// leafJob is one key pair init is about to issue.
type leafJob struct {
	member *spec.Member
	kind   pki.Kind
	cert   string // on-disk paths
	key    string
}

// Init writes the cluster's PKI under out: the CA in out/ca, each member's
// tree in out/<member> in the spec's layout, and the spec itself in
// out/cluster.yaml. An existing CA in out is reused and never replaced;
// existing leaves are kept unless opts.Force.
//
// Init holds out's [Lock] while it runs and refuses, with a
// *[ConflictError], while another command holds it or while a CA rotation
// is in progress ([RotationInProgress]), even with opts.Force. It first
// completes what an interrupted run left half written and removes the
// temporary files such a run left ([Repair]); a run killed at any moment
// is completed by the next one, with the same spec and without Force.
// Every conflict is found before the first file is written, so a refused
// run writes nothing but the lock file and those repairs. Unless
// opts.AnyAlgorithm, it refuses with an *[AlgorithmError] a key algorithm
// the layout's other readers cannot load (Ed25519 in kubeadm's layout),
// except when the existing CA's key is already of that algorithm.
func Init(c *spec.Cluster, out string, opts InitOptions) (*InitResult, error) {
	// Callers other than the CLI may build a spec by hand; two members with
	// one name would silently share (and overwrite) one tree.
	if err := c.Validate(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	l, err := ForName(c.Layout)
	if err != nil {
		return nil, err
	}
	res := &InitResult{Out: out}

	if err := os.MkdirAll(out, DirPerm); err != nil {
		return nil, err
	}
	unlock, err := Lock(out)
	if err != nil {
		var le *LockedError
		if errors.As(err, &le) {
			return nil, &ConflictError{Path: le.Path, Detail: le.Error(), Hint: le.Hint()}
		}
		return nil, err
	}
	defer unlock()
	// Mid-rotation the members trust both CAs and some carry leaves of the
	// new one; init (even without --force, for a new member) would sign
	// with the CA the rotation retires, and --force would revert every
	// member to it without a backup.
	if RotationInProgress(out) {
		return nil, &ConflictError{Path: NextCADir(out), Detail: "a CA rotation is in progress; finish it with rotate-ca finalize",
			Hint: "etcdpki rotate-ca status --dir " + out + " says which step is next"}
	}
	// A run killed between two renames left a pair half written, and one
	// killed earlier left temporary files, some of them copies of the CA
	// key that would go to the nodes with the member trees.
	pairs, singles := initFiles(c, out, l)
	repaired, err := Repair(pairs, singles)
	for _, p := range repaired {
		res.Repaired = append(res.Repaired, rel(out, p))
	}
	if err != nil {
		return res, err
	}

	ca, caExists, err := loadInitCA(out)
	if err != nil {
		return nil, err
	}
	// An existing CA of the same algorithm means the choice was made (and
	// forced) when the CA was created; refusing its new members would
	// protect nothing.
	chosen := caExists
	if chosen {
		alg, ok := pki.AlgorithmOf(ca.Cert.PublicKey)
		chosen = ok && alg == c.Algorithm
	}
	if !opts.AnyAlgorithm && !chosen {
		if err := l.CheckAlgorithm(c.Algorithm); err != nil {
			return nil, err
		}
	}
	if !caExists {
		if err := refuseOrphanMembers(c, out, l); err != nil {
			return nil, err
		}
	}

	// Plan every leaf, and refuse half-present pairs before writing.
	var jobs []leafJob
	for i := range c.Members {
		m := &c.Members[i]
		root := MemberDir(out, m.Name)
		for _, kind := range pki.LeafKinds(c.SplitCredentials) {
			j := leafJob{member: m, kind: kind, cert: OnDisk(root, l.CertPath(kind)), key: OnDisk(root, l.KeyPath(kind))}
			certOK, keyOK := exists(j.cert), exists(j.key)
			switch {
			case opts.Force || (!certOK && !keyOK):
				jobs = append(jobs, j)
			case certOK && keyOK:
				res.Kept = append(res.Kept, rel(out, j.cert), rel(out, j.key))
			default:
				have, missing := j.cert, j.key
				if keyOK {
					have, missing = j.key, j.cert
				}
				return nil, &ConflictError{Path: missing, Detail: "missing, but " + filepath.Base(have) + " exists", Hint: "re-run with --force to re-issue the pair"}
			}
		}
	}

	// Generate the CA key (if needed) and the leaf keys in parallel.
	nkeys := len(jobs)
	if !caExists {
		nkeys++
	}
	keys, err := pki.GenerateKeysProgress(c.Algorithm, nkeys, opts.Progress)
	if err != nil {
		return nil, err
	}
	var files []pendingFile
	if !caExists {
		ca, err = pki.NewCA(keys[len(keys)-1], pki.CACommonName, time.Duration(c.CAValidity), now)
		if err != nil {
			return nil, err
		}
		keyPEM, err := pki.EncodeKey(ca.Key)
		if err != nil {
			return nil, err
		}
		// The CA goes first: if the run is interrupted, the next one reuses it.
		files = append(files,
			pendingFile{filepath.Join(CADir(out), "ca.key"), keyPEM, KeyPerm},
			pendingFile{filepath.Join(CADir(out), "ca.crt"), pki.EncodeCert(ca.Cert), CertPerm})
		res.CACreated = true
	}
	res.CA = ca

	// Each member gets ca.crt, and ca.key unless the CA is external, as
	// kubeadm HA does (a control-plane node can then sign its own leaves).
	caCertPEM := pki.EncodeCert(ca.Cert)
	caKeyPEM, err := pki.EncodeKey(ca.Key)
	if err != nil {
		return nil, err
	}
	for i := range c.Members {
		root := MemberDir(out, c.Members[i].Name)
		if err := NodeDirs(root, l.PKIDir); err != nil {
			return nil, err
		}
		type caFile struct {
			path, what string
			data       []byte
			perm       os.FileMode
			overwrite  bool
		}
		copies := []caFile{{OnDisk(root, l.CertPath(pki.KindCA)), "certificate", caCertPEM, CertPerm, opts.Force}}
		if !c.ExternalCA {
			// A CA key is never overwritten, not even with --force.
			copies = append(copies, caFile{OnDisk(root, l.KeyPath(pki.KindCA)), "key", caKeyPEM, KeyPerm, false})
		}
		for _, cf := range copies {
			f, identical, err := caCopy(cf.path, CADir(out), cf.data, cf.perm, cf.what, cf.overwrite)
			if err != nil {
				return nil, err
			}
			if identical {
				res.Kept = append(res.Kept, rel(out, cf.path))
			} else {
				files = append(files, *f)
			}
		}
	}

	// Signing is independent per leaf; spread it over the CPUs like the
	// key generation.
	leafFiles := make([][2]pendingFile, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kp, err := ca.IssueKeyPair(LeafRequest(c, j.member, j.kind), keys[i], now)
			if err != nil {
				errs[i] = fmt.Errorf("member %s: %w", j.member.Name, err)
				return
			}
			keyPEM, err := pki.EncodeKey(kp.Key)
			if err != nil {
				errs[i] = err
				return
			}
			leafFiles[i] = [2]pendingFile{{j.key, keyPEM, KeyPerm}, {j.cert, pki.EncodeCert(kp.Cert), CertPerm}}
		}()
	}
	wg.Wait()
	for i := range jobs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		files = append(files, leafFiles[i][0], leafFiles[i][1])
	}

	specYAML, err := spec.Marshal(c)
	if err != nil {
		return nil, err
	}
	files = append(files, pendingFile{SpecFile(out), specYAML, CertPerm})

	batch := make([]File, len(files))
	for i, f := range files {
		batch[i] = File{Path: f.path, Data: f.data, Perm: f.perm}
	}
	// The CA comes first in files, so it is renamed into place first: an
	// interrupted run leaves a CA the next run reuses.
	if err := WriteFiles(batch); err != nil {
		return res, err
	}
	for _, f := range files {
		res.Written = append(res.Written, rel(out, f.path))
	}
	sort.Strings(res.Kept)
	return res, nil
}

// LeafRequest is the request for member m's leaf certificate of kind: the
// member's own names (spec.Cluster.SANs) on the kinds that carry them, the
// spec's validity and split-credentials setting. init, add-member, renew
// and rotate-ca all issue from it, so a renewed certificate is the one init
// would write today.
func LeafRequest(c *spec.Cluster, m *spec.Member, kind pki.Kind) pki.Request {
	var dns []string
	var ips []net.IP
	if kind.Info().SANs {
		dns, ips = c.SANs(m)
	}
	return pki.Request{
		Kind:       kind,
		CommonName: m.Name,
		DNSNames:   dns,
		IPs:        ips,
		Validity:   time.Duration(c.CertValidity),
		Split:      c.SplitCredentials,
	}
}

// initFiles lists the files init writes under out, for [Repair]: the CA's
// pair, each member's leaf pairs and CA copy, and the spec. The copy of the
// CA key in a member tree is listed even with an external CA, so that a
// temporary copy an earlier run left there is removed.
func initFiles(c *spec.Cluster, out string, l *Layout) ([]Pair, []string) {
	pairs := []Pair{{Cert: filepath.Join(CADir(out), "ca.crt"), Key: filepath.Join(CADir(out), "ca.key"), KeepKey: true}}
	singles := []string{SpecFile(out)}
	for _, m := range c.Members {
		root := MemberDir(out, m.Name)
		for _, kind := range pki.LeafKinds(c.SplitCredentials) {
			pairs = append(pairs, Pair{Cert: OnDisk(root, l.CertPath(kind)), Key: OnDisk(root, l.KeyPath(kind))})
		}
		caCert, caKey := OnDisk(root, l.CertPath(pki.KindCA)), OnDisk(root, l.KeyPath(pki.KindCA))
		if c.ExternalCA {
			singles = append(singles, caCert, caKey)
		} else {
			pairs = append(pairs, Pair{Cert: caCert, Key: caKey, KeepKey: true})
		}
	}
	return pairs, singles
}

// loadInitCA loads out/ca if it is there. A CA certificate without its key
// cannot sign, and a key that does not match its certificate is a mess a
// human must sort out; both are refused rather than replaced.
func loadInitCA(out string) (*pki.CA, bool, error) {
	dir := CADir(out)
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	certOK, keyOK := exists(certPath), exists(keyPath)
	switch {
	case !certOK && !keyOK:
		return nil, false, nil
	case certOK && !keyOK:
		return nil, false, &ConflictError{Path: keyPath, Detail: "missing: the CA certificate exists but its key does not, so no leaves can be signed",
			Hint: "put the CA key there, or use a new --out directory"}
	case !certOK && keyOK:
		return nil, false, &ConflictError{Path: certPath, Detail: "missing, but ca.key exists; refusing to replace a CA key",
			Hint: "restore ca.crt, or move ca.key away"}
	}
	kp, err := ReadKeyPair(certPath, keyPath)
	if err != nil {
		return nil, false, err
	}
	if !kp.Cert.IsCA {
		return nil, false, &ConflictError{Path: certPath, Detail: "is not a CA certificate (basic constraints CA:FALSE)"}
	}
	return &pki.CA{Cert: kp.Cert, Key: kp.Key}, true, nil
}

// refuseOrphanMembers stops init from creating a new CA next to member
// trees that already hold one: their leaves would no longer verify (R1) and
// the cluster would have two CAs (R2).
func refuseOrphanMembers(c *spec.Cluster, out string, l *Layout) error {
	for _, m := range c.Members {
		p := OnDisk(MemberDir(out, m.Name), l.CertPath(pki.KindCA))
		if exists(p) {
			return &ConflictError{Path: p, Detail: "member already has an etcd CA, but " + CADir(out) + " has none",
				Hint: "restore " + CADir(out) + "/ca.crt and ca.key, or use a new --out directory"}
		}
	}
	return nil
}

// caCopy plans the copy of a CA file (the one in caDir) into a member
// tree. An identical file is kept; a different one is a conflict unless
// overwrite (certificates with --force only; keys never).
func caCopy(path, caDir string, data []byte, perm os.FileMode, what string, overwrite bool) (f *pendingFile, identical bool, err error) {
	old, err := ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &pendingFile{path, data, perm}, false, nil
	case err != nil:
		return nil, false, err
	case bytes.Equal(bytes.TrimSpace(old), bytes.TrimSpace(data)):
		return nil, true, nil
	case overwrite:
		return &pendingFile{path, data, perm}, false, nil
	}
	hint := "move it away if it is stale, or use a new --out directory"
	if what == "certificate" {
		hint = "re-run with --force to replace the member's CA certificate"
	}
	return nil, false, &ConflictError{Path: path, Detail: "holds a different CA " + what + " than " + caDir + "; refusing to overwrite it", Hint: hint}
}

func rel(out, p string) string {
	if r, err := filepath.Rel(out, p); err == nil {
		return r
	}
	return p
}

// NodeDirPerm is the mode of the directories above the PKI directory in a
// member tree (the tree's root, etc, etc/kubernetes): the node's own, so
// that copying the tree with its modes (rsync -a, tar) does not make the
// node's /, /etc or /etc/kubernetes 0700. The PKI directory itself stays
// DirPerm (0700), stricter than kubeadm's 0755 (client-go's keyutil.WriteKey
// and cert.WriteCert make it with os.MkdirAll(dir, 0o755)).
const NodeDirPerm os.FileMode = 0o755

// NodeDirs creates a member tree's root and the directories down to, not
// including, its PKI directory pkiDir (a node path), NodeDirPerm each.
// Existing directories keep their mode: they are not ours to change.
func NodeDirs(root, pkiDir string) error {
	dirs := []string{root}
	p := root
	for _, part := range strings.Split(strings.Trim(path.Dir(pkiDir), "/"), "/") {
		if part == "" {
			continue
		}
		p = filepath.Join(p, part)
		dirs = append(dirs, p)
	}
	for _, d := range dirs {
		err := os.Mkdir(d, NodeDirPerm)
		switch {
		case errors.Is(err, os.ErrExist):
			continue
		case err != nil:
			return err
		}
		// Mkdir applies the umask; the tree's modes are the node's.
		if err := os.Chmod(d, NodeDirPerm); err != nil {
			return err
		}
	}
	return nil
}
