package layout_test

import (
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// testNow is the issue time of the tests, whole seconds as in certificates.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testMembers are --member values: cp2 has a DNS name, cp3 an IPv6 address.
var testMembers = []string{"cp1=10.0.0.11", "cp2=10.0.0.12,cp2.example.com", "cp3=10.0.0.13,fd00::13", "cp4=10.0.0.14"}

// newCluster is a validated spec of the first n testMembers; change, if
// not nil, adjusts the spec's settings before the members are added.
func newCluster(t testing.TB, n int, change func(*spec.Cluster)) *spec.Cluster {
	t.Helper()
	base := spec.Cluster{Algorithm: pki.ECDSAP256}
	if change != nil {
		change(&base)
	}
	c, err := spec.FromFlags(base, testMembers[:n])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runInit runs Init at testNow and fails the test on error. It allows
// every algorithm in every layout (TestInitAlgorithmForLayout tests the
// refusal), so that the tests of what init writes cover Ed25519 too.
func runInit(t testing.TB, c *spec.Cluster, out string, force bool) *layout.InitResult {
	t.Helper()
	res, err := layout.Init(c, out, layout.InitOptions{Force: force, AnyAlgorithm: true, Now: testNow})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return res
}

// entry is one file, directory or symlink of a tree.
type entry struct {
	mode fs.FileMode
	data string
}

// snapshot records every entry under dir (relative paths, slash-separated),
// to compare a tree before and after an operation byte for byte. The lock
// file (layout.LockFile) is left out: it is no part of the PKI.
func snapshot(t testing.TB, dir string) map[string]entry {
	t.Helper()
	tree := map[string]entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == layout.LockFile(dir) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{mode: info.Mode()}
		switch {
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.data = string(b)
		case info.Mode()&fs.ModeSymlink != 0:
			e.data, err = os.Readlink(p)
			if err != nil {
				return err
			}
		}
		r, _ := filepath.Rel(dir, p)
		tree[filepath.ToSlash(r)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// diff lists the paths that differ between two snapshots.
func diff(a, b map[string]entry) []string {
	var d []string
	for p, e := range a {
		if f, ok := b[p]; !ok {
			d = append(d, "-"+p)
		} else if e != f {
			d = append(d, "~"+p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			d = append(d, "+"+p)
		}
	}
	slices.Sort(d)
	return d
}

// files returns the regular files of a snapshot, sorted.
func files(tree map[string]entry) []string {
	var fs []string
	for p, e := range tree {
		if e.mode.IsRegular() {
			fs = append(fs, p)
		}
	}
	slices.Sort(fs)
	return fs
}

// readCert reads a certificate under out (slash-separated path).
func readCert(t testing.TB, out, rel string) *x509.Certificate {
	t.Helper()
	c, err := layout.ReadCert(filepath.Join(out, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readFile reads a file under out (slash-separated path).
func readFile(t testing.TB, out, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFile replaces a file under out (slash-separated path).
func writeFile(t testing.TB, out, rel, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(out, filepath.FromSlash(rel)), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// remove deletes a file or tree under out (slash-separated path).
func remove(t testing.TB, out, rel string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(out, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

// otherCA is a CA unrelated to any init run, for planting foreign files.
func otherCA(t testing.TB) *pki.CA {
	t.Helper()
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(key, "", 0, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func encodeKey(t testing.TB, ca *pki.CA) string {
	t.Helper()
	b, err := pki.EncodeKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hasPrefix(paths []string, prefix string) bool {
	return slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, prefix) })
}
