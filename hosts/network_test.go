package hosts

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// newNetwork builds a network on subnet(i), closed when the test ends.
func newNetwork(t *testing.T, i int, members ...string) *Network {
	t.Helper()
	requireHosts(t)
	n, err := NewNetwork(t.Context(), subnet(i), members)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		assertGone(t, n)
	})
	return n
}

// TestNetwork checks what NewNetwork builds: a namespace per member with
// lo up and its address on eth0, each reachable from the root namespace
// through the bridge, and nothing routed anywhere else.
func TestNetwork(t *testing.T) {
	n := newNetwork(t, 2, "etcd-1", "etcd-2")
	r, err := n.Resources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Namespaces) != 2 || len(r.Bridges) != 1 || len(r.Veths) != 2 {
		t.Errorf("resources: %s", r)
	}
	for _, h := range n.Hosts {
		out, err := ip(t.Context(), "", "-n", h.Netns, "-4", "-o", "addr", "show")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"lo    inet 127.0.0.1/8", "eth0    inet " + h.Addr.String() + "/24"} {
			if !strings.Contains(strings.Join(strings.Fields(string(out)), " "), strings.Join(strings.Fields(want), " ")) {
				t.Errorf("%s: no %q in\n%s", h.Netns, want, out)
			}
		}
		routes, err := ip(t.Context(), "", "-n", h.Netns, "-4", "route", "show")
		if err != nil {
			t.Fatal(err)
		}
		// Only the subnet: no default route, so nothing leaves.
		if lines := strings.Split(strings.TrimSpace(string(routes)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], n.Subnet.String()+" dev eth0") {
			t.Errorf("%s routes:\n%s", h.Netns, routes)
		}
		// The root namespace reaches the host's address through the
		// bridge: nothing listens, so the answer is a refusal.
		if _, err := dialIn(t.Context(), h.Netns, "tcp", n.Addresses.Bridge.String()+":9"); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("from %s to the bridge: %v, want connection refused", h.Netns, err)
		}
	}
	// An address outside the subnet is unreachable from inside at once.
	if _, err := dialIn(t.Context(), n.Hosts[0].Netns, "tcp", "192.0.2.1:80"); err == nil || !strings.Contains(err.Error(), "network is unreachable") {
		t.Errorf("dial outside the subnet: %v, want network is unreachable", err)
	}
}

// TestLeftovers removes what a crashed run left behind, processes
// included, and leaves a live run alone.
func TestLeftovers(t *testing.T) {
	alive := newNetwork(t, 3, "etcd-1")
	crashed, err := NewNetwork(t.Context(), subnet(4), []string{"etcd-1", "etcd-2"})
	if err != nil {
		t.Fatal(err)
	}
	defer crashed.Close()
	cmd, err := crashed.Command(context.Background(), "etcd-2", "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The run crashes: its lock goes with its process, its network stays.
	crashed.lock.release()

	left, err := Leftovers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Leftovers are found by every run: another package's tests, running
	// at the same time, may remove these first. What is still there must
	// be listed; what was listed must not be the live run's.
	now, err := crashed.Resources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	listed := slices.Concat(left.Namespaces, left.Bridges, left.Veths)
	for _, n := range slices.Concat(now.Namespaces, now.Bridges, now.Veths) {
		if !slices.Contains(listed, n) {
			t.Errorf("leftovers %s lack %s", left, n)
		}
	}
	if slices.Contains(left.ids(), alive.ID) {
		t.Errorf("leftovers %s include the live run %s", left, alive.ID)
	}
	removed, err := RemoveLeftovers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("removed %s", removed)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the process in the crashed run's namespace is still running")
	}
	assertGone(t, crashed)
	if r, _ := alive.Resources(t.Context()); len(r.Namespaces) != 1 || len(r.Bridges) != 1 {
		t.Errorf("the live run lost resources: %s", r)
	}
}

// TestBuildFails tears down what it built when building fails half-way.
func TestBuildFails(t *testing.T) {
	requireHosts(t)
	// The bridge and etcd-1's namespace are made before ip refuses the
	// second namespace's name.
	_, err := NewNetwork(t.Context(), subnet(5), []string{"etcd-1", "bad/name"})
	var ie *IPError
	if !errors.As(err, &ie) {
		t.Fatalf("NewNetwork = %v, want an *IPError", err)
	}
	t.Log(err)
	_, name, _ := strings.Cut(ie.Stderr, `"`)
	id := idOf(name)
	if id == "" {
		t.Fatalf("no run ID in %q", ie.Stderr)
	}
	r, err := find(t.Context(), func(i string) bool { return i == id })
	if err != nil {
		t.Fatal(err)
	}
	if !r.Empty() {
		t.Errorf("left behind after a failed build: %s", r)
	}
	if _, err := os.Stat(lockPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file of run %s left behind: %v", id, err)
	}
}

// TestSubnetInUse refuses a subnet that a live run's bridge has, before
// creating anything.
func TestSubnetInUse(t *testing.T) {
	n := newNetwork(t, 6, "etcd-1")
	_, err := NewNetwork(t.Context(), n.Subnet, []string{"etcd-1"})
	var se *SubnetInUseError
	if !errors.As(err, &se) {
		t.Fatalf("NewNetwork on %s again = %v, want a *SubnetInUseError", n.Subnet, err)
	}
	t.Log(err)
}
