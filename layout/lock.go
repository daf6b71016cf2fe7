package layout

import "path/filepath"

// lockName is the lock file in a PKI directory; runLockName the one a
// run holds in its temporary directory ([LockRun]).
const (
	lockName    = ".etcdpki.lock"
	runLockName = ".etcdpki-run.lock"
)

// LockFile is the file [Lock] locks: <out>/.etcdpki.lock. It is not part of
// the PKI; it stays in out after the lock is released.
func LockFile(out string) string { return filepath.Join(out, lockName) }

// LockedError is the refusal of [Lock]: another etcdpki command holds the
// lock on Dir right now.
type LockedError struct {
	// Dir is the PKI directory; Path its lock file.
	Dir, Path string
}

func (e *LockedError) Error() string {
	return "another etcdpki command is changing " + e.Dir + " right now"
}

// Hint says what to do about it.
func (e *LockedError) Hint() string {
	return "wait for it to finish; the lock (" + e.Path + ") goes away with that process"
}

// RotationInProgress reports whether a CA rotation is in progress in out:
// whether the new CA's files are in [NextCADir]. A directory without them
// is what a rotate-ca stage killed before its first rename leaves, and the
// next stage makes the CA afresh.
func RotationInProgress(out string) bool {
	dir := NextCADir(out)
	return exists(filepath.Join(dir, "ca.crt")) || exists(filepath.Join(dir, "ca.key"))
}
