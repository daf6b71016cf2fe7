package member

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrOutside is returned for a node path that lies outside what a member
// directory holds (a copy of /etc/kubernetes asked for /var/lib/…), or
// that a symlink or ".." leads out of.
var ErrOutside = errors.New("lies outside the member directory")

// maxLinks bounds symlink resolution, as the kernel's ELOOP does.
const maxLinks = 40

// Disk maps a node path (as etcd sees it on the node) to the file in the
// member's directory. The path is cleaned first, so ".." cannot climb out,
// and symlinks inside the tree are followed within it: an absolute
// target means the node's root, which is the member directory, never this
// machine's (kubespray makes /etc/kubernetes/pki an absolute symlink to
// /etc/kubernetes/ssl). The error is [ErrOutside] when the path, or a link
// on the way, leaves the tree.
func (in *Input) Disk(nodePath string) (string, error) {
	if nodePath == "" {
		return "", errors.New("no path")
	}
	if !path.IsAbs(nodePath) {
		// etcd resolves relative paths against its working directory,
		// which for a static pod or unit is "/".
		nodePath = "/" + nodePath
	}
	nodePath = path.Clean(nodePath)
	// Most files of a member share a few directories: resolve each
	// directory once, then only the last component.
	dir, base := path.Split(nodePath)
	in.mu.Lock()
	diskDir, ok := in.dirs[dir]
	in.mu.Unlock()
	if !ok {
		d, err := in.resolve(path.Clean(dir), 0)
		if err != nil {
			return "", err
		}
		diskDir = d
		in.mu.Lock()
		if in.dirs == nil {
			in.dirs = map[string]string{}
		}
		in.dirs[dir] = diskDir
		in.mu.Unlock()
	}
	p := filepath.Join(diskDir, base)
	if st, err := os.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		return in.resolve(nodePath, 0)
	}
	return p, nil
}

// resolve walks a clean absolute node path component by component.
func (in *Input) resolve(nodePath string, links int) (string, error) {
	root := path.Clean(in.Root)
	rel, ok := strings.CutPrefix(nodePath, root)
	if !ok || (rel != "" && root != "/" && rel[0] != '/') {
		return "", ErrOutside
	}
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	cur := root
	for i, p := range parts {
		if p == "" {
			continue
		}
		next := path.Join(cur, p)
		disk := filepath.Join(in.Dir, filepath.FromSlash(strings.TrimPrefix(next, root)))
		st, err := os.Lstat(disk)
		if errors.Is(err, fs.ErrNotExist) {
			// Nothing below a missing component can be a link.
			return filepath.Join(disk, filepath.FromSlash(path.Join(parts[i+1:]...))), nil
		}
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links >= maxLinks {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(disk)
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		rest := path.Join(append([]string{target}, parts[i+1:]...)...)
		return in.resolve(path.Clean(rest), links+1)
	}
	return filepath.Join(in.Dir, filepath.FromSlash(strings.TrimPrefix(cur, root))), nil
}

// Lexical is where a node path lies in the member's directory before any
// symlink is followed: the name findings use, as the operator sees it in
// the tree. The error is [ErrOutside] for a path outside the root.
func (in *Input) Lexical(nodePath string) (string, error) {
	if !path.IsAbs(nodePath) {
		nodePath = "/" + nodePath
	}
	nodePath = path.Clean(nodePath)
	root := path.Clean(in.Root)
	rel, ok := strings.CutPrefix(nodePath, root)
	if !ok || (rel != "" && root != "/" && rel[0] != '/') {
		return "", ErrOutside
	}
	return filepath.Join(in.Dir, filepath.FromSlash(strings.TrimPrefix(rel, "/"))), nil
}

// exists reports whether anything is at the node path, even a directory
// or a dangling symlink: a settings file that is there but unreadable is
// reported rather than silently skipped.
func (in *Input) exists(nodePath string) bool {
	// The parent is resolved inside the tree, never with this machine's
	// root (an absolute symlink in a copied tree must not reach the
	// host's /etc); the last component is looked at, not followed, so a
	// dangling or out-of-tree symlink is there (and reading it says what
	// is wrong).
	if !path.IsAbs(nodePath) {
		nodePath = "/" + nodePath
	}
	nodePath = path.Clean(nodePath)
	parent, err := in.Disk(path.Dir(nodePath))
	if err != nil {
		// A loop or a link out of the tree on the way: something is
		// there, and reading it says what is wrong.
		return !errors.Is(err, ErrOutside) || in.lexicalExists(nodePath)
	}
	_, err = os.Lstat(filepath.Join(parent, path.Base(nodePath)))
	return err == nil
}

func (in *Input) lexicalExists(nodePath string) bool {
	l, err := in.Lexical(nodePath)
	if err != nil {
		return false
	}
	_, err = os.Lstat(l)
	return err == nil
}

func (in *Input) isDir(nodePath string) bool {
	p, err := in.Disk(nodePath)
	if err != nil {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// glob lists the node paths in dir (a node path) whose base name matches
// pattern.
func (in *Input) glob(dir, pattern string) []string {
	d, err := in.Disk(dir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if ok, _ := path.Match(pattern, e.Name()); ok {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	return out
}
