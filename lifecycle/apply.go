package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/internal/readfile"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// change is one file to bring to new content.
type change struct {
	path string
	data []byte
	perm os.FileMode
}

// changeSet writes the files of one command run under root, backing up
// what it replaces (see the package documentation) and recording what it
// did in res.
type changeSet struct {
	root string
	op   string
	now  time.Time
	res  *Result
	// backups is where the run's backup directory goes: <root>/backups
	// for init's output, a node's state directory for a member tree
	// ([NodeStateDir]).
	backups string
	// backup is the run's backup directory, made on first use.
	backup string
	// keepMode makes a replaced file keep its mode rather than take the
	// change's: a node's files are the node's (an etcd user's 0640 key).
	keepMode bool
}

func newChangeSet(root, op string, now time.Time) *changeSet {
	return &changeSet{root: root, op: op, now: now, res: &Result{Dir: root}, backups: BackupsDir(root)}
}

// newNodeChangeSet is the change set of a command that changes the files of
// a node's tree (dir, standing for the node path root): backups go to the
// node's state directory, and replaced files keep their mode.
func newNodeChangeSet(dir, root, op string, now time.Time) *changeSet {
	cs := newChangeSet(dir, op, now)
	cs.backups = filepath.Join(NodeStateDir(dir, root), "backups")
	cs.keepMode = true
	return cs
}

// apply brings one group of files to their new content: a certificate and
// its key, a CA certificate and its key, or a single file. Files that
// already hold their new content are left alone. The others are backed up,
// then all of them are written under temporary names, and only then renamed
// into place, one right after the other: the only moment at which a group
// is half replaced is between two renames, and a run killed there is
// completed by the next one (repair).
func (cs *changeSet) apply(group ...change) error {
	var todo []change
	for _, c := range group {
		// The one bounded reader: a FIFO or a huge file in the tree is
		// refused, not read into memory or copied into the backup.
		old, err := layout.ReadFile(c.path)
		if errors.Is(err, readfile.ErrEmpty) {
			old, err = []byte{}, nil // an empty file is replaced like any other
		}
		switch {
		case err == nil && bytes.Equal(old, c.data):
			cs.res.Unchanged = append(cs.res.Unchanged, relTo(cs.root, c.path))
			continue
		case err == nil:
			if err := cs.backupFile(c.path, old); err != nil {
				return err
			}
		case !notExist(err):
			return err
		}
		todo = append(todo, c)
	}
	var pending []*layout.PendingFile
	abort := func() {
		for _, p := range pending {
			p.Abort()
		}
	}
	for _, c := range todo {
		perm := c.perm
		if st, err := os.Stat(c.path); err == nil && cs.keepMode {
			perm = st.Mode().Perm()
		}
		p, err := layout.PrepareFile(c.path, c.data, perm)
		if err != nil {
			abort()
			return fmt.Errorf("writing %s: %w", c.path, err)
		}
		pending = append(pending, p)
	}
	for i, p := range pending {
		if err := p.Commit(); err != nil {
			for _, q := range pending[i+1:] {
				q.Abort()
			}
			return fmt.Errorf("writing %s: %w", p.Path, err)
		}
		cs.res.Written = append(cs.res.Written, relTo(cs.root, p.Path))
	}
	return nil
}

// backupFile copies the current content of path into the run's backup
// directory, under path's name relative to root and with its mode, and
// syncs it, before path is replaced.
func (cs *changeSet) backupFile(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return &layout.FileError{Path: path, Err: unwrapPath(err)}
	}
	dir, err := cs.backupDir()
	if err != nil {
		return err
	}
	dst := filepath.Join(dir, relTo(cs.root, path))
	if err := layout.WriteFile(dst, data, st.Mode().Perm()); err != nil {
		return fmt.Errorf("backing up %s: %w", path, err)
	}
	return nil
}

// backupDir makes <backups>/<UTC time>-<op> on first use; a second
// run within the same second gets a suffix rather than mixing its backups
// with the first one's.
func (cs *changeSet) backupDir() (string, error) {
	if cs.backup != "" {
		return cs.backup, nil
	}
	parent := cs.backups
	if err := os.MkdirAll(parent, layout.DirPerm); err != nil {
		return "", err
	}
	base := cs.now.UTC().Format("20060102T150405Z") + "-" + strings.ReplaceAll(cs.op, " ", "-")
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name += "." + strconv.Itoa(i)
		}
		dir := filepath.Join(parent, name)
		err := os.Mkdir(dir, layout.DirPerm)
		if err == nil {
			cs.backup = dir
			cs.res.Backup = relTo(cs.root, dir)
			return dir, nil
		}
		if !os.IsExist(err) {
			return "", err
		}
	}
}

// repair completes the replacements that a killed run left half done and
// removes the temporary files it left: layout.Repair, the one repair init
// uses too, with what it completed recorded in the result.
func (cs *changeSet) repair(pairs []layout.Pair, singles []string) error {
	done, err := layout.Repair(pairs, singles)
	for _, p := range done {
		cs.res.Repaired = append(cs.res.Repaired, relTo(cs.root, p))
	}
	return err
}

// managed lists the files of the directory that the commands here change,
// as the pairs and single files repair looks at; extra members (a member
// being added, not yet in the spec) are included.
func (d *Dir) managed(extra ...string) ([]layout.Pair, []string) {
	pairs := []layout.Pair{
		{Cert: filepath.Join(layout.CADir(d.Path), "ca.crt"), Key: filepath.Join(layout.CADir(d.Path), "ca.key")},
		{Cert: filepath.Join(NextCADir(d.Path), "ca.crt"), Key: filepath.Join(NextCADir(d.Path), "ca.key")},
		{Cert: filepath.Join(RetiredCADir(d.Path), "ca.crt"), Key: filepath.Join(RetiredCADir(d.Path), "ca.key")},
	}
	singles := []string{layout.SpecFile(d.Path), BundlePath(d.Path)}
	names := slices.Clone(extra)
	for _, m := range d.Spec.Members {
		names = append(names, m.Name)
	}
	for _, name := range names {
		for _, kind := range d.LeafKinds() {
			pairs = append(pairs, layout.Pair{Cert: d.CertPath(name, kind), Key: d.KeyPath(name, kind)})
		}
		if d.Spec.ExternalCA {
			singles = append(singles, d.CertPath(name, pki.KindCA))
		} else {
			pairs = append(pairs, layout.Pair{Cert: d.CertPath(name, pki.KindCA), Key: d.KeyPath(name, pki.KindCA)})
		}
	}
	return pairs, singles
}

// begin starts a command that changes out at time now (zero: the current
// time): it takes the lock, reads the spec and repairs what an interrupted
// run left. extra names members that are not in the spec yet
// (add-member). Call the returned function when done.
func begin(out, op string, now time.Time, extra ...string) (*Dir, *changeSet, func(), error) {
	if now.IsZero() {
		now = time.Now()
	}
	unlock, err := lock(out, op)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := Open(out)
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	cs := newChangeSet(out, op, now)
	pairs, singles := d.managed(extra...)
	if err := cs.repair(pairs, singles); err != nil {
		unlock()
		return nil, nil, nil, err
	}
	// What a run killed while removing <out>/ca-next or <out>/ca-retired
	// left behind (removeDir): the rotation had ended, or the retired CA
	// had been forgotten, already.
	for _, tomb := range []string{nextCATombstone, retiredCATombstone} {
		if err := os.RemoveAll(filepath.Join(out, tomb)); err != nil {
			unlock()
			return nil, nil, nil, err
		}
	}
	return d, cs, unlock, nil
}
