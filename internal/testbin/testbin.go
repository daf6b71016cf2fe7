// Package testbin builds this module's programs for tests that run them
// as separate processes: the etcd server of ./internal/etcdmain, and the
// etcdpki command itself. Each is built once per test binary, into a
// temporary directory that Cleanup removes; go build reuses its cache, so
// a build after the first takes about half a second.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The programs there are to build.
const (
	etcdPkg    = "github.com/etcdpki/etcdpki/internal/etcdmain"
	etcdpkiPkg = "github.com/etcdpki/etcdpki/cmd/etcdpki"
)

var (
	mu     sync.Mutex
	dir    string
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Etcd returns the etcd server binary (./internal/etcdmain), or skips t
// under -short, where no separate etcd process is run.
func Etcd(t testing.TB) string { return forTest(t, "etcd", etcdPkg) }

// Etcdpki returns the etcdpki binary, or skips t under -short.
func Etcdpki(t testing.TB) string { return forTest(t, "etcdpki", etcdpkiPkg) }

func forTest(t testing.TB, name, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building and running a separate " + name + " process")
	}
	p, err := Build(name, pkg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Build builds main package pkg as name, once, and returns its path.
func Build(name, pkg string) (string, error) {
	mu.Lock()
	b := builds[name]
	if b == nil {
		b = &build{}
		builds[name] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			b.err = err
			return
		}
		mu.Lock()
		if dir == "" {
			dir, err = os.MkdirTemp("", "etcdpki-testbin-")
		}
		d := dir
		mu.Unlock()
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(d, name)
		cmd := exec.Command(goTool, "build", "-o", b.path, pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	return b.path, b.err
}

// Cleanup removes what was built; call it from TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
}
