package member

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/spec"
)

// Input is one member directory, before its files are read.
type Input struct {
	// Dir is the directory on this machine.
	Dir string
	// Root is the node path Dir stands for: "/" for a copy of a node's
	// root (or a member tree from init), "/etc/kubernetes" for a copy of
	// that directory, and so on (the distribution's Roots).
	Root string
	// Distribution is the layout the node's files follow.
	Distribution *Distribution
	// Spec and SpecMember are set when the member comes from init's
	// output or a --config spec.
	Spec       *spec.Cluster
	SpecMember *spec.Member
	// InitDir is init's output directory the member comes from, or "".
	InitDir string
	// SettingsFile, when set, is a file on this machine that holds the
	// member's etcd settings (flags, ETCD_* variables or a config file),
	// read instead of the distribution's own (check --etcd-flags).
	SettingsFile string

	mu   sync.Mutex
	dirs map[string]string // resolved directories, by node path
}

// DiscoverOptions tune Discover.
type DiscoverOptions struct {
	// Layout forces a distribution by name (--layout); empty detects it.
	Layout string
	// SettingsFile is passed to every member found (--etcd-flags).
	SettingsFile string
	// Collected, for LoadDirs, holds members already read for some of
	// its dirs, by index: dirs[i] stands for Collected[i] (an ssh:// URL
	// whose node package remote collected) and is not looked up here.
	Collected map[int][]*Member
}

// NotFoundError is returned by Discover for a directory that matches no
// known layout. Its text lists what was looked for.
type NotFoundError struct {
	Dir string
	// Looked lists, per distribution, the paths tried.
	Looked []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s: no etcd PKI found (looked for %s, and the same below /etc/kubernetes, /etc/etcd, /etc/ssl/etcd, /var/lib/rancher/*/server); "+
		"give a copy of a node's /, force a layout with --layout, or name etcd's settings with --etcd-flags FILE (etcd's flags or ETCD_* variables)",
		e.Dir, strings.Join(e.Looked, ", "))
}

// Discover turns a path given on the command line into member inputs: an
// init output directory expands to all its members; anything else is one
// member whose distribution and root are recognised by the files in it
// (or forced with opts.Layout). The error is a *[layout.FileError] for a
// path that is not a directory and a *[NotFoundError] for one that holds
// no etcd PKI.
func Discover(dir string, opts DiscoverOptions) ([]*Input, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, &layout.FileError{Path: dir, Err: unwrapPathError(err)}
	}
	if !st.IsDir() {
		return nil, &layout.FileError{Path: dir, Err: errors.New("is not a directory; give a member's directory")}
	}
	// A directory this user cannot read is that, not a node without a
	// PKI (nor one without a server certificate).
	top := map[string]bool{}
	if f, err := os.Open(dir); err != nil {
		return nil, &layout.FileError{Path: dir, Err: fmt.Errorf("cannot be read: %w", unwrapPathError(err))}
	} else {
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, &layout.FileError{Path: dir, Err: fmt.Errorf("cannot be read: %w", unwrapPathError(err))}
		}
		for _, n := range names {
			top[n] = true
		}
	}
	if isFile(layout.SpecFile(dir)) {
		return discoverInit(dir, opts)
	}
	cands := distributions
	if opts.Layout != "" {
		d, err := LookupDistribution(opts.Layout)
		if err != nil {
			return nil, err
		}
		cands = []*Distribution{d}
	}
	var looked []string
	for _, d := range cands {
		for _, root := range d.Roots {
			in := &Input{Dir: dir, Root: root, Distribution: d, SettingsFile: opts.SettingsFile}
			for _, m := range d.Markers {
				if !strings.HasPrefix(m, root) {
					continue
				}
				if root == "/" && len(looked) < len(cands) && !strings.Contains(strings.Join(looked, ","), d.Title+" ") {
					looked = append(looked, d.Title+" "+strings.TrimPrefix(m, "/"))
				}
				// A marker whose first component is not in the directory
				// cannot be there: one readdir spares most of the probes.
				first, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(m, root), "/"), "/")
				if !top[first] {
					continue
				}
				if in.exists(m) {
					return []*Input{in}, nil
				}
			}
		}
		if opts.Layout != "" && opts.SettingsFile != "" {
			// A forced layout with named settings: the files come from
			// the settings, wherever the tree keeps them.
			return []*Input{{Dir: dir, Root: "/", Distribution: d, SettingsFile: opts.SettingsFile}}, nil
		}
	}
	if opts.SettingsFile != "" {
		d, _ := LookupDistribution("etcdadm")
		return []*Input{{Dir: dir, Root: "/", Distribution: d, SettingsFile: opts.SettingsFile}}, nil
	}
	return nil, &NotFoundError{Dir: dir, Looked: looked}
}

// discoverInit expands init's output directory to its members.
func discoverInit(dir string, opts DiscoverOptions) ([]*Input, error) {
	c, err := spec.Load(layout.SpecFile(dir))
	if err != nil {
		return nil, err
	}
	d, err := LookupDistribution(map[string]string{spec.LayoutEtcd: "etcdadm"}[c.Layout])
	if err != nil || c.Layout == "" || c.Layout == spec.LayoutKubeadm {
		d, _ = LookupDistribution("kubeadm")
	}
	var ins []*Input
	for i := range c.Members {
		m := &c.Members[i]
		md := layout.MemberDir(dir, m.Name)
		if !isDir(md) {
			return nil, &layout.FileError{Path: md, Err: fmt.Errorf("member %s of %s is missing", m.Name, layout.SpecFile(dir))}
		}
		ins = append(ins, &Input{Dir: md, Root: "/", Distribution: d, Spec: c, SpecMember: m, InitDir: dir, SettingsFile: opts.SettingsFile})
	}
	return ins, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
