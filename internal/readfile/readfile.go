// Package readfile is the project's one bounded file reader: every file
// etcdpki reads (certificates, keys, specs, settings, files it is about
// to replace) goes through Read, which refuses directories, FIFOs and
// other special files (opening a FIFO blocks until a writer comes) and
// anything over MaxSize (a symlink to /dev/zero, a sparse 2 GB file).
// It sits below every other package so that spec, layout and lifecycle
// can share it; layout.ReadFile is its public face.
package readfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxSize bounds what Read returns. Certificates, bundles, keys, specs
// and manifests are a few kilobytes; anything larger is not one.
const MaxSize = 1 << 20

// ErrEmpty is wrapped by Read's error for an empty file: a truncated
// certificate is unusable, but a command replacing it may go ahead.
var ErrEmpty = errors.New("is empty")

// Error is a problem with one file. Its text names the file.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Read reads a small regular file. The error is an *[Error] naming the
// file; a missing file's wraps fs.ErrNotExist.
func Read(path string) ([]byte, error) {
	// Check before opening: opening a FIFO for reading blocks until a
	// writer comes along.
	st, err := os.Stat(path)
	if err != nil {
		return nil, &Error{Path: path, Err: unwrapPath(err)}
	}
	if err := checkReadable(st); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	// O_NONBLOCK: should a FIFO be swapped in between the stat and the
	// open, the open does not wait for a writer; the fstat below then
	// refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, &Error{Path: path, Err: unwrapPath(err)}
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	if err := checkReadable(st); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	if len(data) > MaxSize {
		return nil, &Error{Path: path, Err: errors.New("grew past the size limit while being read")}
	}
	if len(data) == 0 {
		return nil, &Error{Path: path, Err: ErrEmpty}
	}
	return data, nil
}

// checkReadable refuses what is not a small regular file.
func checkReadable(st fs.FileInfo) error {
	switch {
	case st.IsDir():
		return errors.New("is a directory, expected a file")
	case !st.Mode().IsRegular():
		return fmt.Errorf("is not a regular file (%s)", st.Mode().Type())
	case st.Size() > MaxSize:
		return fmt.Errorf("is %d bytes, too large for a certificate, key or settings file (limit %d)", st.Size(), MaxSize)
	}
	return nil
}

// unwrapPath drops the *fs.PathError wrapper, whose text repeats the path
// that Error already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// OpenStream opens a file that is read as a stream, line by line, such
// as a log: a regular file of any size, or a pipe (a shell's
// <(journalctl …)). It refuses directories, devices and sockets. A FIFO
// is opened without waiting for a writer (O_NONBLOCK; Go's poller then
// waits for data), so a FIFO without a writer reads as empty instead of
// hanging.
// The caller bounds what it keeps of each line. The error is an *[Error]
// naming the file.
func OpenStream(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &Error{Path: path, Err: unwrapPath(err)}
	}
	if err := checkStream(st); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, &Error{Path: path, Err: unwrapPath(err)}
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, &Error{Path: path, Err: err}
	}
	if err := checkStream(st); err != nil {
		f.Close()
		return nil, &Error{Path: path, Err: err}
	}
	return f, nil
}

func checkStream(st fs.FileInfo) error {
	switch {
	case st.IsDir():
		return errors.New("is a directory, expected a file")
	case st.Mode().IsRegular(), st.Mode()&fs.ModeNamedPipe != 0:
		return nil
	}
	return fmt.Errorf("is not a regular file or a pipe (%s)", st.Mode().Type())
}
