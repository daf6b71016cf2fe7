package lifecycle

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/etcdpki/etcdpki/layout"
)

// beginNode starts a command that changes the files of a node's tree dir
// (standing for the node path root) at time now (zero: the current time):
// it makes the node's state directory ([NodeStateDir]: the directories
// above it 0755 where missing, itself 0700, existing ones left as they
// are), takes its lock (layout.Lock, the lock every command takes) and
// returns the run's change set, whose backups go there too. Call the
// returned function when done. A lock another command holds is a
// *RefusedError.
func beginNode(dir, root, op string, now time.Time) (*changeSet, func(), error) {
	if now.IsZero() {
		now = time.Now()
	}
	state := NodeStateDir(dir, root)
	if path.Clean(root) == "/" {
		if err := layout.NodeDirs(dir, "/var/lib/etcdpki"); err != nil {
			return nil, nil, &layout.FileError{Path: state, Err: unwrapPath(err)}
		}
	}
	switch err := os.Mkdir(state, layout.DirPerm); {
	case err == nil:
		// Mkdir applies the umask; the state directory is 0700 whatever it is.
		if err := os.Chmod(state, layout.DirPerm); err != nil {
			return nil, nil, &layout.FileError{Path: state, Err: unwrapPath(err)}
		}
	case !errors.Is(err, os.ErrExist):
		return nil, nil, &layout.FileError{Path: state, Err: unwrapPath(err)}
	}
	unlock, err := lock(state, op)
	if err != nil {
		return nil, nil, err
	}
	// What a rotation step killed while removing ca-next or ca-retired
	// left (removeDir): those directories were gone already.
	for _, tomb := range []string{nextCATombstone, retiredCATombstone} {
		if err := os.RemoveAll(filepath.Join(state, tomb)); err != nil {
			unlock()
			return nil, nil, err
		}
	}
	return newNodeChangeSet(dir, root, op, now), unlock, nil
}
