package lifecycle_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// install runs lifecycle.Install of tree onto root and fails the test on
// an error.
func install(t *testing.T, tree, root string, opts lifecycle.InstallOptions) *lifecycle.InstallResult {
	t.Helper()
	opts.Root = root
	res, err := lifecycle.Install(tree, opts)
	if err != nil {
		t.Fatalf("install %s onto %s: %v", tree, root, err)
	}
	return res
}

// treeFiles is every file of a member tree, by its path relative to the
// tree (which is its node path less the leading /).
func treeFiles(t *testing.T, tree string) map[string]string { return snapshot(t, tree) }

// mode is the permission bits of p.
func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// A member tree of init, with its etcd manifest, placed on an empty root:
// every file is there with the tree's content and mode (keys 0600,
// certificates 0644, the manifest 0600), the directories above the PKI
// directory are 0755, the PKI directory and below 0700, the manifests
// directory 0755, whatever the umask; the CA's pair is written first and
// the manifest last; nothing was backed up, the node checks clean, and the
// kubelet restarts etcd for its new manifest.
func TestInstallOnEmptyRoot(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 2})
	c.WriteSettings("cp1", nil)
	// A file of no kind, which sorts after the manifest in the tree.
	c.WriteFile(c.Path("cp1", "/etc/kubernetes/pki/etcd/NOTES"), []byte("installed by etcdpki\n"), 0o644)
	tree, root := c.MemberDir("cp1"), t.TempDir()
	old := syscall.Umask(0o077) // the directories' modes must not come from it
	res := install(t, tree, root, lifecycle.InstallOptions{})
	syscall.Umask(old)

	want := treeFiles(t, tree)
	if len(want) == 0 {
		t.Fatal("empty tree")
	}
	got := nodeSnapshot(t, root)
	for p, data := range want {
		if got[p] != data {
			t.Errorf("%s: not the tree's content on the node", p)
		}
		m := mode(t, filepath.Join(root, p))
		switch {
		case strings.HasSuffix(p, ".key") && m != layout.KeyPerm:
			t.Errorf("%s: mode %#o, want 0600", p, m)
		case strings.HasSuffix(p, ".crt") && m != layout.CertPerm:
			t.Errorf("%s: mode %#o, want 0644", p, m)
		case strings.HasSuffix(p, ".yaml") && m != 0o600:
			t.Errorf("%s: mode %#o, want the tree's 0600", p, m)
		}
	}
	if len(got) != len(want) {
		t.Errorf("node has %d files, the tree %d", len(got), len(want))
	}
	for dir, perm := range map[string]os.FileMode{
		"etc": 0o755, "etc/kubernetes": 0o755, "etc/kubernetes/pki": 0o700, "etc/kubernetes/pki/etcd": 0o700,
		"etc/kubernetes/manifests": 0o755, "var": 0o755, "var/lib": 0o755, "var/lib/etcdpki": 0o700,
	} {
		if m := mode(t, filepath.Join(root, dir)); m != perm {
			t.Errorf("%s: mode %#o, want %#o", dir, m, perm)
		}
	}
	if res.Backup != "" || len(res.Unchanged) != 0 || len(res.Written) != len(want) {
		t.Errorf("backup %q, %d unchanged, %d written; want no backup, none unchanged, %d written", res.Backup, len(res.Unchanged), len(res.Written), len(want))
	}
	if len(res.Dirs) != 5 {
		t.Errorf("created %v, want the 5 directories from etc to pki/etcd and manifests", res.Dirs)
	}
	for _, f := range res.Files {
		if f.Action != lifecycle.FileCreated {
			t.Errorf("%s: %s, want created", f.NodePath, f.Action)
		}
	}
	// The CA's pair first, key first; the manifest last.
	if res.Files[0].Kind != pki.KindCA || !res.Files[0].Key {
		t.Errorf("first file written is %s (%s), want the CA key", res.Files[0].NodePath, res.Files[0].Kind)
	}
	if last := res.Files[len(res.Files)-1]; last.NodePath != "/etc/kubernetes/manifests/etcd.yaml" {
		t.Errorf("last file written is %s, want the manifest", last.NodePath)
	}
	if res.Member != "cp1" || res.Report == nil {
		t.Errorf("member %q, report %v", res.Member, res.Report)
	}
	if len(res.Restarts) != 2 || res.Restarts[0].Process != "etcd" || !res.Restarts[0].Automatic || res.Restarts[1].Process != "kube-apiserver" {
		t.Errorf("restarts %+v, want etcd by the kubelet (new manifest) and kube-apiserver", res.Restarts)
	}
	checkClean(t, root)
}

