package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/sshtest"
	"github.com/etcdpki/etcdpki/internal/testbin"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/pki"
)

// sshCluster is a kubeadm cluster's three node trees, each served by an
// sshd of its own on 127.0.0.1 whose sessions find the etcdpki under
// test on their PATH and the node's tree in $TREE.
type sshCluster struct {
	trees []string
	nodes []*sshtest.Node
}

// urls are the nodes' ssh:// URLs, each with its own tree as the path.
func (c *sshCluster) urls() []string {
	var u []string
	for i, n := range c.nodes {
		u = append(u, n.URL(c.trees[i]))
	}
	return u
}

func startSSHCluster(t *testing.T, fleet *sshtest.Fleet, binDir string, c *testca.Cluster) *sshCluster {
	t.Helper()
	sc := &sshCluster{}
	for _, name := range c.Names() {
		tree := c.MemberDir(name)
		sc.trees = append(sc.trees, tree)
		sc.nodes = append(sc.nodes, fleet.Start(t, map[string]string{"PATH": binDir + ":/usr/bin:/bin", "TREE": tree}))
	}
	return sc
}

// runBin runs the etcdpki binary and returns its stdout, stderr and exit
// code.
func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatal(err)
	return "", "", 0
}

// sameJSON fails unless a and b are the same JSON once the keys that
// depend on the moment of the run (checkedAt, residualSeconds) are
// dropped.
func sameJSON(t *testing.T, what, a, b string) {
	t.Helper()
	norm := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, s)
		}
		var drop func(any)
		drop = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				delete(v, "checkedAt")
				delete(v, "residualSeconds")
				for _, e := range v {
					drop(e)
				}
			case []any:
				for _, e := range v {
					drop(e)
				}
			}
		}
		drop(v)
		return v
	}
	if !reflect.DeepEqual(norm(a), norm(b)) {
		t.Errorf("%s differs over ssh:\n%s\nfrom the directories':\n%s", what, b, a)
	}
}

