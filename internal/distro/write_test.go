package distro

import (
	"os"
	"strconv"
	"testing"
)

// TestWriteFixture writes a fixture for scripts under bench/ to time the
// CLI on: skipped unless ETCDPKI_FIXTURE_DIR names an empty directory.
// ETCDPKI_FIXTURE picks the distribution (default kubespray) and
// ETCDPKI_FIXTURE_NODES the number of nodes (default 7).
func TestWriteFixture(t *testing.T) {
	dir := os.Getenv("ETCDPKI_FIXTURE_DIR")
	if dir == "" {
		t.Skip("ETCDPKI_FIXTURE_DIR not set")
	}
	name := os.Getenv("ETCDPKI_FIXTURE")
	if name == "" {
		name = "kubespray"
	}
	n, _ := strconv.Atoi(os.Getenv("ETCDPKI_FIXTURE_NODES"))
	if n <= 0 {
		n = 7
	}
	gen := All[name]
	if gen == nil {
		t.Fatalf("no distribution %q", name)
	}
	f := gen(t, dir, Options{Nodes: DefaultNodes(n)})
	t.Logf("wrote %d members of %s under %s", len(f.Dirs), name, dir)
}