// Existing directories keep their mode (a node's 0750 /etc/kubernetes),
// and only the missing ones are created.
func TestInstallLeavesExistingDirectories(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	root := t.TempDir()
	k8s := filepath.Join(root, "etc", "kubernetes")
	if err := os.MkdirAll(k8s, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(k8s, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o711); err != nil {
		t.Fatal(err)
	}
	res := install(t, c.MemberDir("cp1"), root, lifecycle.InstallOptions{})
	if m := mode(t, k8s); m != 0o750 {
		t.Errorf("/etc/kubernetes: mode %#o, want the node's 0750", m)
	}
	if m := mode(t, root); m != 0o711 {
		t.Errorf("/: mode %#o, want the node's 0711", m)
	}
	if m := mode(t, filepath.Join(k8s, "pki")); m != 0o700 {
		t.Errorf("/etc/kubernetes/pki: mode %#o, want 0700", m)
	}
	var made []string
	for _, d := range res.Dirs {
		made = append(made, d.NodePath)
	}
	if !slices.Equal(made, []string{"/etc/kubernetes/pki", "/etc/kubernetes/pki/etcd"}) {
		t.Errorf("created %v", made)
	}
}

// A second install of a renewed tree replaces what changed, keeping each
// replaced file's owner and group (a non-root owner, as root) but giving
// it the tree's mode: a key the node had 0640 becomes 0600, a certificate
// the node had 0600 becomes the tree's 0644, and a key the tree has 0644
// is placed 0600. Every replaced file's old content and mode are in the
// run's backup under the node's /var/lib/etcdpki.
func TestInstallReplacesKeepingOwners(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	tree, root := c.MemberDir("cp1"), t.TempDir()
	install(t, tree, root, lifecycle.InstallOptions{})
	serverKey := filepath.Join(root, "etc/kubernetes/pki/etcd/server.key")
	serverCrt := filepath.Join(root, "etc/kubernetes/pki/etcd/server.crt")
	peerKey := filepath.Join(root, "etc/kubernetes/pki/etcd/peer.key")
	rootUser := os.Geteuid() == 0
	if rootUser {
		for _, p := range []string{serverKey, serverCrt} {
			if err := os.Chown(p, 1234, 1235); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(serverKey, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(serverCrt, 0o600); err != nil {
		t.Fatal(err)
	}
	before := nodeSnapshot(t, root)
	if _, err := lifecycle.Renew(c.Dir, lifecycle.RenewOptions{}); err != nil {
		t.Fatal(err)
	}
	// A key too readable in the tree (check warns, CIS-KEY-PERM).
	if err := os.Chmod(c.KeyPath("cp1", pki.KindPeer), 0o644); err != nil {
		t.Fatal(err)
	}

	res := install(t, tree, root, lifecycle.InstallOptions{})
	for p, m := range map[string]os.FileMode{serverKey: 0o600, serverCrt: 0o644, peerKey: 0o600} {
		if got := mode(t, p); got != m {
			t.Errorf("%s: mode %#o, want %#o", p, got, m)
		}
	}
	if rootUser {
		for _, p := range []string{serverKey, serverCrt} {
			st, _ := os.Stat(p)
			if s := st.Sys().(*syscall.Stat_t); s.Uid != 1234 || s.Gid != 1235 {
				t.Errorf("%s: owner %d:%d, want the replaced file's 1234:1235", p, s.Uid, s.Gid)
			}
		}
	} else {
		t.Log("not root: owners not tested")
	}
	if res.Backup == "" || !strings.HasPrefix(res.Backup, "var/lib/etcdpki/backups/") || !strings.HasSuffix(res.Backup, "-install") {
		t.Fatalf("backup %q, want var/lib/etcdpki/backups/<time>-install", res.Backup)
	}
	after := nodeSnapshot(t, root)
	replaced := changed(before, after)
	if len(replaced) == 0 {
		t.Fatal("nothing replaced")
	}
	for _, p := range replaced {
		b, err := os.ReadFile(filepath.Join(root, res.Backup, p))
		if err != nil || string(b) != before[p] {
			t.Errorf("%s: backup does not hold the old content (%v)", p, err)
		}
	}
	if m := mode(t, filepath.Join(root, res.Backup, "etc/kubernetes/pki/etcd/server.key")); m != 0o640 {
		t.Errorf("backup of server.key: mode %#o, want the old 0640", m)
	}
	for _, f := range res.Files {
		if f.NodePath == "/etc/kubernetes/pki/etcd/server.key" && (f.Action != lifecycle.FileReplaced || f.OldMode != 0o640 || f.Mode != 0o600) {
			t.Errorf("server.key: %+v", f)
		}
	}
	if !res.LeavesChanged {
		t.Error("LeavesChanged not set after the leaves were renewed")
	}
	for _, r := range res.Restarts {
		if r.Process == "etcd" {
			t.Errorf("etcd restart asked for, with its CA unchanged: %+v", r)
		}
	}
}

// An install run again after it succeeded writes nothing: every file is
// unchanged, no backup, the node's files as they were.
func TestInstallTwiceWritesNothing(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	tree, root := c.MemberDir("cp1"), t.TempDir()
	install(t, tree, root, lifecycle.InstallOptions{})
	before := snapshot(t, root)
	res := install(t, tree, root, lifecycle.InstallOptions{})
	if len(res.Written) != 0 || res.Backup != "" || len(res.Restarts) != 0 || res.LeavesChanged {
		t.Errorf("second run: written %v, backup %q, restarts %v", res.Written, res.Backup, res.Restarts)
	}
	for _, f := range res.Files {
		if f.Action != lifecycle.FileUnchanged {
			t.Errorf("%s: %s", f.NodePath, f.Action)
		}
	}
	if d := changed(before, snapshot(t, root)); len(d) != 0 {
		t.Errorf("second run changed %v", d)
	}
}

// A run killed between the two renames of a pair (the key renamed, the
// certificate still under its temporary name) is completed by the next
// one before anything else, and a temporary file of a run killed before
// its renames is removed.
func TestInstallCompletesAKilledRun(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	tree, root := c.MemberDir("cp1"), t.TempDir()
	install(t, tree, root, lifecycle.InstallOptions{})
	c.Reissue("cp1", pki.KindServer)
	c.Reissue("cp1", pki.KindPeer)
	node := func(kind pki.Kind, key bool) (string, []byte) {
		p := c.CertPath("cp1", kind)
		if key {
			p = c.KeyPath("cp1", kind)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(tree, p)
		return filepath.Join(root, rel), data
	}
	// server: killed between its renames.
	keyDest, keyData := node(pki.KindServer, true)
	if err := layout.WriteFile(keyDest, keyData, layout.KeyPerm); err != nil {
		t.Fatal(err)
	}
	certDest, certData := node(pki.KindServer, false)
	if _, err := layout.PrepareFile(certDest, certData, layout.CertPerm); err != nil {
		t.Fatal(err)
	}
	if layout.PairMatches(certDest, keyDest) {
		t.Fatal("the simulated kill left a matching pair")
	}
	// peer: killed before its renames.
	peerDest, peerData := node(pki.KindPeer, true)
	if _, err := layout.PrepareFile(peerDest, peerData, layout.KeyPerm); err != nil {
		t.Fatal(err)
	}

	res := install(t, tree, root, lifecycle.InstallOptions{})
	if !slices.Contains(res.Repaired, "etc/kubernetes/pki/etcd/server.crt") {
		t.Errorf("repaired %v, want the server certificate", res.Repaired)
	}
	for _, f := range res.Files {
		if f.NodePath == "/etc/kubernetes/pki/etcd/server.crt" && f.Action != lifecycle.FileUnchanged {
			t.Errorf("server.crt: %s after the repair put it in place", f.Action)
		}
	}
	for p, data := range treeFiles(t, tree) {
		if b, _ := os.ReadFile(filepath.Join(root, p)); string(b) != data {
			t.Errorf("%s: not the tree's after the re-run", p)
		}
	}
	for _, p := range []string{certDest, peerDest} {
		if temps, _ := layout.TempFiles(p); len(temps) > 0 {
			t.Errorf("temporary files left: %v", temps)
		}
	}
}

// refusal requires a *RefusedError whose text or hint says every one of
// words.
func refusal(t *testing.T, err error, words ...string) *lifecycle.RefusedError {
	t.Helper()
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want a *RefusedError", err, err)
	}
	for _, w := range words {
		if !strings.Contains(re.Error()+"\n"+re.Hint, w) {
			t.Errorf("refusal %q (hint %q) does not say %s", re.Error(), re.Hint, w)
		}
	}
	return re
}

// nothingWritten fails unless root is still empty: a refusal writes
// nothing, not even the node's state directory.
func nothingWritten(t *testing.T, root string) {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("the refused install wrote %v", ents)
	}
}

// A tree whose check has errors is refused with the rule IDs and nothing
// written; --force installs it and says which rules it overrode.
func TestInstallRefusesATreeThatFailsItsCheck(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(c *testca.Cluster)
		rules  []audit.RuleID
	}{
		{"server cert of another CA", func(c *testca.Cluster) {
			other := testca.NewCA(t, pki.ECDSAP256, c.Now)
			c.ReissueFrom(other, "cp1", pki.KindServer, testca.NewKey(t, pki.ECDSAP256))
		}, []audit.RuleID{audit.RuleServerCA}},
		{"peer key of another pair", func(c *testca.Cluster) {
			c.WriteKey("cp1", pki.KindPeer, testca.NewKey(t, pki.ECDSAP256))
		}, []audit.RuleID{audit.RuleKeyMismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testca.New(t, testca.Options{Members: 1})
			tt.break_(c)
			tree, root := c.MemberDir("cp1"), t.TempDir()
			res, err := lifecycle.Install(tree, lifecycle.InstallOptions{Root: root})
			var words []string
			for _, r := range tt.rules {
				words = append(words, string(r))
			}
			refusal(t, err, words...)
			if res == nil || res.Report == nil || !res.Report.Fails(audit.Error) {
				t.Errorf("the refusal's result carries no failing report: %+v", res)
			}
			nothingWritten(t, root)

			res = install(t, tree, root, lifecycle.InstallOptions{Force: true})
			for _, r := range tt.rules {
				if !slices.Contains(res.Forced, r) {
					t.Errorf("forced %v, want %s", res.Forced, r)
				}
			}
			if len(res.Written) == 0 {
				t.Error("--force wrote nothing")
			}
		})
	}
}

// A tree that is not one member's tree, and a root that is not there, are
// refused with the errors the CLI maps to exit status 2.
func TestInstallRefusesWhatIsNotAMemberTree(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 2})
	root := t.TempDir()

	_, err := lifecycle.Install(t.TempDir(), lifecycle.InstallOptions{Root: root})
	var nf *member.NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("empty tree: err = %v (%T), want a *member.NotFoundError", err, err)
	}
	_, err = lifecycle.Install(c.Dir, lifecycle.InstallOptions{Root: root})
	re := refusal(t, err, "init's output directory", "cp1", "cp2")
	if !strings.Contains(re.Hint, filepath.Join(c.Dir, "cp1")) {
		t.Errorf("hint %q does not name a member's tree", re.Hint)
	}
	_, err = lifecycle.Install(c.MemberDir("cp1"), lifecycle.InstallOptions{Root: filepath.Join(root, "missing")})
	var fe *layout.FileError
	if !errors.As(err, &fe) {
		t.Errorf("missing root: err = %v (%T), want a *layout.FileError", err, err)
	}
	nothingWritten(t, root)

	// A symlink in the tree, and one on the node where a file goes.
	link := filepath.Join(c.MemberDir("cp2"), "etc", "kubernetes", "pki", "link.crt")
	if err := os.Symlink("etcd/ca.crt", link); err != nil {
		t.Fatal(err)
	}
	_, err = lifecycle.Install(c.MemberDir("cp2"), lifecycle.InstallOptions{Root: root})
	refusal(t, err, "symlink")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(root, "etc/kubernetes/pki/etcd/server.crt")
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", dest); err != nil {
		t.Fatal(err)
	}
	_, err = lifecycle.Install(c.MemberDir("cp2"), lifecycle.InstallOptions{Root: root})
	refusal(t, err, "not a regular file")
}

