package interop

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// program is something the tests run as a separate process.
type program struct {
	// dir is the module directory go build runs in, relative to this
	// package ("" for this module, ".." for etcdpki's own).
	dir string
	// pkg is the main package built there.
	pkg string
	// stable programs come from the Go module proxy at versions go.sum
	// pins, so their binaries are kept per machine, keyed by go.sum.
	stable bool
	// system programs come from the machine (Debian's etcd 3.4).
	system string
}

// programs are the binaries the interop tests run. etcd 3.4 is Debian's
// package (etcd-server, etcd-client), which .ci/run installs.
var programs = map[string]program{
	"etcdpki":        {dir: "..", pkg: "./cmd/etcdpki"},
	"etcd-3.5":       {dir: "etcd35", pkg: "go.etcd.io/etcd/server/v3", stable: true},
	"etcdctl-3.5":    {dir: "etcd35", pkg: "go.etcd.io/etcd/etcdctl/v3", stable: true},
	"etcd-3.6":       {pkg: "go.etcd.io/etcd/server/v3", stable: true},
	"etcdctl-3.6":    {pkg: "go.etcd.io/etcd/etcdctl/v3", stable: true},
	"kube-apiserver": {pkg: "k8s.io/kubernetes/cmd/kube-apiserver", stable: true},
	"kubeadm":        {pkg: "k8s.io/kubernetes/cmd/kubeadm", stable: true},
	"etcd-3.7":       {dir: "..", pkg: "./internal/etcdmain"},
	"etcdctl-3.7":    {dir: "etcd37", pkg: "go.etcd.io/etcd/etcdctl/v3", stable: true},
	"etcd-3.4":       {system: "etcd"},
	"etcdctl-3.4":    {system: "etcdctl"},
}

type built struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*built{}
	// buildSem keeps go build to one at a time: parallel builds of
	// kube-apiserver and etcd on 2 cores only thrash.
	buildSem = make(chan struct{}, 1)
)

// inCI is true under .ci/run (CI=true), where a program that cannot be
// built or found fails its test instead of skipping it.
var inCI = os.Getenv("CI") == "true"

// binary returns the path of program name, building it on first use. Under
// -short every interop test skips (they all run real processes). Where a
// program cannot be had (no Go module proxy, Debian's etcd not installed)
// the test skips saying why, except in CI, where it fails.
func binary(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the interop tests run real etcd, kube-apiserver and kubeadm processes")
	}
	p, err := buildProgram(name)
	if err != nil {
		if inCI {
			t.Fatalf("%s: %v", name, err)
		}
		t.Skipf("%s is not available here: %v", name, err)
	}
	return p
}

func buildProgram(name string) (string, error) {
	prog, ok := programs[name]
	if !ok {
		return "", fmt.Errorf("no program %q", name)
	}
	buildsMu.Lock()
	b := builds[name]
	if b == nil {
		b = &built{}
		builds[name] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.path, b.err = prog.build(name) })
	return b.path, b.err
}

func (p program) build(name string) (string, error) {
	if p.system != "" {
		path, err := exec.LookPath(p.system)
		if err != nil {
			return "", fmt.Errorf("%s not installed (Debian: apt-get install etcd-server etcd-client): %w", p.system, err)
		}
		want := strings.TrimPrefix(name, p.system+"-")
		// etcd prints "etcd Version: 3.4.23" for --version; etcdctl 3.4
		// has no --version ("Error: unknown flag: --version") and prints
		// "etcdctl version: 3.4.23" for its version command.
		arg := "--version"
		if strings.HasPrefix(name, "etcdctl-") {
			arg = "version"
		}
		out, _ := exec.Command(path, arg).CombinedOutput()
		if !regexp.MustCompile(`(?mi)version: ` + regexp.QuoteMeta(want) + `\.`).Match(out) {
			return "", fmt.Errorf("%s is not etcd %s: %s", path, want, firstLine(out))
		}
		return path, nil
	}
	out, err := outputPath(name, p)
	if err != nil {
		return "", err
	}
	if p.stable {
		if _, err := os.Stat(out); err == nil {
			return out, nil
		}
	}
	buildSem <- struct{}{}
	defer func() { <-buildSem }()
	tmp := out + ".tmp"
	cmd := exec.Command("go", "build", "-o", tmp, p.pkg)
	cmd.Dir = p.dir
	if cmd.Dir == "" {
		cmd.Dir = "."
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s in %s (needs the Go module proxy on a new machine): %v\n%s", p.pkg, cmd.Dir, err, tail(stderr.Bytes(), 2000))
	}
	return out, os.Rename(tmp, out)
}

// outputPath is where program name's binary lives: for the proxy-pinned
// programs a per-machine cache keyed by the module's go.sum (so the
// three-minute kube-apiserver build happens once per machine), for
// etcdpki a per-process temporary directory (it changes with the source).
func outputPath(name string, p program) (string, error) {
	if !p.stable {
		return filepath.Join(tempDir(), name), nil
	}
	dir := p.dir
	if dir == "" {
		dir = "."
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(sum)
	h.Write([]byte(runtime.Version()))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cache = filepath.Join(cache, "etcdpki-interop", hex.EncodeToString(h.Sum(nil))[:16])
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	return filepath.Join(cache, name), nil
}

var (
	tmpOnce sync.Once
	tmpPath string
)

// tempDir is this test process's directory for etcdpki's binary, removed
// by TestMain.
func tempDir() string {
	tmpOnce.Do(func() {
		var err error
		if tmpPath, err = os.MkdirTemp("", "etcdpki-interop-"); err != nil {
			panic(err)
		}
	})
	return tmpPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpPath != "" {
		os.RemoveAll(tmpPath)
	}
	os.Exit(code)
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
