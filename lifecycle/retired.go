package lifecycle

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// RetiredCADir is where the CA a rotation retired is kept, certificate and
// key, from the Finalize that makes the new CA <out>/ca until [StatusLive]
// has seen every member refuse it. A member finalized but not restarted
// since still trusts the old CA (etcd reads its trusted CA files only at
// start), and only a client certificate of the old CA, which needs its
// key, can tell: the files say nothing once the rotation is over.
func RetiredCADir(out string) string { return filepath.Join(out, "ca-retired") }

// retiredCATombstone is the name <out>/ca-retired takes while it is
// removed (see removeDir); a leading dot makes it no valid member name.
const retiredCATombstone = ".ca-retired.removed"

// retiredCert reads the retired CA's certificate; nil, nil when none is
// kept, or when what is kept is the CA of <out>/ca (a finalize killed after
// writing <out>/ca-retired and before replacing <out>/ca: the rotation is
// still in progress, and the next finalize completes it).
func (d *Dir) retiredCert() (*x509.Certificate, error) {
	path := filepath.Join(RetiredCADir(d.Path), "ca.crt")
	if !exists(path) {
		return nil, nil
	}
	c, err := layout.ReadCert(path)
	if err != nil {
		return nil, err
	}
	cur, err := layout.ReadCert(filepath.Join(layout.CADir(d.Path), "ca.crt"))
	if err != nil {
		return nil, err
	}
	if bytes.Equal(c.Raw, cur.Raw) {
		return nil, nil
	}
	return c, nil
}

// retiredCA reads the retired CA, certificate and key (see retiredCert).
func (d *Dir) retiredCA() (*pki.CA, error) {
	c, err := d.retiredCert()
	if c == nil || err != nil {
		return nil, err
	}
	return readCA(RetiredCADir(d.Path))
}

// retire keeps the CA of <out>/ca, which Finalize is about to replace,
// in <out>/ca-retired: the same bytes, with the modes of a CA (key 0600,
// directory 0700), written as every pair is (changeSet.apply).
func retire(cs *changeSet, out string) error {
	dir, caDir := RetiredCADir(out), layout.CADir(out)
	var group []change
	for _, f := range []struct {
		name string
		perm os.FileMode
	}{{"ca.key", layout.KeyPerm}, {"ca.crt", layout.CertPerm}} {
		data, err := layout.ReadFile(filepath.Join(caDir, f.name))
		if err != nil {
			return err
		}
		group = append(group, change{filepath.Join(dir, f.name), data, f.perm})
	}
	return cs.apply(group...)
}

// forgetRetired removes <out>/ca-retired, after copying its files into the
// run's backup directory like any file a command replaces.
func forgetRetired(cs *changeSet, out string) error {
	return forgetCA(cs, out, RetiredCADir(out), retiredCATombstone)
}

// forgetCA removes dir, a CA pair's directory of out, after copying its
// ca.crt and ca.key into the run's backup directory (removeDir, tomb).
func forgetCA(cs *changeSet, out, dir, tomb string) error {
	for _, name := range []string{"ca.crt", "ca.key"} {
		p := filepath.Join(dir, name)
		data, err := layout.ReadFile(p)
		if notExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := cs.backupFile(p, data); err != nil {
			return err
		}
	}
	return removeDir(out, dir, tomb)
}

// removeDir removes dir, a directory of out, as one step: it renames dir
// to out/tomb, syncs out, and only then removes it. Removing dir in place
// unlinks its files one at a time, and a run killed in between would leave
// a certificate without its key, or a key without its certificate, where
// the commands still look; the rename takes it out of sight at once. A
// tombstone left by a run killed after the rename is removed by the next
// command (begin) and by this function.
func removeDir(out, dir, tomb string) error {
	tomb = filepath.Join(out, tomb)
	if err := os.RemoveAll(tomb); err != nil {
		return err
	}
	if err := os.Rename(dir, tomb); err != nil && !notExist(err) {
		return err
	}
	if err := layout.SyncDir(out); err != nil {
		return err
	}
	return os.RemoveAll(tomb)
}

// StatusLive is [Status] with the running members checked too
// ([CheckLive]), each judged by what its stage needs: accepting the new CA
// once staged (restarted since), serving it too once reissued, refusing
// the old one once finalized (restarted since), which after the rotation
// holds for every member while the retired CA is kept. The returned
// status's Running says so member by member, Restart and Unreachable name
// the members that are not ready, and Next and Advice take them into
// account (Next is [StepRestart] while any member needs a restart or is
// unreachable).
//
// Once the rotation is over and every member refuses the old CA and
// accepts the new one on both ports, StatusLive forgets the retired CA: it
// removes <out>/ca-retired (its files backed up first, as every command
// does), and the returned status has ForgotRetired set. That is the one
// change it makes, under the directory's lock; it returns the
// [*layout.LockedError] of the lock when another command holds it then.
func StatusLive(ctx context.Context, out string, timeout time.Duration) (*RotationStatus, error) {
	d, err := Open(out)
	if err != nil {
		return nil, err
	}
	st, err := d.status()
	if err != nil {
		return nil, err
	}
	running, err := d.runLive(ctx, st, timeout, st.expectFor)
	if err != nil {
		return nil, err
	}
	st.setLive(running)
	confirmed := !st.InProgress && st.Retired != "" && st.Next != StepFix && len(st.Restart) == 0 && len(st.Unreachable) == 0
	if !confirmed {
		return st, nil
	}
	// Every member refuses the retired CA: forget it, under the lock,
	// if it is still the one the check was made against.
	d, cs, unlock, err := begin(out, "rotate-ca status", time.Time{})
	if err != nil {
		return nil, err
	}
	defer unlock()
	if again, err := d.status(); err != nil || again.InProgress || again.Retired != st.Retired {
		return st, err
	}
	if err := forgetRetired(cs, out); err != nil {
		return nil, err
	}
	forgot := st.Retired
	if st, err = d.status(); err != nil {
		return nil, err
	}
	st.setLive(running)
	st.ForgotRetired, st.Backup = forgot, cs.res.Backup
	st.Next, st.Advice = st.next()
	return st, nil
}
