package lifecycle_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

func TestAddMember(t *testing.T) {
	out := threeMembers(t)
	before := snapshot(t, out)
	res, err := lifecycle.AddMember(out, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Spec.Members) != 4 || res.Root != filepath.Join(out, "cp4") || len(res.Issued) != 4 {
		t.Errorf("result: %d members, root %s, %d issued", len(res.Spec.Members), res.Root, len(res.Issued))
	}
	// The new tree and the spec changed, nothing of the other members.
	for _, p := range changed(before, snapshot(t, out)) {
		if !strings.HasPrefix(p, "cp4/") && p != "cluster.yaml" {
			t.Errorf("add-member changed %s", p)
		}
	}
	c, err := spec.Load(layout.SpecFile(out))
	if err != nil || len(c.Members) != 4 {
		t.Fatalf("spec after add-member: %v, %v", c, err)
	}
	// The new member's files pass check with the others' (R2: one CA;
	// R4: its own address only).
	checkClean(t, out)
	ca := readCert(t, filepath.Join(out, "ca", "ca.crt"))
	srv := readCert(t, certPath(out, "cp4", pki.KindServer))
	if err := pki.SignedBy(srv, ca); err != nil {
		t.Error(err)
	}
	if err := srv.VerifyHostname("10.0.0.13"); err == nil {
		t.Error("cp4's server certificate names cp3's address")
	}

	cmd, err := lifecycle.MemberAddCommand(res.Spec, "cp4", true)
	if want := "etcdctl member add cp4 --peer-urls=https://10.0.0.14:2380 --learner"; err != nil || cmd != want {
		t.Errorf("MemberAddCommand = %q, %v; want %q", cmd, err, want)
	}

	// A name or address that clashes is refused by validation, naming the
	// field; nothing is written. An existing name with another address
	// is refused that way too (TestAddMemberAgain: with the same one).
	for _, tt := range []struct {
		m    spec.Member
		want string
	}{
		{spec.Member{Name: "cp4", IPs: []string{"10.0.0.24"}}, `members[4].name: duplicate member name "cp4" (also members[3])`},
		{spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}, DNSNames: []string{"cp4.example"}}, `duplicate member name "cp4"`},
		{spec.Member{Name: "cp5", IPs: []string{"10.0.0.12"}}, "members[4].ips[0]: duplicate IP 10.0.0.12 (also members[1].ips[0])"},
		{spec.Member{Name: "ca-next", IPs: []string{"10.0.0.15"}}, `members[4].name: "ca-next" is reserved`},
		{spec.Member{Name: "../x", IPs: []string{"10.0.0.15"}}, `is not a valid member name`},
	} {
		before := snapshot(t, out)
		_, err := lifecycle.AddMember(out, tt.m, lifecycle.AddMemberOptions{})
		if !spec.IsValidationError(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("adding %+v: got %v, want a validation error containing %q", tt.m, err, tt.want)
		}
		if got := changed(before, snapshot(t, out)); len(got) != 0 {
			t.Errorf("a refused add-member changed %v", got)
		}
	}
}

func TestAddMemberResumes(t *testing.T) {
	// A run that stopped after writing the member's tree but before the
	// spec is run again: it re-issues the tree (backing up the first
	// run's files) and records the member.
	out := threeMembers(t)
	m := spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}
	if _, err := lifecycle.AddMember(out, m, lifecycle.AddMemberOptions{}); err != nil {
		t.Fatal(err)
	}
	c, _ := spec.Load(layout.SpecFile(out))
	c.Members = c.Members[:3]
	data, _ := spec.Marshal(c)
	if err := layout.WriteFile(layout.SpecFile(out), data, layout.CertPerm); err != nil {
		t.Fatal(err)
	}
	res, err := lifecycle.AddMember(out, m, lifecycle.AddMemberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Backup == "" || !hasPrefix(res.Written, "cp4/") {
		t.Errorf("second run: backup %q, written %v", res.Backup, res.Written)
	}
	checkClean(t, out)
}

