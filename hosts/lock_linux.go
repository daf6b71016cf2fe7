package hosts

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// runLock is a live run's claim on its ID.
type runLock struct {
	id string
	f  *os.File
}

// newRunLock picks a random ID that no resource and no live run uses and
// locks it. taken says whether any resource already carries an ID.
func newRunLock(taken func(id string) bool) (*runLock, error) {
	if err := os.MkdirAll(LockDir, 0o700); err != nil {
		return nil, err
	}
	for range 16 {
		b := make([]byte, idLen/2)
		rand.Read(b)
		id := hex.EncodeToString(b)
		if taken(id) {
			continue
		}
		f, err := os.OpenFile(lockPath(id), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		// A lock that someone else holds is a live run's, whatever its
		// resources: try another ID.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			return nil, err
		}
		fmt.Fprintf(f, "%d\n", os.Getpid())
		return &runLock{id: id, f: f}, nil
	}
	return nil, errors.New("no free run ID after 16 tries")
}

// release removes the lock file and unlocks it. The file goes first, so a
// run that finds it free has nothing else to find.
func (l *runLock) release() {
	if l == nil || l.f == nil {
		return
	}
	os.Remove(lockPath(l.id))
	l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
}

// live reports whether a run holds the lock of id: flock is released when
// its holder exits, however it exits, so a crashed run's ID is free.
func live(id string) bool {
	f, err := os.OpenFile(lockPath(id), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	// Ours now: the run is gone. The lock file is removed with the rest of
	// its leftovers; closing f releases the lock again.
	return false
}
