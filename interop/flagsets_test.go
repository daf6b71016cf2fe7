package interop

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// versionsDoc reads docs/versions.md, which the main module generates from
// its release package: the flags that only some etcd versions define
// (with yes/no per version 3.4, 3.5, 3.6, 3.7) and those every version
// defines.
func versionsDoc(t *testing.T) (versioned map[string][4]bool, common []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docs", "versions.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\| (yes|no) \\| (yes|no) \\| (yes|no) \\| (yes|no) \\|")
	versioned = map[string][4]bool{}
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		versioned[m[1]] = [4]bool{m[2] == "yes", m[3] == "yes", m[4] == "yes", m[5] == "yes"}
	}
	_, rest, ok := strings.Cut(string(data), "## etcd flags every version defines")
	if !ok {
		t.Fatal("docs/versions.md has no list of the flags every version defines")
	}
	for _, m := range regexp.MustCompile("`([a-z0-9-]+)`").FindAllStringSubmatch(rest, -1) {
		common = append(common, m[1])
	}
	if len(versioned) < 50 || len(common) < 50 {
		t.Fatalf("docs/versions.md: %d versioned and %d common flags; the tables did not parse", len(versioned), len(common))
	}
	return versioned, common
}

// knowsFlag asks etcd binary bin whether it defines flag name, with its
// own flag set: etcdmain's config.parse parses the whole command line
// before it acts on --version, and exits with "flag provided but not
// defined: -NAME" on a flag it does not know
// (go.etcd.io/etcd/server/v3@v3.5.21 etcdmain/config.go parse; the same
// in 3.4.23, 3.6.5 and 3.7.3). A value the flag rejects is a different
// error, so "1" does for every type.
func knowsFlag(t *testing.T, bin, name string) bool {
	out, _ := exec.Command(bin, "--version", "--"+name+"=1").CombinedOutput()
	if bytes.Contains(out, []byte("flag provided but not defined")) {
		return false
	}
	if !bytes.Contains(out, []byte("etcd Version:")) && !bytes.Contains(out, []byte("invalid")) {
		// Neither the version nor a rejected value: not the parse we
		// meant to test.
		t.Errorf("%s --version --%s=1 printed neither its version nor a parse error:\n%s", bin, name, tail(out, 500))
	}
	return true
}

// TestFlagSetsOfEveryVersion proves etcdpki's per-version flag facts
// (docs/versions.md, generated from the release package that flags and
// check use) against the real etcd 3.4, 3.5, 3.6 and 3.7 binaries: every
// flag the docs say a version defines, its binary accepts, and every flag
// they say it does not, its binary refuses.
func TestFlagSetsOfEveryVersion(t *testing.T) {
	versioned, common := versionsDoc(t)
	for i, v := range []string{"3.4", "3.5", "3.6", "3.7"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			bin := binary(t, "etcd-"+v)
			var mu sync.Mutex
			var wrong []string
			check := func(name string, want bool) {
				if got := knowsFlag(t, bin, name); got != want {
					mu.Lock()
					wrong = append(wrong, name)
					mu.Unlock()
					t.Errorf("etcd %s: --%s defined = %t, docs/versions.md says %t", v, name, got, want)
				}
			}
			// A few at a time: each is a process start.
			sem := make(chan struct{}, 4)
			var wg sync.WaitGroup
			run := func(name string, want bool) {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					check(name, want)
				}()
			}
			for name, by := range versioned {
				run(name, by[i])
			}
			for _, name := range common {
				run(name, true)
			}
			// The control: a flag no version has.
			run("no-such-flag-etcdpki", false)
			wg.Wait()
			if len(wrong) > 0 {
				t.Logf("fix release/flags.go for etcd %s: %s", v, strings.Join(wrong, " "))
			}
		})
	}
}
