package layout_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// killed is the panic with which a test stops Init as SIGKILL would: the
// temporary files stay, nothing is rolled back.
type killed struct{}

// initKilledAt runs Init and kills it before its rename number n (from 0).
// It reports whether Init got that far; false means Init had fewer renames
// and finished.
func initKilledAt(t *testing.T, c *spec.Cluster, out string, force bool, n int) (wasKilled bool) {
	t.Helper()
	step := 0
	layout.SetBeforeRename(func(string) {
		if step == n {
			panic(killed{})
		}
		step++
	})
	defer layout.SetBeforeRename(nil)
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(killed); !ok {
				panic(r)
			}
			wasKilled = true
		}
	}()
	if _, err := layout.Init(c, out, layout.InitOptions{Force: force, Now: testNow}); err != nil {
		t.Fatalf("Init (to be killed at rename %d): %v", n, err)
	}
	return false
}

// tempFiles lists the temporary files (layout.TempFiles) anywhere under out.
func tempFiles(t *testing.T, out string) []string {
	t.Helper()
	var temps []string
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-") {
			temps = append(temps, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return temps
}

// Init killed before each of its renames, fresh or with --force over a
// complete tree, is completed by a plain re-run with the same spec: it
// succeeds, leaves no temporary file (no stray copy of the CA key in a
// member tree), keeps the CA key that was in place, and the tree is whole.
func TestInitKilledAtEveryRename(t *testing.T) {
	tests := []struct {
		name  string
		paths map[pki.Kind]string
		force bool
		cfg   func(*spec.Cluster)
	}{
		{"fresh", kubeadmPaths, false, nil},
		{"fresh etcd split external CA", etcdPaths, false, func(c *spec.Cluster) {
			c.Layout, c.SplitCredentials, c.ExternalCA = spec.LayoutEtcd, true, true
		}},
		{"force", kubeadmPaths, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, tt.cfg)
			n := 0
			for ; ; n++ {
				out := t.TempDir()
				if tt.force {
					runInit(t, c, out, false)
				}
				if !initKilledAt(t, c, out, tt.force, n) {
					break
				}
				caKey, caKeyErr := os.ReadFile(filepath.Join(out, "ca", "ca.key"))

				if _, err := layout.Init(c, out, layout.InitOptions{Now: testNow}); err != nil {
					t.Fatalf("killed before rename %d: re-run: %v", n, err)
				}
				if temps := tempFiles(t, out); len(temps) > 0 {
					t.Errorf("killed before rename %d: re-run left %q", n, temps)
				}
				if caKeyErr == nil {
					if now, err := os.ReadFile(filepath.Join(out, "ca", "ca.key")); err != nil || !bytes.Equal(now, caKey) {
						t.Fatalf("killed before rename %d: re-run replaced ca/ca.key", n)
					}
				}
				checkTree(t, c, out, tt.paths)
			}
			if n < 2*len(c.Members) {
				t.Fatalf("Init made only %d renames", n)
			}
			t.Logf("killed at each of %d renames", n)
		})
	}
}

// A CA key whose certificate is still under its temporary name (a run
// killed between the two renames of the CA) is completed, not refused,
// even when the member trees are already there; the key is kept. So is a
// member's copy of the CA, and a stray temporary copy of the CA key is
// removed rather than left for the copy advice to ship to a node.
func TestInitCompletesCAPair(t *testing.T) {
	out := t.TempDir()
	c := newCluster(t, 2, nil)
	runInit(t, c, out, false)
	caKey := readFile(t, out, "ca/ca.key")
	crt := filepath.Join(out, "ca", "ca.crt")
	if err := os.Rename(crt, filepath.Join(out, "ca", ".ca.crt.tmp-123")); err != nil {
		t.Fatal(err)
	}
	// cp1's copy of the CA key still under its temporary name, and a stray
	// one in cp2's tree.
	remove(t, out, "cp1/"+kubeadmPaths[pki.KindCA]+".key")
	writeFile(t, out, "cp1/etc/kubernetes/pki/etcd/.ca.key.tmp-9", caKey)
	writeFile(t, out, "cp2/etc/kubernetes/pki/etcd/.ca.key.tmp-8", caKey)

	res := runInit(t, c, out, false)
	if res.CACreated || readFile(t, out, "ca/ca.key") != caKey {
		t.Error("the CA was replaced")
	}
	if !strings.Contains(strings.Join(slashes(res.Repaired), " "), "ca/ca.crt") {
		t.Errorf("repaired %q, want ca/ca.crt", res.Repaired)
	}
	if temps := tempFiles(t, out); len(temps) > 0 {
		t.Errorf("left %q", temps)
	}
	checkTree(t, c, out, kubeadmPaths)
}

// A temporary file of a CA key is never renamed over an existing CA key,
// even one that does not match its certificate.
func TestInitRepairKeepsCAKey(t *testing.T) {
	out := t.TempDir()
	c := newCluster(t, 1, nil)
	runInit(t, c, out, false)
	good := readFile(t, out, "ca/ca.key")
	bad := encodeKey(t, otherCA(t))
	writeFile(t, out, "ca/ca.key", bad)
	writeFile(t, out, "ca/.ca.key.tmp-1", good)

	if _, err := layout.Init(c, out, layout.InitOptions{Now: testNow}); err == nil {
		t.Fatal("Init accepted a CA key that does not match ca.crt")
	}
	if readFile(t, out, "ca/ca.key") != bad {
		t.Error("the CA key was replaced")
	}
}

// During a CA rotation (<out>/ca-next holds the new CA) init refuses, with
// --force too, and changes nothing: it would sign with the CA being
// retired, and --force would revert every member to it.
func TestInitRefusesDuringRotation(t *testing.T) {
	for _, force := range []bool{false, true} {
		out := t.TempDir()
		runInit(t, newCluster(t, 3, nil), out, false)
		next := otherCA(t)
		if err := os.Mkdir(layout.NextCADir(out), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, out, "ca-next/ca.key", encodeKey(t, next))
		writeFile(t, out, "ca-next/ca.crt", string(pki.EncodeCert(next.Cert)))
		before := snapshot(t, out)

		_, err := layout.Init(newCluster(t, 4, nil), out, layout.InitOptions{Force: force, Now: testNow})
		var ce *layout.ConflictError
		if !errors.As(err, &ce) || ce.Path != layout.NextCADir(out) || !strings.Contains(err.Error(), "rotate-ca finalize") {
			t.Errorf("force %v: error %v (%T), want a *ConflictError on %s naming rotate-ca finalize", force, err, err, layout.NextCADir(out))
		}
		if d := diff(before, snapshot(t, out)); len(d) > 0 {
			t.Errorf("force %v: a refused run changed %q", force, d)
		}
	}
}
