package main

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/internal/filetree"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// TestRenewNodeKilledMidWrite kills `etcdpki renew NODE` with SIGKILL at
// random moments while it renews a kubeadm node's tree in place (rsa-4096,
// four pairs, each written as it is issued), and checks after each kill
// that every file of the node is wholly old or new (as
// TestRenewKilledMidWrite does for init's output), with what was replaced
// in the node's backups under /var/lib/etcdpki; then a plain re-run
// completes and check is clean.
func TestRenewNodeKilledMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: generates rsa-4096 keys for seconds")
	}
	bin, err := exec.LookPath("etcdpki")
	if err != nil {
		t.Fatal(err)
	}
	c, err := spec.FromFlags(spec.Cluster{Algorithm: pki.RSA4096}, []string{"cp1=10.0.0.11"})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	// The node: init's tree of cp1 moved out of init's output (so renew
	// reads it as a node, from its manifest), with kubeadm's etcd.yaml.
	node := distro.KubeadmNodes(t, out, t.TempDir(), true)[0]
	renew := func() *exec.Cmd {
		cmd := exec.Command(bin, "renew", node)
		cmd.Stdout, cmd.Stderr = new(bytes.Buffer), new(bytes.Buffer)
		return cmd
	}
	start := time.Now()
	if cmd := renew(); cmd.Run() != nil {
		t.Fatalf("renew failed:\n%s%s", cmd.Stdout, cmd.Stderr)
	}
	full := time.Since(start)
	t.Logf("a whole renew of a node's 4 rsa-4096 pairs takes %s", full.Round(time.Millisecond))

	files := func() map[string][]byte {
		f, err := filetree.Read(node, "var/lib/etcdpki")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	first := files()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for i := 0; i < 6; i++ {
		before := files()
		delay := time.Duration(float64(full) * (0.05 + 0.7*rng.Float64()))
		cmd := renew()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill() // SIGKILL: no deferred clean-up runs
		werr := cmd.Wait()
		replaced, pending := killedTree{dir: node, backups: filepath.Join(node, "var/lib/etcdpki/backups"), leaf: isNodeLeaf}.check(t, before, files())
		t.Logf("killed after %s (%v): %d files replaced, %d pairs caught between their renames", delay.Round(time.Millisecond), werr, replaced, pending)
	}
	cmd := renew()
	if err := cmd.Run(); err != nil {
		t.Fatalf("renew after the kills: %v\n%s%s", err, cmd.Stdout, cmd.Stderr)
	}
	for p, data := range files() {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		if isNodeLeaf(p) && bytes.Equal(data, first[p]) {
			t.Errorf("%s was not renewed by the last run", p)
		}
	}
	r, err := audit.CheckDirs([]string{node}, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Severity >= audit.Warning {
			t.Errorf("check after the kills: %s", f.Error())
		}
	}
}

// isNodeLeaf reports whether p (relative to a node's /) is one of its etcd
// leaf certificates or keys.
func isNodeLeaf(p string) bool {
	return strings.HasPrefix(p, "etc/kubernetes/pki/") && !strings.HasPrefix(filepath.Base(p), "ca.") && !strings.HasPrefix(filepath.Base(p), ".")
}