// A member's tree put on another member's node is refused: the tree has no
// settings of its own, so it is checked against the node's manifest,
// whose addresses its certificates do not name. On its own node it
// installs.
func TestInstallChecksTheTreeAgainstTheNode(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 2})
	nodeOf := func(member string) string {
		c.WriteSettings(member, nil)
		root := t.TempDir()
		dst := filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml")
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(c.ManifestPath(member), dst); err != nil {
			t.Fatal(err)
		}
		return root
	}
	cp2 := nodeOf("cp2")
	before := snapshot(t, cp2)
	_, err := lifecycle.Install(c.MemberDir("cp1"), lifecycle.InstallOptions{Root: cp2})
	refusal(t, err, string(audit.RuleServerSAN), "10.0.0.12")
	if d := changed(before, snapshot(t, cp2)); len(d) != 0 {
		t.Errorf("the refused install changed %v", d)
	}

	cp1 := nodeOf("cp1")
	res := install(t, c.MemberDir("cp1"), cp1, lifecycle.InstallOptions{})
	if res.NodeSettings != filepath.Join(cp1, "etc/kubernetes/manifests/etcd.yaml") {
		t.Errorf("checked against %q, want the node's manifest", res.NodeSettings)
	}
}

// A tree whose CA the node's ca.crt does not hold (another cluster's, not
// a rotation's bundle) is refused; --force replaces the CA and says so.
func TestInstallRefusesAnotherCA(t *testing.T) {
	a := testca.New(t, testca.Options{Members: 1})
	b := testca.New(t, testca.Options{Members: 1})
	root := t.TempDir()
	install(t, a.MemberDir("cp1"), root, lifecycle.InstallOptions{})
	before := snapshot(t, root)
	_, err := lifecycle.Install(b.MemberDir("cp1"), lifecycle.InstallOptions{Root: root})
	refusal(t, err, "another CA", "/etc/kubernetes/pki/etcd/ca.crt", "rotate-ca")
	if d := changed(before, snapshot(t, root)); len(d) != 0 {
		t.Errorf("the refused install changed %v", d)
	}
	res := install(t, b.MemberDir("cp1"), root, lifecycle.InstallOptions{Force: true})
	if !res.ReplacesCA {
		t.Error("ReplacesCA not set")
	}
	got, _ := os.ReadFile(filepath.Join(root, "etc/kubernetes/pki/etcd/ca.crt"))
	if !bytes.Equal(got, pki.EncodeCert(b.CA.Cert)) {
		t.Error("--force did not install the tree's CA")
	}
}

