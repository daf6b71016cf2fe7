package local

import (
	"os"
	"path/filepath"
	"time"

	"github.com/etcdpki/etcdpki/layout"
)

// deadRunAge is how old an unlocked run directory must be before a later
// run removes it: a live run creates its directory and takes its lock a
// moment later, and must not lose it in between.
const deadRunAge = time.Minute

// TempDir makes a temporary directory for one run (`up`, `demo`, hosts
// mode), named after prefix, and holds its run lock (layout.LockRun) until
// release, which also removes it. First it removes what runs killed with
// SIGKILL left under the same prefix: directories whose run lock nobody
// holds (hundreds of megabytes each, with CA keys inside), so keys in them
// do not outlive their run by more than the next run.
func TempDir(prefix string) (dir string, release func(), err error) {
	removeDeadRuns(prefix)
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	unlock, err := layout.LockRun(dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() {
		os.RemoveAll(dir)
		unlock()
	}, nil
}

// removeDeadRuns removes the run directories under prefix whose owner is
// gone.
func removeDeadRuns(prefix string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, d := range dirs {
		st, err := os.Lstat(d)
		if err != nil || !st.IsDir() || time.Since(st.ModTime()) < deadRunAge {
			continue
		}
		unlock, err := layout.LockRun(d)
		if err != nil {
			continue // alive (or not ours to judge)
		}
		os.RemoveAll(d)
		unlock()
	}
}
