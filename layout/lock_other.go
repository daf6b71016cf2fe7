//go:build !unix

package layout

// Lock is a no-op where flock(2) does not exist: one command at a time is
// then the operator's business.
func Lock(out string) (unlock func(), err error) { return func() {}, nil }

// LockRun is a no-op where flock(2) does not exist.
func LockRun(dir string) (unlock func(), err error) { return func() {}, nil }
