package audit_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/member"
)

// collect writes a bundle of every dir (as etcdpki collect does on each
// node), checks that it holds no private key material, and returns the
// bundle files.
func collect(t *testing.T, dirs []string) []string {
	t.Helper()
	out := t.TempDir()
	var files []string
	for i, d := range dirs {
		ms, err := member.LoadDirs([]string{d}, nil, member.DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := member.EncodeBundle(ms, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		noKeys(t, d, data)
		p := filepath.Join(out, filepath.Base(d)+"-"+string(rune('a'+i))+".json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

// noKeys fails if data holds a private key PEM block or any line of any
// private key file under dir.
func noKeys(t *testing.T, dir string, data []byte) {
	t.Helper()
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		t.Fatalf("the bundle of %s holds a PEM private key", dir)
	}
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for rest := raw; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if !strings.Contains(blk.Type, "PRIVATE KEY") {
				continue
			}
			public := publicRanges(blk.Bytes)
			lines := strings.Split(string(pem.EncodeToMemory(blk)), "\n")
			for i, line := range lines[1:] { // after the BEGIN line
				// A line of only public bytes (an EC key's point, an RSA
				// key's modulus) is in the certificate too, and in its
				// base64 when the offsets align: not key material.
				from, to := i*48, i*48+len(line)*3/4
				if slices.ContainsFunc(public, func(r [2]int) bool { return from >= r[0] && to <= r[1] }) {
					continue
				}
				if len(line) >= 16 && !strings.HasPrefix(line, "-----") && bytes.Contains(data, []byte(line)) {
					t.Fatalf("the bundle of %s holds a line of the key %s", dir, p)
				}
			}
		}
		return nil
	})
}

// publicRanges are the byte ranges of a private key's DER that hold its
// public key (an EC point, an RSA modulus), which the certificate holds
// too.
func publicRanges(der []byte) [][2]int {
	var k any
	var err error
	if k, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if k, err = x509.ParseECPrivateKey(der); err != nil {
			if k, err = x509.ParsePKCS1PrivateKey(der); err != nil {
				return nil
			}
		}
	}
	var pub []byte
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if e, err := k.PublicKey.ECDH(); err == nil {
			pub = e.Bytes()
		}
	case *rsa.PrivateKey:
		pub = k.N.Bytes()
	case ed25519.PrivateKey:
		pub = k.Public().(ed25519.PublicKey)
	}
	var out [][2]int
	if i := bytes.Index(der, pub); len(pub) > 0 && i >= 0 {
		out = append(out, [2]int{i, i + len(pub)})
	}
	return out
}

// sameReport fails unless the reports have the same findings and verdict.
func sameReport(t *testing.T, what string, dirs, bundles *audit.Report) {
	t.Helper()
	text := func(r *audit.Report) []string {
		var l []string
		for _, f := range r.Findings {
			l = append(l, f.Error()+" | "+f.Fix)
		}
		return l
	}
	if a, b := text(dirs), text(bundles); !slices.Equal(a, b) {
		t.Errorf("%s: findings differ\n on the directories:\n  %s\n on the bundles:\n  %s", what, strings.Join(a, "\n  "), strings.Join(b, "\n  "))
	}
	if dirs.Verdict != bundles.Verdict {
		t.Errorf("%s: verdict %+v on the directories, %+v on the bundles", what, dirs.Verdict, bundles.Verdict)
	}
}

// TestBundlesCheckAsDirectories: check over the bundles that collect
// writes of each node gives what check gives over the nodes' directories,
// on every layout fixture and on every fault of the fault matrix, and no
// bundle holds a private key.
func TestBundlesCheckAsDirectories(t *testing.T) {
	now := time.Now()
	for name, gen := range distro.All {
		t.Run(name, func(t *testing.T) {
			if name == "kops" && testing.Short() {
				t.Skip("kops's fixture is slow")
			}
			t.Parallel()
			f := gen(t, t.TempDir(), distro.Options{Now: now})
			dirs, err := audit.CheckDirs(f.Dirs, audit.Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			bundles, err := audit.CheckDirs(collect(t, f.Dirs), audit.Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			sameReport(t, name, dirs, bundles)
		})
	}
	for _, f := range faults {
		t.Run(string(f.rule)+"/"+f.name, func(t *testing.T) {
			t.Parallel()
			c, ds := f.build(t)
			dirs, err := audit.CheckDirs(ds, audit.Options{Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			bundles, err := audit.CheckDirs(collect(t, ds), audit.Options{Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			sameReport(t, f.name, dirs, bundles)
		})
	}
}