// A dry run says what would be created, replaced and left alone, and
// writes nothing: no file, no directory, no lock.
func TestInstallDryRun(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 1})
	tree, root := c.MemberDir("cp1"), t.TempDir()
	res := install(t, tree, root, lifecycle.InstallOptions{DryRun: true})
	nothingWritten(t, root)
	if len(res.Dirs) != 4 || len(res.Written) != len(treeFiles(t, tree)) {
		t.Errorf("dry run on an empty root: dirs %v, written %v", res.Dirs, res.Written)
	}
	install(t, tree, root, lifecycle.InstallOptions{})
	c.Reissue("cp1", pki.KindServer)
	before := snapshot(t, root)
	res = install(t, tree, root, lifecycle.InstallOptions{DryRun: true})
	if d := changed(before, snapshot(t, root)); len(d) != 0 {
		t.Errorf("dry run changed %v", d)
	}
	want := []string{"etc/kubernetes/pki/etcd/server.crt", "etc/kubernetes/pki/etcd/server.key"}
	slices.Sort(res.Written)
	if !slices.Equal(res.Written, want) || len(res.Dirs) != 0 {
		t.Errorf("dry run: would write %v and make %v; want %v and no directory", res.Written, res.Dirs, want)
	}
	if !res.LeavesChanged {
		t.Error("dry run: LeavesChanged not set")
	}
}

