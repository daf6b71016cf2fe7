package main

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/filetree"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// TestRenewKilledMidWrite kills `etcdpki renew` with SIGKILL at random
// moments while it renews a 7-member rsa-4096 PKI (28 keys of a second or
// so each on two cores, their pairs written as they are issued), and
// checks after each kill that every file is wholly its old or its new
// version: it parses, a certificate is signed by the CA, a key matches its
// certificate, nothing is cut short, and whatever was replaced is in the
// run's backup. A run killed between the two renames of a pair leaves the
// second file complete under its temporary name; that is accepted here
// only with the temporary file in place, and the next run must complete
// it. Finally renew runs to the end and the PKI checks clean.
//
// The command runs as a process of its own: testscript.Main (TestMain)
// puts the test binary on $PATH as "etcdpki", where it runs the CLI's run.
func TestRenewKilledMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: generates rsa-4096 keys for minutes")
	}
	bin, err := exec.LookPath("etcdpki")
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for i := 1; i <= 7; i++ {
		members = append(members, fmt.Sprintf("cp%d=10.0.0.%d", i, 10+i))
	}
	c, err := spec.FromFlags(spec.Cluster{Algorithm: pki.RSA4096}, members)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := layout.Init(c, dir, layout.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	ca, err := layout.ReadCert(filepath.Join(layout.CADir(dir), "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	renew := func() *exec.Cmd {
		cmd := exec.Command(bin, "renew", "--dir", dir)
		cmd.Stdout, cmd.Stderr = new(bytes.Buffer), new(bytes.Buffer)
		return cmd
	}

	// A whole run, to know how long one takes.
	start := time.Now()
	if cmd := renew(); cmd.Run() != nil {
		t.Fatalf("renew failed:\n%s%s", cmd.Stdout, cmd.Stderr)
	}
	full := time.Since(start)
	t.Logf("a whole renew of 28 rsa-4096 pairs takes %s", full.Round(time.Millisecond))

	first := treeFiles(t, dir)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const kills = 5
	for i := 0; i < kills; i++ {
		before := treeFiles(t, dir)
		// Runs vary by a third or so; within the first two thirds the
		// process is still writing.
		delay := time.Duration(float64(full) * (0.1 + 0.55*rng.Float64()))
		cmd := renew()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill() // SIGKILL: no deferred clean-up runs
		err := cmd.Wait()
		after := treeFiles(t, dir)
		replaced, pending := checkKilledTree(t, dir, ca, before, after)
		t.Logf("killed after %s (%v): %d files replaced, %d pairs caught between their renames", delay.Round(time.Millisecond), err, replaced, pending)
	}

	// Running it again completes: every pair new and matching, no
	// temporary file left, and check is clean.
	cmd := renew()
	if err := cmd.Run(); err != nil {
		t.Fatalf("renew after the kills: %v\n%s%s", err, cmd.Stdout, cmd.Stderr)
	}
	final := treeFiles(t, dir)
	for p, data := range final {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		if isLeaf(p) && bytes.Equal(data, first[p]) {
			t.Errorf("%s was not renewed by the last run", p)
		}
	}
	r, err := audit.CheckDirs([]string{dir}, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Severity >= audit.Warning {
			t.Errorf("check after the kills: %s", f.Error())
		}
	}
}

// checkKilledTree checks the tree a killed run left against the one
// before it and returns how many files it had replaced and how many pairs
// are between their two renames (killedTree.check for init's output).
func checkKilledTree(t *testing.T, dir string, ca *x509.Certificate, before, after map[string][]byte) (replaced, pending int) {
	t.Helper()
	return killedTree{dir: dir, backups: filepath.Join(dir, "backups"), leaf: isLeaf, ca: ca}.check(t, before, after)
}

// killedTree is a tree a killed command was changing: init's output or a
// node's tree renewed in place.
type killedTree struct {
	dir string
	// backups holds one directory per run, the replaced files under their
	// paths relative to dir.
	backups string
	// leaf reports whether a path (relative to dir) is a leaf
	// certificate or key, whose pair must match.
	leaf func(string) bool
	// ca, when set, must have signed every replaced certificate.
	ca *x509.Certificate
}

// check checks the files a killed run left (after) against those before
// it: every replaced file whole and backed up, no file but temporary ones
// new, and every leaf pair matching unless the run died between its two
// renames (then the other half waits, complete, under its temporary
// name). It returns how many files were replaced and how many pairs are
// pending.
func (k killedTree) check(t *testing.T, before, after map[string][]byte) (replaced, pending int) {
	t.Helper()
	for p, old := range before {
		data, ok := after[p]
		if !ok {
			t.Errorf("%s is gone", p)
			continue
		}
		if bytes.Equal(data, old) {
			continue
		}
		replaced++
		full := filepath.Join(k.dir, p)
		switch {
		case strings.HasSuffix(p, ".key"):
			if _, err := layout.ReadKey(full); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		case strings.HasSuffix(p, ".crt"):
			cert, err := layout.ReadCert(full)
			if err != nil {
				t.Errorf("%s: %v", p, err)
			} else if k.ca != nil {
				if err := pki.SignedBy(cert, k.ca); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
		}
		if !k.backedUp(p, old) {
			t.Errorf("%s was replaced without a backup of its old content", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok && !strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("new file %s", p)
		}
		if !k.leaf(p) || !strings.HasSuffix(p, ".crt") {
			continue
		}
		certPath := filepath.Join(k.dir, p)
		keyPath := strings.TrimSuffix(certPath, ".crt") + ".key"
		if _, err := layout.ReadKeyPair(certPath, keyPath); err != nil {
			temps, _ := layout.TempFiles(certPath)
			keyTemps, _ := layout.TempFiles(keyPath)
			if len(temps)+len(keyTemps) == 0 {
				t.Errorf("%s: %v, and no temporary file to complete it", p, err)
			}
			pending++
		}
	}
	return replaced, pending
}

// backedUp reports whether some backup directory holds old as p.
func (k killedTree) backedUp(p string, old []byte) bool {
	runs, _ := os.ReadDir(k.backups)
	for _, r := range runs {
		if b, err := os.ReadFile(filepath.Join(k.backups, r.Name(), p)); err == nil && bytes.Equal(b, old) {
			return true
		}
	}
	return false
}

// isLeaf reports whether p is a member's leaf certificate or key (not its
// CA files, the spec or the CA).
func isLeaf(p string) bool {
	base := filepath.Base(p)
	return strings.Contains(p, "/etc/") && !strings.HasPrefix(base, "ca.") && !strings.HasPrefix(base, ".")
}

// treeFiles reads every file under dir but the backups and the lock.
func treeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files, err := filetree.Read(dir, "backups", ".etcdpki.lock")
	if err != nil {
		t.Fatal(err)
	}
	return files
}
