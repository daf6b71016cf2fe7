package lifecycle_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/filetree"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// initPKI writes a PKI for members (NAME=ADDR,… as --member takes them)
// with layout.Init, as `etcdpki init` does, and returns its directory.
func initPKI(t testing.TB, edit func(*spec.Cluster), members ...string) string {
	t.Helper()
	base := spec.Cluster{Algorithm: pki.ECDSAP256}
	if edit != nil {
		edit(&base)
	}
	c, err := spec.FromFlags(base, members)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

func threeMembers(t testing.TB) string {
	return initPKI(t, nil, "cp1=10.0.0.11", "cp2=10.0.0.12", "cp3=10.0.0.13")
}

// snapshot reads every file under dir but the backups, the lock file and
// skip (paths relative to dir).
func snapshot(t testing.TB, dir string, skip ...string) map[string]string {
	t.Helper()
	files, err := filetree.Read(dir, append([]string{"backups", ".etcdpki.lock"}, skip...)...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, b := range files {
		out[p] = string(b)
	}
	return out
}

// changed lists the files whose content differs between two snapshots,
// including files added or removed.
func changed(before, after map[string]string) []string {
	var out []string
	for p, b := range before {
		if a, ok := after[p]; !ok || a != b {
			out = append(out, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			out = append(out, p)
		}
	}
	return sorted(out)
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// checkClean runs the offline audit over dirs and fails on any warning or
// error.
func checkClean(t testing.TB, dirs ...string) {
	t.Helper()
	r, err := audit.CheckDirs(dirs, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Severity >= audit.Warning {
			t.Errorf("check: %v", f.Error())
		}
	}
}

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	c, err := layout.ReadCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func memberPath(out, member, nodePath string) string {
	return layout.OnDisk(layout.MemberDir(out, member), nodePath)
}

func certPath(out, member string, kind pki.Kind) string {
	return memberPath(out, member, layout.Kubeadm.CertPath(kind))
}

func keyPath(out, member string, kind pki.Kind) string {
	return memberPath(out, member, layout.Kubeadm.KeyPath(kind))
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