func TestAddMemberFromPKI(t *testing.T) {
	out := threeMembers(t)
	node := filepath.Join(out, "cp1", "etc", "kubernetes", "pki")
	newOut := t.TempDir()
	res, err := lifecycle.AddMemberFromPKI(node, newOut, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Without the cluster spec, the node's own member is known from its
	// server certificate; the new member is checked against it.
	if names := []string{res.Spec.Members[0].Name, res.Spec.Members[1].Name}; names[0] != "cp1" || names[1] != "cp4" {
		t.Errorf("spec members %v", names)
	}
	if res.Spec.Algorithm != pki.ECDSAP256 {
		t.Errorf("algorithm %s, want the CA's (ecdsa-p256)", res.Spec.Algorithm)
	}
	checkClean(t, out, filepath.Join(newOut, "cp4"))

	// A clash with the node's member.
	_, err = lifecycle.AddMemberFromPKI(node, t.TempDir(), spec.Member{Name: "cp5", IPs: []string{"10.0.0.11"}}, lifecycle.AddMemberOptions{})
	if !spec.IsValidationError(err) || !strings.Contains(err.Error(), "members[1].ips[0]: duplicate IP 10.0.0.11") {
		t.Errorf("got %v, want a duplicate IP", err)
	}
	// With the cluster spec, a clash with any member.
	c, _ := spec.Load(layout.SpecFile(out))
	_, err = lifecycle.AddMemberFromPKI(node, t.TempDir(), spec.Member{Name: "cp3", IPs: []string{"10.0.0.15"}}, lifecycle.AddMemberOptions{Cluster: c})
	if !spec.IsValidationError(err) || !strings.Contains(err.Error(), `duplicate member name "cp3"`) {
		t.Errorf("got %v, want a duplicate name", err)
	}
	// A second run finds the first one's files as it would write them,
	// and writes nothing.
	before := snapshot(t, newOut)
	again, err := lifecycle.AddMemberFromPKI(node, newOut, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{})
	if err != nil || !again.AlreadyAdded || len(again.Written) != 0 || again.Root != res.Root {
		t.Errorf("second run: %+v, %v; want already added", again, err)
	}
	if got := changed(before, snapshot(t, newOut)); len(got) != 0 {
		t.Errorf("second run changed %v", got)
	}
	// With another address, it refuses to overwrite the first one's files.
	_, err = lifecycle.AddMemberFromPKI(node, newOut, spec.Member{Name: "cp4", IPs: []string{"10.0.0.24"}}, lifecycle.AddMemberOptions{})
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("another address: got %v, want a refusal", err)
	}
	// A directory without a CA key cannot sign.
	noKey := initPKI(t, func(c *spec.Cluster) { c.ExternalCA = true }, "cp1=10.0.0.11")
	_, err = lifecycle.AddMemberFromPKI(filepath.Join(noKey, "cp1", "etc", "kubernetes", "pki"), t.TempDir(), spec.Member{Name: "cp2", IPs: []string{"10.0.0.12"}}, lifecycle.AddMemberOptions{})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "ca.key is missing") {
		t.Errorf("no CA key: got %v", err)
	}
}

// TestAddMemberAgain: add-member run again for a member it added, with the
// same addresses, writes nothing and returns what the join instructions
// need; a member whose files are not what it wrote is refused.
func TestAddMemberAgain(t *testing.T) {
	out := threeMembers(t)
	m := spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}, DNSNames: []string{"cp4.example"}}
	first, err := lifecycle.AddMember(out, m, lifecycle.AddMemberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.AlreadyAdded {
		t.Error("first run: already added")
	}
	before := snapshot(t, out)
	// The same addresses, however an IP is spelled or a name cased.
	res, err := lifecycle.AddMember(out, spec.Member{Name: "cp4", IPs: []string{"::ffff:10.0.0.14"}, DNSNames: []string{"CP4.example"}}, lifecycle.AddMemberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyAdded || len(res.Written) != 0 || len(res.Issued) != 0 || res.Backup != "" || res.Root != first.Root || res.Member != "cp4" || len(res.Spec.Members) != 4 {
		t.Errorf("second run: %+v", res)
	}
	if got := changed(before, snapshot(t, out)); len(got) != 0 {
		t.Errorf("second run changed %v", got)
	}
	if cmd, err := lifecycle.MemberAddCommand(res.Spec, "cp4", false); err != nil || cmd != "etcdctl member add cp4 --peer-urls=https://10.0.0.14:2380" {
		t.Errorf("MemberAddCommand = %q, %v", cmd, err)
	}
	// A member init wrote counts too.
	if res, err := lifecycle.AddMember(out, spec.Member{Name: "cp1", IPs: []string{"10.0.0.11"}}, lifecycle.AddMemberOptions{}); err != nil || !res.AlreadyAdded {
		t.Errorf("cp1 again: %+v, %v", res, err)
	}

	// Files that are not what add-member writes: a leaf of another member,
	// or a leaf of another CA.
	other := threeMembers(t)
	for _, tt := range []struct {
		name, from string
		kind       pki.Kind
		want       string
	}{
		{"other member's leaf", out, pki.KindServer, "does not name the member's addresses"},
		{"other CA's leaf", other, pki.KindPeer, "is not signed by the CA"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []func(string, string, pki.Kind) string{certPath, keyPath} {
				data, err := os.ReadFile(p(tt.from, "cp1", tt.kind))
				if err != nil {
					t.Fatal(err)
				}
				if err := layout.WriteFile(p(out, "cp4", tt.kind), data, layout.KeyPerm); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, out)
			_, err := lifecycle.AddMember(out, m, lifecycle.AddMemberOptions{})
			var re *lifecycle.RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), "not the ones add-member writes") || !strings.Contains(err.Error(), tt.want) || !strings.Contains(re.Hint, "renew") {
				t.Errorf("got %v, want a refusal containing %q", err, tt.want)
			}
			if got := changed(before, snapshot(t, out)); len(got) != 0 {
				t.Errorf("a refused add-member changed %v", got)
			}
			if _, err := lifecycle.Renew(out, lifecycle.RenewOptions{Members: []string{"cp4"}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAddMemberNodeDirModes: a new member's tree has the node's modes
// above its PKI directory (0755), as init's trees do, and 0700 for it.
func TestAddMemberNodeDirModes(t *testing.T) {
	out := threeMembers(t)
	if _, err := lifecycle.AddMember(out, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(out, "cp4")
	for dir, want := range map[string]os.FileMode{root: 0o755, root + "/etc": 0o755, root + "/etc/kubernetes": 0o755, root + "/etc/kubernetes/pki": 0o700} {
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", dir, st.Mode().Perm(), want)
		}
	}
}
