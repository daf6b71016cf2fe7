package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/internal/testbin"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/pki"
)

// Hosts mode, through the command: the etcdpki binary run as users run it,
// with its own etcd (etcdpki etcd) in every member's namespace. Subnets
// 198.18.40.0/24 and up (other packages' tests use others).

// requireHosts skips a test of hosts mode where it cannot run, saying why.
func requireHosts(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building network namespaces")
	}
	if err := hosts.Supported(); err != nil {
		t.Skip(err)
	}
}

var networkLine = regexp.MustCompile(`(?m)^network ([0-9a-f]{4}): bridge `)

// runID is the network's run ID that up printed.
func runID(t *testing.T, out string) string {
	t.Helper()
	m := networkLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no network line in:\n%s", out)
	}
	return m[1]
}

// assertTornDown fails if anything of run id is left.
func assertTornDown(t *testing.T, id string) {
	t.Helper()
	all, err := hosts.Leftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range append(append(all.Namespaces, all.Bridges...), all.Veths...) {
		if strings.Contains(n, "-"+id+"-") {
			t.Errorf("left behind: %s", n)
		}
	}
}

// TestUpHostsOnce runs `etcdpki up --hosts netns --once` as a process of
// its own, with the etcd linked into etcdpki, and in-process with --etcd
// naming an etcd binary.
func TestUpHostsOnce(t *testing.T) {
	requireHosts(t)
	bin := testbin.Etcdpki(t)
	out, err := exec.Command(bin, "up", "--hosts", "netns", "--once", "--subnet", "198.18.40.0/24").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^generated a new PKI in .*etcdpki-hosts-.* \(CA key ECDSA P-256\)$`,
		`(?m)^network [0-9a-f]{4}: bridge epki-[0-9a-f]{4}-br with 198\.18\.40\.254/24 in this namespace, a namespace per member$`,
		`(?m)^  etcd-1  client https://198\.18\.40\.1:2379  peer https://198\.18\.40\.1:2380  metrics http://127\.0\.0\.1:2381  netns epki-[0-9a-f]{4}-etcd-1 \(pid \d+\)$`,
		`(?m)^  etcd-3  client https://198\.18\.40\.3:2379  `,
		`(?m)^verified: .* from the member's own host through https://127\.0\.0\.1:2379$`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("output lacks %s", want)
		}
	}
	assertTornDown(t, runID(t, string(out)))

	stdout := etcdpki(t, "up", "--hosts", "netns", "--once", "--members", "1", "--subnet", "198.18.41.0/24", "--etcd", testbin.Etcd(t))
	if !strings.Contains(stdout, "verified: ") {
		t.Errorf("with --etcd:\n%s", stdout)
	}
	assertTornDown(t, runID(t, stdout))
}

// startUp starts `etcdpki up --hosts netns` serving, and returns it once
// it says so, with what it printed until then.
func startUp(t *testing.T, subnet string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(testbin.Etcdpki(t), "up", "--hosts", "netns", "--subnet", subnet)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("up exited before serving:\n%s", out.String())
			}
			out.WriteString(l + "\n")
			if strings.HasPrefix(l, "serving until interrupted") {
				// Keep draining, so that up never blocks on a full pipe.
				go func() {
					for range lines {
					}
				}()
				return cmd, out.String()
			}
		case <-timeout:
			t.Fatalf("up did not serve within a minute:\n%s", out.String())
		}
	}
}

// TestUpHostsSignals stops a serving up with Ctrl-C (SIGINT) and with
// SIGTERM: it exits 0 and leaves nothing behind.
func TestUpHostsSignals(t *testing.T) {
	requireHosts(t)
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, out := startUp(t, []string{"198.18.42.0/24", "198.18.43.0/24"}[i])
			id := runID(t, out)
			if !strings.Contains(out, "ip netns exec epki-"+id+"-etcd-1 etcdctl --endpoints https://127.0.0.1:2379") {
				t.Errorf("no per-host etcdctl line in:\n%s", out)
			}
			cmd.Process.Signal(sig)
			if err := cmd.Wait(); err != nil {
				t.Errorf("up on %s: %v", sig, err)
			}
			assertTornDown(t, id)
		})
	}
}

