package audit_test

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// badInput replaces the file at p with something a user may hand to check
// by mistake.
type badInput struct {
	name string
	make func(t *testing.T, c *testca.Cluster, p string)
	// detail is a fragment the finding about a PEM file p must contain.
	detail string
	// pemOnly inputs are made from a PEM file; keyOnly ones from a key.
	pemOnly, keyOnly bool
	// absent inputs make the file look absent, which is fine for an
	// optional file.
	absent bool
}

var badInputs = []badInput{
	{name: "truncated PEM", make: func(t *testing.T, c *testca.Cluster, p string) { truncate(t, p) }, detail: "truncated"},
	{name: "DER", pemOnly: true, detail: "DER", make: func(t *testing.T, c *testca.Cluster, p string) {
		block, _ := pem.Decode(read(t, p))
		write(t, p, block.Bytes)
	}},
	{name: "encrypted key", pemOnly: true, detail: "encrypted", make: func(t *testing.T, c *testca.Cluster, p string) {
		// What openssl pkcs8 -topk8 -v2 aes256 writes; the body does not
		// matter, the type does.
		write(t, p, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}))
	}},
	{name: "legacy encrypted key", pemOnly: true, keyOnly: true, detail: "encrypted", make: func(t *testing.T, c *testca.Cluster, p string) {
		block, _ := pem.Decode(read(t, p))
		block.Headers = map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00000000000000000000000000000000"}
		write(t, p, pem.EncodeToMemory(block))
	}},
	{name: "certificate where a key belongs, and the reverse", pemOnly: true, make: func(t *testing.T, c *testca.Cluster, p string) {
		other := strings.TrimSuffix(p, filepath.Ext(p))
		if filepath.Ext(p) == ".crt" {
			other += ".key"
		} else {
			other += ".crt"
		}
		write(t, p, read(t, other))
	}},
	{name: "garbage", detail: "no PEM data", make: func(t *testing.T, c *testca.Cluster, p string) {
		write(t, p, []byte("\x00\xffnot a certificate\n"))
	}},
	{name: "empty file", detail: "empty", make: func(t *testing.T, c *testca.Cluster, p string) { write(t, p, nil) }},
	{name: "missing file", absent: true, detail: "missing", make: func(t *testing.T, c *testca.Cluster, p string) { remove(t, p) }},
	{name: "directory", detail: "directory", make: func(t *testing.T, c *testca.Cluster, p string) {
		remove(t, p)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "symlink loop", detail: "symbolic links", make: func(t *testing.T, c *testca.Cluster, p string) {
		remove(t, p)
		if err := os.Symlink(filepath.Base(p)+".loop", p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Base(p), p+".loop"); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "dangling symlink", absent: true, detail: "missing", make: func(t *testing.T, c *testca.Cluster, p string) {
		remove(t, p)
		if err := os.Symlink("/nonexistent/etcdpki-test", p); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "100 MB file", detail: "too large", make: func(t *testing.T, c *testca.Cluster, p string) {
		// Sparse: the loader must refuse it by size, not by reading it.
		if err := os.Truncate(p, 100<<20); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestBadInputNeverCrashes puts each kind of bad input in place of each
// kind of file a member has and requires a finding that names the file:
// never a panic, never an error that stops the whole check, never silence.
func TestBadInputNeverCrashes(t *testing.T) {
	targets := []struct {
		name string
		path func(c *testca.Cluster) string
		// optional files may be absent (ca.key with an external CA, the
		// manifests when a spec gives the settings).
		pem, key, optional bool
	}{
		{"ca.crt", func(c *testca.Cluster) string { return c.CertPath("cp2", pki.KindCA) }, true, false, false},
		{"ca.key", func(c *testca.Cluster) string { return c.KeyPath("cp2", pki.KindCA) }, true, true, true},
		{"server.crt", func(c *testca.Cluster) string { return c.CertPath("cp2", pki.KindServer) }, true, false, false},
		{"server.key", func(c *testca.Cluster) string { return c.KeyPath("cp2", pki.KindServer) }, true, true, false},
		{"peer.crt", func(c *testca.Cluster) string { return c.CertPath("cp2", pki.KindPeer) }, true, false, false},
		{"apiserver-etcd-client.key", func(c *testca.Cluster) string { return c.KeyPath("cp2", pki.KindAPIServerClient) }, true, true, false},
		{"etcd.yaml", func(c *testca.Cluster) string { return c.ManifestPath("cp2") }, false, false, true},
		{"kube-apiserver.yaml", func(c *testca.Cluster) string {
			c.WriteAPIServerManifest("cp2", nil)
			return c.Path("cp2", "/etc/kubernetes/manifests/kube-apiserver.yaml")
		}, false, false, true},
	}
	for _, target := range targets {
		for _, bad := range badInputs {
			if bad.pemOnly && !target.pem || bad.keyOnly && !target.key || bad.absent && target.optional {
				continue
			}
			t.Run(target.name+"/"+bad.name, func(t *testing.T) {
				t.Parallel()
				c := testca.New(t, testca.Options{Manifests: true})
				p := target.path(c)
				bad.make(t, c, p)
				r, err := audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
				if err != nil {
					t.Fatalf("CheckDirs: %v", err)
				}
				var about []audit.Finding
				for _, f := range r.Findings {
					if f.File == p {
						about = append(about, f)
					}
				}
				if len(about) == 0 {
					t.Fatalf("no finding names %s\n%s", p, findings(r))
				}
				if target.pem && bad.detail != "" && !anyDetail(about, bad.detail) {
					t.Errorf("findings about %s do not say %q:\n%s", filepath.Base(p), bad.detail, findings(r))
				}
				for _, f := range about {
					if f.Member != "cp2" {
						t.Errorf("finding about %s names member %q, want cp2", p, f.Member)
					}
				}
			})
		}
	}
}

// TestBadInputBundleAndKeyType covers the two inputs that parse but do not
// fit: several certificates in server.crt (etcd sends them all as the
// chain; the first must be the server's, and a leaf followed by its CA is
// a chain that draws nothing, as k3s writes them) and an ECDSA key next to an RSA
// certificate.
func TestBadInputBundleAndKeyType(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	server := c.Reissue("cp1", pki.KindServer)
	c.WriteCert("cp1", pki.KindServer, server, c.CA.Cert)
	c.ReissueFrom(c.CA, "cp2", pki.KindServer, testca.RSAKey(t, 2048))
	c.WriteKey("cp2", pki.KindServer, testca.NewKey(t, pki.ECDSAP256))
	r, err := audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		c.KeyPath("cp2", pki.KindServer): string(audit.RuleKeyMismatch) + " does not belong",
	}
	if len(r.Findings) != len(want) {
		t.Errorf("want %d findings, got\n%s", len(want), findings(r))
	}
	for _, f := range r.Findings {
		w, ok := want[f.File]
		rule, detail, _ := strings.Cut(w, " ")
		if !ok || string(f.Rule) != rule || !strings.Contains(f.Detail, detail) {
			t.Errorf("unexpected finding %v", f.Error())
		}
	}
}

// TestDiscoverBadInput: a path that is not a member directory is an error
// naming it.
func TestDiscoverBadInput(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	write(t, file, []byte("x"))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	brokenSpec := filepath.Join(dir, "brokenspec")
	write(t, filepath.Join(brokenSpec, "cluster.yaml"), []byte("members: [\n"))
	missingMember := filepath.Join(dir, "missingmember")
	write(t, filepath.Join(missingMember, "cluster.yaml"), []byte("members:\n- name: cp1\n  ips: [10.0.0.11]\n"))
	for _, p := range []string{filepath.Join(dir, "missing"), loop, file, empty, brokenSpec, missingMember} {
		ins, err := member.Discover(p, member.DiscoverOptions{})
		if err == nil {
			t.Errorf("Discover(%s) = %d inputs, want an error", p, len(ins))
			continue
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("Discover(%s): error %q does not name it", p, err)
		}
		if _, err := audit.CheckDirs([]string{p}, audit.Options{}); err == nil {
			t.Errorf("CheckDirs(%s): want an error", p)
		}
	}
}

func anyDetail(fs []audit.Finding, s string) bool {
	for _, f := range fs {
		if strings.Contains(strings.ToLower(f.Detail), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func write(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}
