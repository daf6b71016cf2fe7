package lifecycle

import (
	"errors"

	"github.com/etcdpki/etcdpki/layout"
)

// lock takes the directory's lock (layout.Lock, the one init takes too),
// so two commands never change one directory at once; another holder is
// a *RefusedError with today's wording.
func lock(out, op string) (func(), error) {
	unlock, err := layout.Lock(out)
	var le *layout.LockedError
	if errors.As(err, &le) {
		return nil, &RefusedError{Op: op, Detail: le.Error(), Hint: le.Hint()}
	}
	return unlock, err
}
