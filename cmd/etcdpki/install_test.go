package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/filetree"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
)

// TestInstallKilledMidWrite kills `etcdpki install` with SIGKILL at random
// moments while it replaces a node's files with a renewed member tree
// (split credentials: the CA and six leaf pairs), and checks after each
// kill that every file on the node is wholly its old or its new version,
// that every pair is wholly old or wholly new — or, killed between its two
// renames, has its new key in place and its new certificate complete
// under its temporary name, for the next run to complete — that every
// replaced file's old content is in a backup, and that no key is readable
// by others. The tree is renewed before each run, so every run has every
// leaf to replace, and the run after a kill has the kill's leftovers to
// complete first. A last run, not killed, leaves the node equal to the
// tree, without temporary files, and checking clean.
//
// The command runs as a process of its own: testscript.Main (TestMain)
// puts the test binary on $PATH as "etcdpki".
func TestInstallKilledMidWrite(t *testing.T) {
	bin, err := exec.LookPath("etcdpki")
	if err != nil {
		t.Fatal(err)
	}
	c := testca.New(t, testca.Options{Members: 1, Split: true})
	tree, root := c.MemberDir("cp1"), t.TempDir()
	install := func() *exec.Cmd {
		cmd := exec.Command(bin, "install", "--from", tree, "--root", root)
		cmd.Stdout, cmd.Stderr = new(bytes.Buffer), new(bytes.Buffer)
		return cmd
	}
	renew := func() {
		t.Helper()
		if _, err := lifecycle.Renew(c.Dir, lifecycle.RenewOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Whole runs, to know how long one takes.
	var full time.Duration
	for i := 0; i < 3; i++ {
		renew()
		start := time.Now()
		if cmd := install(); cmd.Run() != nil {
			t.Fatalf("install failed:\n%s%s", cmd.Stdout, cmd.Stderr)
		}
		full = max(full, time.Since(start))
	}
	t.Logf("a whole install of 14 files takes %s", full.Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	kills := 30
	if testing.Short() {
		kills = 10
	}
	midway := 0
	for i := 0; i < kills; i++ {
		renew()
		want := readTree(t, tree)
		before := readTree(t, root)
		// The writes come last, after the process starts and checks the
		// tree: most kills land in the second half.
		delay := time.Duration(float64(full) * (0.2 + 0.9*rng.Float64()))
		cmd := install()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill() // SIGKILL: no deferred clean-up runs
		err := cmd.Wait()
		replaced, pending := checkKilledInstall(t, root, want, before)
		differ := 0
		for p, data := range want {
			if !bytes.Equal(data, before[p]) {
				differ++
			}
		}
		if replaced > 0 && replaced < differ || pending > 0 {
			midway++
		}
		t.Logf("killed after %s (%v): %d of %d files replaced, %d pairs between their renames", delay.Round(time.Millisecond), err, replaced, differ, pending)
	}
	t.Logf("%d of %d kills landed while files were being replaced", midway, kills)

	cmd := install()
	if err := cmd.Run(); err != nil {
		t.Fatalf("install after the kills: %v\n%s%s", err, cmd.Stdout, cmd.Stderr)
	}
	want, got := readTree(t, tree), readTree(t, root)
	for p, data := range want {
		if !bytes.Equal(got[p], data) {
			t.Errorf("%s: not the tree's after the last run", p)
		}
	}
	for p := range got {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
	}
	r, err := audit.CheckDirs([]string{root}, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Severity >= audit.Warning {
			t.Errorf("check after the kills: %s", f.Error())
		}
	}
}

// readTree reads every file under dir but etcdpki's state directory.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files, err := filetree.Read(dir, "var/lib/etcdpki")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkKilledInstall checks the node a killed install left (root) against
// what it held before (before, with the temporary files an earlier kill
// left, which this run's repair may have renamed into place) and what the
// tree holds (want), and returns how many files it had replaced and how
// many pairs are between their two renames.
func checkKilledInstall(t *testing.T, root string, want, before map[string][]byte) (replaced, pending int) {
	t.Helper()
	after := readTree(t, root)
	repairable := map[string][][]byte{}
	for p, data := range before {
		dir, base := filepath.Split(p)
		if name, _, ok := strings.Cut(strings.TrimPrefix(base, "."), ".tmp-"); ok && strings.HasPrefix(base, ".") {
			repairable[dir+name] = append(repairable[dir+name], data)
		}
	}
	for p, data := range after {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			continue
		}
		switch {
		case bytes.Equal(data, want[p]) && !bytes.Equal(data, before[p]):
			replaced++
			if old, ok := before[p]; ok && !installBackedUp(root, p, old) {
				t.Errorf("%s was replaced without a backup of its old content", p)
			}
		case bytes.Equal(data, before[p]):
		case slices.ContainsFunc(repairable[p], func(b []byte) bool { return bytes.Equal(b, data) }):
			// An earlier kill's write, completed by this run's repair.
		default:
			t.Errorf("%s is neither its old nor its new content", p)
		}
		if strings.HasSuffix(p, ".key") {
			st, err := os.Stat(filepath.Join(root, p))
			if err == nil && st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: mode %#o, readable by others", p, st.Mode().Perm())
			}
		}
	}
	// Every pair matches, unless the run died between its two renames, key
	// first: then the certificate that matches the key waits, complete,
	// under its temporary name, for the next run's repair.
	for p := range want {
		k := strings.TrimSuffix(p, ".crt") + ".key"
		if _, ok := want[k]; !ok || !strings.HasSuffix(p, ".crt") {
			continue
		}
		cert, key := filepath.Join(root, p), filepath.Join(root, k)
		if layout.PairMatches(cert, key) {
			continue
		}
		pending++
		temps, _ := layout.TempFiles(cert)
		if !slices.ContainsFunc(temps, func(tmp string) bool { return layout.PairMatches(tmp, key) }) {
			t.Errorf("%s does not match its key, and no complete temporary certificate does", p)
		}
	}
	return replaced, pending
}

// installBackedUp reports whether some install backup on the node holds
// old as p.
func installBackedUp(root, p string, old []byte) bool {
	dir := filepath.Join(lifecycle.NodeStateDir(root, "/"), "backups")
	runs, _ := os.ReadDir(dir)
	for _, r := range runs {
		if b, err := os.ReadFile(filepath.Join(dir, r.Name(), p)); err == nil && bytes.Equal(b, old) {
			return true
		}
	}
	return false
}
