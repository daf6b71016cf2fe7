//go:build !unix

package lifecycle

// lock is a no-op where flock(2) does not exist: one command at a time is
// then the operator's business.
func lock(out, op string) (func(), error) { return func() {}, nil }