// Another member's tree than the node's (cp2's on cp1's node, which has
// no manifest to tell by its addresses) is refused by the node's server
// certificate; --force installs it and names the member the node was.
func TestInstallRefusesAnotherMember(t *testing.T) {
	c := testca.New(t, testca.Options{Members: 2})
	root := t.TempDir()
	install(t, c.MemberDir("cp1"), root, lifecycle.InstallOptions{})
	before := snapshot(t, root)
	_, err := lifecycle.Install(c.MemberDir("cp2"), lifecycle.InstallOptions{Root: root})
	refusal(t, err, "member cp1's", "member cp2's", "--force")
	if d := changed(before, snapshot(t, root)); len(d) != 0 {
		t.Errorf("the refused install changed %v", d)
	}
	res := install(t, c.MemberDir("cp2"), root, lifecycle.InstallOptions{Force: true})
	if res.ReplacesMember != "cp1" || res.Member != "cp2" {
		t.Errorf("replaces %q with %q, want cp1 with cp2", res.ReplacesMember, res.Member)
	}
}

// The etcd layout's tree (etcdadm's /etc/etcd/pki), and a tree that
// stands for /etc/kubernetes only (a copy of that directory), land where
// their node paths say, with the PKI directory 0700 and the ones above it
// 0755.
func TestInstallOtherTrees(t *testing.T) {
	e := testca.New(t, testca.Options{Members: 1, Layout: "etcd"})
	root := t.TempDir()
	res := install(t, e.MemberDir("cp1"), root, lifecycle.InstallOptions{})
	for dir, perm := range map[string]os.FileMode{"etc": 0o755, "etc/etcd": 0o755, "etc/etcd/pki": 0o700} {
		if m := mode(t, filepath.Join(root, dir)); m != perm {
			t.Errorf("etcd layout: %s: mode %#o, want %#o", dir, m, perm)
		}
	}
	if m := mode(t, filepath.Join(root, "etc/etcd/pki/server.key")); m != 0o600 {
		t.Errorf("etcd layout: server.key mode %#o, want 0600", m)
	}
	if res.Layout != "etcdadm / standalone etcd" {
		t.Errorf("layout %q", res.Layout)
	}

	k := testca.New(t, testca.Options{Members: 1})
	copyOf := filepath.Join(t.TempDir(), "kubernetes")
	if err := os.Rename(k.Path("cp1", "/etc/kubernetes"), copyOf); err != nil {
		t.Fatal(err)
	}
	root = t.TempDir()
	res = install(t, copyOf, root, lifecycle.InstallOptions{})
	if res.TreeRoot != "/etc/kubernetes" {
		t.Errorf("tree stands for %q, want /etc/kubernetes", res.TreeRoot)
	}
	want, err := os.ReadFile(filepath.Join(copyOf, "pki/etcd/peer.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "etc/kubernetes/pki/etcd/peer.crt")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("peer.crt not placed at /etc/kubernetes/pki/etcd (%v)", err)
	}
	if m := mode(t, filepath.Join(root, "etc/kubernetes")); m != 0o755 {
		t.Errorf("/etc/kubernetes: mode %#o, want 0755", m)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/kubernetes/.etcdpki")); err == nil {
		t.Error("the node's state went into /etc/kubernetes/.etcdpki, not /var/lib/etcdpki")
	}
}
