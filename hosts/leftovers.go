package hosts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Resources are the namespaces and interfaces of runs, by name.
type Resources struct {
	Namespaces []string
	Bridges    []string
	Veths      []string
}

// Empty reports whether there is nothing.
func (r Resources) Empty() bool {
	return len(r.Namespaces)+len(r.Bridges)+len(r.Veths) == 0
}

func (r Resources) String() string {
	var parts []string
	for _, g := range []struct {
		what  string
		names []string
	}{{"namespaces", r.Namespaces}, {"bridges", r.Bridges}, {"veths", r.Veths}} {
		if len(g.names) > 0 {
			parts = append(parts, g.what+" "+strings.Join(g.names, ", "))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// find lists the resources whose run ID satisfies keep.
func find(ctx context.Context, keep func(id string) bool) (Resources, error) {
	var r Resources
	nss, err := namespaces(ctx)
	if err != nil {
		return r, err
	}
	for _, n := range nss {
		if id := idOf(n); id != "" && keep(id) {
			r.Namespaces = append(r.Namespaces, n)
		}
	}
	for _, typ := range []string{"bridge", "veth"} {
		ls, err := links(ctx, typ)
		if err != nil {
			return r, err
		}
		for _, l := range ls {
			if id := idOf(l.Name); id == "" || !keep(id) {
				continue
			}
			if typ == "bridge" {
				r.Bridges = append(r.Bridges, l.Name)
			} else {
				r.Veths = append(r.Veths, l.Name)
			}
		}
	}
	slices.Sort(r.Namespaces)
	slices.Sort(r.Bridges)
	slices.Sort(r.Veths)
	return r, nil
}

// Leftovers lists what earlier runs left behind: every resource with
// Prefix in its name whose run is no longer alive (holds no lock in
// LockDir). Resources of runs still alive, in this process or another,
// are not listed.
func Leftovers(ctx context.Context) (Resources, error) {
	alive := map[string]bool{}
	return find(ctx, func(id string) bool {
		l, ok := alive[id]
		if !ok {
			l = live(id)
			alive[id] = l
		}
		return !l
	})
}

// RemoveLeftovers removes what Leftovers lists, processes in those
// namespaces first, and returns what it removed. Start calls it before it
// builds anything.
func RemoveLeftovers(ctx context.Context) (Resources, error) {
	r, err := Leftovers(ctx)
	if err != nil || r.Empty() {
		return r, err
	}
	if err := remove(ctx, r); err != nil {
		return r, fmt.Errorf("removing what an earlier run left behind (%s): %w", r, err)
	}
	for _, id := range r.ids() {
		os.Remove(lockPath(id))
	}
	return r, nil
}

func (r Resources) ids() []string {
	var ids []string
	for _, n := range slices.Concat(r.Namespaces, r.Bridges, r.Veths) {
		if id := idOf(n); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// remove kills the processes in r's namespaces and deletes r: veths,
// bridges, namespaces, in that order, with one ip process. A veth is
// deleted explicitly rather than with its namespace: deleting a namespace
// returns at once and the kernel destroys its interfaces later (the netns
// cleanup work queue), so the veth's root-namespace end would outlive the
// call. Deleting one end of a veth pair deletes both.
func remove(ctx context.Context, r Resources) error {
	for _, ns := range r.Namespaces {
		killNamespace(ctx, ns)
		// The namespace's own /etc files (StartFrom's hosts file) go
		// with it.
		os.RemoveAll(filepath.Join(netnsEtcDir, ns))
	}
	var lines []string
	for _, v := range r.Veths {
		lines = append(lines, "link del "+v)
	}
	for _, b := range r.Bridges {
		lines = append(lines, "link del "+b)
	}
	for _, ns := range r.Namespaces {
		lines = append(lines, "netns del "+ns)
	}
	// -force: go on past what is gone already; what is still there
	// afterwards is the error.
	batch(ctx, "", true, lines...)
	left, err := find(ctx, func(string) bool { return true })
	if err != nil {
		return err
	}
	var still Resources
	for _, n := range left.Namespaces {
		if slices.Contains(r.Namespaces, n) {
			still.Namespaces = append(still.Namespaces, n)
		}
	}
	for _, n := range left.Bridges {
		if slices.Contains(r.Bridges, n) {
			still.Bridges = append(still.Bridges, n)
		}
	}
	for _, n := range left.Veths {
		if slices.Contains(r.Veths, n) {
			still.Veths = append(still.Veths, n)
		}
	}
	if !still.Empty() {
		return fmt.Errorf("still there after deleting: %s", still)
	}
	return nil
}

// killNamespace SIGKILLs every process in namespace ns (ip netns pids
// lists them by their /proc/PID/ns/net) and waits a moment for them to go:
// a namespace is deleted only once nothing uses it.
func killNamespace(ctx context.Context, ns string) {
	out, err := ip(ctx, "", "netns", "pids", ns)
	if err != nil {
		return
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