// TestUpHostsCrash kills a serving up outright: its etcd processes die
// with it (PR_SET_PDEATHSIG), and the next up removes the network it left.
func TestUpHostsCrash(t *testing.T) {
	requireHosts(t)
	cmd, out := startUp(t, "198.18.44.0/24")
	id := runID(t, out)
	cmd.Process.Kill()
	cmd.Wait()
	// A killed up cannot remove its temporary directory.
	if m := regexp.MustCompile(`(?m)^generated a new PKI in (\S+) `).FindStringSubmatch(out); m != nil {
		t.Cleanup(func() { os.RemoveAll(m[1]) })
	}

	left, err := hosts.Leftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Another package's tests, running at the same time, may have removed
	// the network first (any run removes leftovers); then there is nothing
	// left for the next up to remove.
	ours := strings.Contains(left.String(), "epki-"+id+"-br")
	if !ours {
		t.Logf("network %s was removed by another run before this test looked", id)
	}
	// Its etcd processes went with it.
	for _, ns := range left.Namespaces {
		if !strings.Contains(ns, "-"+id+"-") {
			continue
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			pids, err := exec.Command("ip", "netns", "pids", ns).Output()
			if err != nil {
				break // removed meanwhile
			}
			if len(strings.TrimSpace(string(pids))) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("processes still running in %s after up was killed: %s", ns, pids)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	next, err := exec.Command(testbin.Etcdpki(t), "up", "--hosts", "netns", "--once", "--subnet", "198.18.44.0/24").CombinedOutput()
	t.Logf("%s", next)
	if err != nil {
		t.Fatal(err)
	}
	// The next up removed it, or another run did meanwhile: either way it
	// is gone.
	if !regexp.MustCompile(`(?m)^removed what an earlier run left behind: .*epki-` + id + `-br`).Match(next) {
		t.Logf("the next up did not remove network %s (ours=%v): another run did", id, ours)
	}
	assertTornDown(t, id)
}

// BenchmarkUpHostsOnce measures `etcdpki up --hosts netns --once` with
// three members as a user runs it: the whole process, from generating the
// PKI and building the network to verifying and tearing everything down.
func BenchmarkUpHostsOnce(b *testing.B) {
	if err := hosts.Supported(); err != nil {
		b.Skip(err)
	}
	bin := testbin.Etcdpki(b)
	for b.Loop() {
		cmd := exec.Command(bin, "up", "--hosts", "netns", "--once", "--members", "3", "--subnet", "198.18.45.0/24")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}

// TestUpHostsFrom runs `up --hosts netns --from` on kubeadm node trees with
// 10.0.0.11-13 in their certificates: the members run on the subnet's
// addresses, reached by the names their certificates have, and their
// certificates verify with the real addresses; a copied server
// certificate is found as in process.
func TestUpHostsFrom(t *testing.T) {
	requireHosts(t)
	c := testca.New(t, testca.Options{Manifests: true})
	dirs := []string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}
	args := append([]string{"up", "--hosts", "netns", "--once", "--subnet", "198.18.46.0/24", "--etcd", testbin.Etcd(t), "--from"}, dirs...)
	out := etcdpki(t, args...)
	for _, want := range []string{
		`(?m)^  cp2 .* client 10\.0\.0\.12,127\.0\.0\.1 → 198\.18\.46\.2:2379 +peer 10\.0\.0\.12 → 198\.18\.46\.2:2380 as cp2$`,
		`(?m)^  cp2  client 10\.0\.0\.12 ok, client 127\.0\.0\.1 ok, peer 10\.0\.0\.12 ok$`,
		`(?m)^verified: through every member, with the client certificate of its own tree`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	c.Copy(pki.KindServer, "cp1", "cp2")
	var stdout, stderr strings.Builder
	if code := run(args, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "client port as 10.0.0.12: R4-SERVER-SAN") {
		t.Errorf("with cp1's server certificate on cp2: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}