// TestSSH reads members from real OpenSSH servers on 127.0.0.1, one per
// node, each serving its own member's tree:
//   - check, expiry and graph over ssh://root@127.0.0.1:PORT/TREE give
//     what they give over the trees (the same JSON, the same DOT), clean
//     and with a peer pair copied from cp1 to cp2, found as R3-SHARED-LEAF
//     and R4-PEER-SAN on cp2 (which no one node's view shows);
//   - a node whose PATH has no etcdpki gets this one streamed to a
//     temporary directory of its ${TMPDIR}, which is empty afterwards,
//     mixed with directories in one check;
//   - a node whose uname names another platform is refused, not sent a
//     binary it cannot run;
//   - --remote-command runs instead of collect (here reading $TREE);
//   - a stopped sshd, a tree that is not there, a remote command that
//     is not found, prints no bundle, prints too much, or hangs past
//     --ssh-timeout: exit 2, no report, and each
//     failed node named with why (ssh's exit status, the node's stderr).
func TestSSH(t *testing.T) {
	fleet := sshtest.New(t)
	t.Parallel()
	bin := testbin.Etcdpki(t)
	start := time.Now()
	binDir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(binDir, "etcdpki")); err != nil {
		t.Fatal(err)
	}
	ssh := []string{"--ssh-config", fleet.Config}

	clean := startSSHCluster(t, fleet, binDir, testca.New(t, testca.Options{Manifests: true}))
	broken := testca.New(t, testca.Options{Manifests: true})
	broken.Copy(pki.KindPeer, "cp1", "cp2")
	faulty := startSSHCluster(t, fleet, binDir, broken)
	t.Logf("%d sshd started in %s", len(clean.nodes)+len(faulty.nodes), time.Since(start).Round(time.Millisecond))

	for _, c := range []struct {
		name string
		sc   *sshCluster
		code int // check's
	}{{"clean", clean, 0}, {"peer pair copied", faulty, 1}} {
		for _, cmd := range [][]string{{"check", "-o", "json"}, {"expiry", "-o", "json"}, {"graph"}} {
			what := c.name + ": " + strings.Join(cmd, " ")
			t.Run(what, func(t *testing.T) {
				t.Parallel()
				dirOut, dirErr, dirCode := runBin(t, bin, append(cmd, c.sc.trees...)...)
				sshOut, sshErr, sshCode := runBin(t, bin, append(append(cmd, ssh...), c.sc.urls()...)...)
				want := 0
				if cmd[0] == "check" {
					want = c.code
				}
				if dirCode != want || sshCode != want {
					t.Fatalf("exit %d over the directories, %d over ssh; want %d\n%s\n%s", dirCode, sshCode, want, dirErr, sshErr)
				}
				if cmd[0] == "graph" {
					if dirOut != sshOut {
						t.Errorf("%s differs over ssh:\n%s\nfrom the directories':\n%s", what, sshOut, dirOut)
					}
					return
				}
				sameJSON(t, what, dirOut, sshOut)
				if cmd[0] != "check" || c.code == 0 {
					return
				}
				var r audit.Report
				if err := json.Unmarshal([]byte(sshOut), &r); err != nil {
					t.Fatal(err)
				}
				for _, rule := range []audit.RuleID{audit.RuleSharedLeaf, audit.RulePeerSAN} {
					found := false
					for _, f := range r.Findings {
						found = found || f.Rule == rule && f.Member == "cp2"
					}
					if !found {
						t.Errorf("no %s on cp2 over ssh:\n%s", rule, sshOut)
					}
				}
			})
		}
	}

	t.Run("streamed", func(t *testing.T) {
		t.Parallel()
		tmp := t.TempDir()
		// /usr/bin and /bin only: no etcdpki, as on a fresh node.
		n := fleet.Start(t, map[string]string{"PATH": "/usr/bin:/bin", "TMPDIR": tmp})
		if out, err := exec.Command("ssh", "-F", fleet.Config, "-p", n.Port, n.Host, "command -v etcdpki").CombinedOutput(); err == nil {
			t.Fatalf("the node has an etcdpki on its PATH: %s", out)
		}
		took := time.Now()
		want, _, _ := runBin(t, bin, append([]string{"check", "-o", "json"}, clean.trees...)...)
		got, stderr, code := runBin(t, bin, append(append([]string{"check", "-o", "json"}, ssh...), n.URL(clean.trees[0]), clean.trees[1], clean.urls()[2])...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		t.Logf("collected with a streamed etcdpki in %s", time.Since(took).Round(time.Millisecond))
		sameJSON(t, "check with a streamed etcdpki", want, got)
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("the streamed etcdpki left %v in the node's $TMPDIR", left)
		}
	})

	t.Run("another platform", func(t *testing.T) {
		t.Parallel()
		fake := t.TempDir()
		uname := "#!/bin/sh\ncase \"$1\" in -s) echo Linux;; -m) echo sparc64;; *) echo Linux;; esac\n"
		if err := os.WriteFile(filepath.Join(fake, "uname"), []byte(uname), 0o755); err != nil {
			t.Fatal(err)
		}
		n := fleet.Start(t, map[string]string{"PATH": fake + ":/usr/bin:/bin"})
		out, stderr, code := runBin(t, bin, append([]string{"check"}, append(ssh, n.URL(clean.trees[0]))...)...)
		if code != 2 || out != "" {
			t.Fatalf("exit %d, stdout %q; want 2 and nothing", code, out)
		}
		for _, want := range []string{n.URL(clean.trees[0]) + ": etcdpki is not installed on the node", "runs Linux sparc64"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})

	t.Run("remote command", func(t *testing.T) {
		t.Parallel()
		var urls []string
		for _, n := range clean.nodes {
			urls = append(urls, n.URL(""))
		}
		want, _, _ := runBin(t, bin, append([]string{"check", "-o", "json"}, clean.trees...)...)
		got, stderr, code := runBin(t, bin, append(append([]string{"check", "-o", "json", "--remote-command", `etcdpki collect "$TREE"`}, ssh...), urls...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		sameJSON(t, "check --remote-command", want, got)
	})

	t.Run("node errors", func(t *testing.T) {
		t.Parallel()
		down := fleet.Start(t, map[string]string{"PATH": binDir + ":/usr/bin:/bin"})
		down.Stop()
		missing := clean.nodes[1].URL("/no/such/tree")
		for _, c := range []struct {
			args []string
			want []string
		}{{
			args: []string{down.URL(clean.trees[0]), missing, clean.urls()[2]},
			want: []string{
				"2 of 3 nodes gave no bundle",
				down.URL(clean.trees[0]) + ": ssh failed (exit status 255)", "Connection refused",
				missing + ": collect failed on the node (exit status 2): etcdpki: error: /no/such/tree: no such file or directory",
			},
		}, {
			args: []string{"--remote-command", "no-such-etcdpki collect --local", clean.nodes[0].URL("")},
			want: []string{clean.nodes[0].URL("") + ": the remote command was not found on the node (exit status 127)", "no-such-etcdpki"},
		}, {
			args: []string{"--remote-command", "echo hello", clean.nodes[0].URL("")},
			want: []string{clean.nodes[0].URL("") + ": the node sent no etcdpki bundle: stdout is no JSON", `starts "hello\n"`},
		}, {
			// Real ssh, unlike a pipe, takes a stdout that refuses more
			// quietly and exits 0.
			args: []string{"--remote-command", "yes", clean.nodes[0].URL("")},
			want: []string{clean.nodes[0].URL("") + ": the node sent no etcdpki bundle: it wrote more than 1048576 bytes to stdout"},
		}, {
			args: []string{"--ssh-timeout", "1s", "--remote-command", "sleep 30", clean.nodes[0].URL("")},
			want: []string{clean.nodes[0].URL("") + ": no bundle within 1s (--ssh-timeout): ssh or the command hangs on the node"},
		}} {
			out, stderr, code := runBin(t, bin, append(append([]string{"check"}, ssh...), c.args...)...)
			if code != 2 || out != "" {
				t.Errorf("%v: exit %d, stdout %q; want 2 and nothing\n%s", c.args, code, out, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, stderr)
				}
			}
		}
	})
}
