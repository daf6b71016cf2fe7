package lifecycle

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// InstallOptions tune Install.
type InstallOptions struct {
	// Root is the node's root directory: "/" (the default) on the node
	// itself, or where the node's disk is mounted.
	Root string
	// Force installs a tree whose check has errors, or whose etcd CA the
	// node's CA file does not hold.
	Force bool
	// DryRun says what Install would do and writes nothing: not even the
	// lock file or the node's state directory.
	DryRun bool
	// Discover tunes how the tree is read, as check's --layout and
	// --etcd-flags do.
	Discover member.DiscoverOptions
	// Spec, when set, describes a member whose tree has no settings of its
	// own, as check's --config does.
	Spec *spec.Cluster
	// Now is the time of the run (the check's and the backup's); zero
	// means time.Now().
	Now time.Time
}

// FileAction is what Install did to one file.
type FileAction string

// The file actions.
const (
	FileCreated   FileAction = "created"
	FileReplaced  FileAction = "replaced"
	FileUnchanged FileAction = "unchanged"
)

// InstalledFile is one file of the tree and what Install did with it.
type InstalledFile struct {
	// NodePath is the file's path on the node; Path where that is on this
	// machine (under InstallOptions.Root).
	NodePath, Path string
	Action         FileAction
	// Mode is the file's mode after the install (an unchanged file's
	// current mode); OldMode the mode of the file it replaced.
	Mode, OldMode os.FileMode
	// Kind is the certificate kind the member uses the file as (its
	// certificate or its key), empty for other files.
	Kind pki.Kind
	// Key is set for a file that holds a private key.
	Key bool
}

// InstalledDir is a directory Install created.
type InstalledDir struct {
	NodePath, Path string
	Mode           os.FileMode
}

// Restart is a process that has to restart before it uses what Install
// wrote.
type Restart struct {
	// Process is "etcd" or "kube-apiserver".
	Process string
	// Reason says which files need it and why.
	Reason string
	// How says how to restart it on this node; Automatic is set when the
	// kubelet does it by itself (a static pod whose manifest changed).
	How       string
	Automatic bool
}

// InstallResult says what Install did, or with InstallOptions.DryRun
// what it would do. Result's paths are relative to the root.
type InstallResult struct {
	Result
	// Tree is the member tree installed, Member the member's name,
	// Layout its distribution's title, and TreeRoot the node path the
	// tree stands for ("/" for init's member trees).
	Tree, Member, Layout, TreeRoot string
	// Files lists every file of the tree, in the order they were written.
	Files []InstalledFile
	// Dirs lists the directories created.
	Dirs []InstalledDir
	// Report is the tree's check. NodeSettings is the node's etcd
	// settings file the check read, for a tree without settings of its
	// own, so that the tree's names were checked against the node's
	// addresses.
	Report       *audit.Report
	NodeSettings string
	// Forced lists the rules whose errors InstallOptions.Force overrode;
	// ReplacesCA is set when the node's CA file held none of the tree's
	// CA certificates (which only Force installs).
	Forced     []audit.RuleID
	ReplacesCA bool
	// ReplacesMember is the member whose server certificate the node had,
	// when it is not the tree's member (which only Force installs).
	ReplacesMember string
	// Restarts lists what to restart, in that order.
	Restarts []Restart
	// LeavesChanged is set when etcd's own certificates or keys were
	// replaced: etcd serves them from its next TLS handshake.
	LeavesChanged bool
	DryRun        bool
}

// installOp names install in refusals and backups.
const installOp = "install"

// installFile is one file of the tree on its way to the node.
type installFile struct {
	// src is the file in the tree, node its node path, dest where that is
	// under the root.
	src, node, dest string
	data            []byte
	perm            os.FileMode
	kind            pki.Kind
	key             bool
	// etcdCA is a trusted CA file of etcd, apiCA kube-apiserver's etcd CA
	// file, apiClient kube-apiserver's etcd client certificate or key.
	etcdCA, apiCA, apiClient bool
	// settings is etcd's settings file (format: the distribution's), or
	// kube-apiserver's manifest (apiSettings).
	settings, apiSettings bool
	format                string
}

// Install places the member tree tree (init's member tree such as
// pki/cp1, add-member's output tree, or any member directory check reads:
// a tree standing for the node's / or for the directory a distribution
// keeps its PKI in) on the node whose root directory is opts.Root.
//
// The tree is checked first, as etcdpki check does; when the node already
// has etcd settings and the tree has none, the tree is checked against
// them, so that a member's tree put on another member's node is refused
// for the addresses its certificates do not name. Error findings refuse
// the tree, and so do a CA that the node's CA file does not hold (that
// is a CA rotation, done in stages with rotate-ca) and a server
// certificate of another member than the node's, unless opts.Force.
//
// Every regular file of the tree is placed (not etcdpki's state directory,
// lock or temporary files), each with the tree's mode except that no file
// is left writable by group or others and a file holding a private key is
// never more than 0600, even if the file it replaces was: what is on the
// node is then what check judged in the tree, and a replaced file's mode
// is in its backup. A replaced file keeps its owner and group
// (layout.PrepareFile); a new one belongs to the user running Install.
// A file that already holds the tree's content is left alone, mode and
// all. A certificate and its key are written as one group, key first
// (as renew does), and etcd's settings last, so that a kubelet that
// restarts etcd for its new manifest finds every file in place.
//
// Missing directories are created: those above the PKI directory (the
// node's /etc, /etc/kubernetes, …) layout.NodeDirPerm (0755), the PKI
// directory and those below it layout.DirPerm (0700), any other (a
// manifests directory) 0755. Existing directories are never changed.
//
// Install holds the lock of the node's state directory ([NodeStateDir]:
// <root>/var/lib/etcdpki), backs up what it replaces to
// <root>/var/lib/etcdpki/backups/<time>-install/, and first completes the
// writes a killed run left half done (layout.Repair), so a re-run after a
// crash completes and a re-run after success writes nothing.
//
// The error is a *[layout.FileError] for a root or tree that is not a
// directory, a *[member.NotFoundError] for a tree with no etcd PKI, and a
// *RefusedError, with nothing written, for init's whole output directory,
// a tree with symlinks or special files, a check with errors (the result's
// Report holds the findings), another CA or another member.
func Install(tree string, opts InstallOptions) (*InstallResult, error) {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	root := opts.Root
	if st, err := os.Stat(root); err != nil {
		return nil, &layout.FileError{Path: root, Err: fmt.Errorf("%v; give the node's root directory", unwrapPath(err))}
	} else if !st.IsDir() {
		return nil, &layout.FileError{Path: root, Err: errors.New("is not a directory; give the node's root directory")}
	}
	in, err := installInput(tree, opts)
	if err != nil {
		return nil, err
	}
	res := &InstallResult{Tree: tree, Layout: in.Distribution.Title, TreeRoot: in.Root, DryRun: opts.DryRun, Result: Result{Dir: root}}
	if in.SettingsFile == "" {
		if p := nodeSettings(in, root); p != "" {
			in.SettingsFile, res.NodeSettings = p, p
		}
	}
	m := member.Load(in)
	res.Member = m.Name
	res.Report = audit.Check([]*member.Member{m}, audit.Options{Now: opts.Now})
	var errs []audit.Finding
	for _, f := range res.Report.Findings {
		if f.Severity >= audit.Error {
			errs = append(errs, f)
		}
	}
	if len(errs) > 0 {
		ids := ruleIDs(errs)
		if !opts.Force {
			detail := fmt.Sprintf("%s fails its check with %s (%s)", tree, countOf(len(errs), "error"), joinRules(ids))
			for _, f := range errs {
				detail += "\n  " + f.Error()
			}
			again := "etcdpki check " + tree
			if res.NodeSettings != "" {
				again = "etcdpki check --etcd-flags " + res.NodeSettings + " " + tree
			}
			return res, &RefusedError{Op: installOp, Detail: detail, Hint: again + " says how to fix each; --force installs the tree anyway"}
		}
		res.Forced = ids
	}

	files, groups, pairs, err := planInstall(in, m, root)
	if err != nil {
		return res, err
	}
	if res.ReplacesCA, err = otherCA(files, opts.Force); err != nil {
		return res, err
	}
	if res.ReplacesMember, err = otherMember(files, opts.Force); err != nil {
		return res, err
	}
	pkiDir := installPKIDir(m)
	if res.Dirs, err = installDirs(root, files, pkiDir, false); err != nil {
		return res, err
	}
	if opts.DryRun {
		for _, g := range groups {
			for _, f := range g {
				a, mode, old := dryAction(f)
				res.addFile(f, a, mode, old)
				if a == FileUnchanged {
					res.Unchanged = append(res.Unchanged, relTo(root, f.dest))
				} else {
					res.Written = append(res.Written, relTo(root, f.dest))
				}
			}
		}
		res.restarts(m, files)
		return res, nil
	}

	cs, unlock, err := beginNode(root, "/", installOp, opts.Now)
	if err != nil {
		return res, err
	}
	defer unlock()
	// The tree's modes are placed, not the replaced files' (see above).
	cs.keepMode = false
	var singles []string
	for _, f := range files {
		singles = append(singles, f.dest)
	}
	err = cs.repair(pairs, singles)
	res.Result = *cs.res
	if err != nil {
		return res, err
	}
	if res.Dirs, err = installDirs(root, files, pkiDir, true); err != nil {
		return res, err
	}
	for _, g := range groups {
		var group []change
		actions := map[string]FileAction{}
		old := map[string]os.FileMode{}
		for _, f := range g {
			group = append(group, change{f.dest, f.data, f.perm})
			actions[f.dest] = FileCreated
			if st, err := os.Lstat(f.dest); err == nil {
				actions[f.dest], old[f.dest] = FileReplaced, st.Mode().Perm()
			}
		}
		before := len(cs.res.Unchanged)
		err := cs.apply(group...)
		for _, u := range cs.res.Unchanged[before:] {
			actions[filepath.Join(root, u)] = FileUnchanged
		}
		res.Result = *cs.res
		if err != nil {
			return res, err
		}
		for _, f := range g {
			a, mode := actions[f.dest], f.perm
			if a == FileUnchanged {
				mode = old[f.dest]
			}
			res.addFile(f, a, mode, old[f.dest])
		}
	}
	res.restarts(m, files)
	return res, nil
}

// installInput discovers the one member of tree. A tree of init's output
// directory (pki/cp1) is read with its spec, so that its names are checked
// against the member's addresses.
func installInput(tree string, opts InstallOptions) (*member.Input, error) {
	ins, err := member.Discover(tree, opts.Discover)
	if err != nil {
		return nil, err
	}
	if len(ins) > 1 || (len(ins) == 1 && ins[0].InitDir != "") {
		var names []string
		for _, in := range ins {
			names = append(names, in.SpecMember.Name)
		}
		return nil, &RefusedError{Op: installOp, Detail: fmt.Sprintf("%s is init's output directory (members %s), not one member's tree", tree, strings.Join(names, ", ")),
			Hint: "give the tree of the member this node runs, e.g. --from " + layout.MemberDir(tree, names[0])}
	}
	in := ins[0]
	if out, name, ok := InitDirOf(tree); ok && opts.Discover.Layout == "" {
		if all, err := member.Discover(out, opts.Discover); err == nil {
			for _, i := range all {
				if i.SpecMember != nil && i.SpecMember.Name == name {
					in = i
				}
			}
		}
	}
	if in.Spec == nil && opts.Spec != nil {
		in.Spec = opts.Spec
	}
	return in, nil
}

// nodeSettings is the node's etcd settings file (under root) in the tree's
// distribution, when the tree has none of its own; empty otherwise. A
// systemd unit is left out: its environment files would be read from the
// tree.
func nodeSettings(in *member.Input, root string) string {
	for _, src := range in.Distribution.Settings {
		if p, err := in.Lexical(src.Path); err == nil {
			if _, err := os.Lstat(p); err == nil {
				return ""
			}
		}
	}
	for _, src := range in.Distribution.Settings {
		p := layout.OnDisk(root, src.Path)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && src.Format != "unit" {
			return p
		}
	}
	return ""
}

// planInstall reads the tree's files and orders them in groups: each CA
// certificate with its key, each leaf with its key (the key first), then
// the other files, and the settings last. It returns the pairs repair
// looks at, on the node.
func planInstall(in *member.Input, m *member.Member, root string) (files []*installFile, groups [][]*installFile, pairs []layout.Pair, err error) {
	// A tree given through a symlink is walked where it is.
	base, err := filepath.EvalSymlinks(in.Dir)
	if err != nil {
		return nil, nil, nil, &layout.FileError{Path: in.Dir, Err: unwrapPath(err)}
	}
	skip := NodeStateDir(base, in.Root)
	byNode := map[string]*installFile{}
	err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if filepath.Clean(p) == filepath.Clean(skip) {
			return filepath.SkipDir
		}
		name := d.Name()
		switch {
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0 || !d.Type().IsRegular():
			what := "a symlink"
			if d.Type()&fs.ModeSymlink == 0 {
				what = "not a regular file"
			}
			return &RefusedError{Op: installOp, Detail: fmt.Sprintf("%s is %s: install places regular files only", p, what),
				Hint: "copy the tree with its links resolved (cp -rL, rsync -rL), or remove the entry"}
		case name == filepath.Base(layout.LockFile("")) || (strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")):
			// etcdpki's own lock, and temporary files a killed run left
			// (copies of keys, maybe cut short): never the node's.
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		data, err := layout.ReadFile(p)
		if err != nil {
			return err
		}
		node := path.Join(in.Root, filepath.ToSlash(rel))
		// No file goes onto the node writable by group or others (a CA
		// certificate anyone could replace).
		f := &installFile{src: p, node: node, dest: layout.OnDisk(root, node), data: data, perm: st.Mode().Perm() &^ 0o022}
		_, kerr := pki.ParseKey(data)
		f.key = kerr == nil || errors.Is(kerr, pki.ErrEncryptedKey) || strings.HasSuffix(name, ".key") || strings.HasSuffix(name, "-key.pem")
		files = append(files, f)
		byNode[node] = f
		return nil
	})
	var re *RefusedError
	var fe *layout.FileError
	if errors.As(err, &re) || errors.As(err, &fe) {
		return nil, nil, nil, err
	}
	if err != nil {
		return nil, nil, nil, &layout.FileError{Path: in.Dir, Err: fmt.Errorf("cannot be read: %w", unwrapPath(err))}
	}

	// What the member uses each file as.
	for _, k := range m.SortedKinds() {
		lf := m.Files[k]
		for i, p := range []string{lf.NodeCertPath, lf.NodeKeyPath} {
			if f := byNode[path.Clean(p)]; f != nil && f.kind == "" {
				f.kind, f.apiClient = k, k == pki.KindAPIServerClient
				f.key = f.key || i == 1
			}
		}
	}
	for _, ca := range []*member.File{m.CA, m.PeerCA, m.APIServerCA} {
		if ca == nil {
			continue
		}
		if f := byNode[path.Clean(ca.NodeCertPath)]; f != nil {
			f.kind = pki.KindCA
			f.etcdCA = f.etcdCA || ca != m.APIServerCA
			api := ca == m.APIServerCA
			switch {
			case ca != m.CA:
			case m.APIServer != nil:
				api = api || m.APIServer.CAFile == ca.NodeCertPath
			default:
				// Without its manifest in the tree: kubeadm's
				// kube-apiserver runs where its etcd client certificate
				// is, with --etcd-cafile the client port's CA.
				api = api || m.Files[pki.KindAPIServerClient] != nil
			}
			f.apiCA = f.apiCA || api
		}
		if f := byNode[path.Clean(member.KeyPathFor(ca.NodeCertPath))]; f != nil && f.kind == "" {
			f.kind = pki.KindCA
		}
	}
	if s := m.Settings; s != nil {
		for _, f := range files {
			switch {
			case sameFile(f.src, s.Source):
				f.settings = true
			case s.ConfigFile != "" && f.node == path.Clean(s.ConfigFile):
				f.settings, f.format = true, "config"
			}
		}
	}
	for _, src := range in.Distribution.Settings {
		if f := byNode[src.Path]; f != nil && f.settings {
			f.format = src.Format
		}
	}
	if p := in.Distribution.APIServerManifest; p != "" && byNode[p] != nil {
		byNode[p].apiSettings = true
	}

	paired := map[*installFile]bool{}
	pair := func(certNode, keyNode string) {
		c, k := byNode[path.Clean(certNode)], byNode[path.Clean(keyNode)]
		if c == nil || k == nil || c == k || paired[c] || paired[k] {
			return
		}
		paired[c], paired[k] = true, true
		groups = append(groups, []*installFile{k, c})
		pairs = append(pairs, layout.Pair{Cert: c.dest, Key: k.dest})
	}
	for _, ca := range []*member.File{m.CA, m.PeerCA, m.APIServerCA} {
		if ca != nil {
			pair(ca.NodeCertPath, member.KeyPathFor(ca.NodeCertPath))
		}
	}
	for _, k := range m.SortedKinds() {
		pair(m.Files[k].NodeCertPath, m.Files[k].NodeKeyPath)
	}
	for _, f := range files {
		if kp := member.KeyPathFor(f.node); kp != "" && !f.key {
			pair(f.node, kp)
		}
	}
	var last [][]*installFile
	for _, f := range files {
		switch {
		case paired[f]:
		case f.settings || f.apiSettings:
			last = append(last, []*installFile{f})
		default:
			groups = append(groups, []*installFile{f})
		}
	}
	groups = append(groups, last...)

	// Nothing on the node may stand where a file goes but a file: a
	// rename over a symlink would replace the link, and one over a
	// directory fails half way.
	for _, f := range files {
		if f.key {
			f.perm &= layout.KeyPerm
		}
		st, err := os.Lstat(f.dest)
		if err == nil && !st.Mode().IsRegular() {
			return nil, nil, nil, &RefusedError{Op: installOp, Detail: fmt.Sprintf("%s on the node is not a regular file (%s): install replaces regular files only", f.dest, st.Mode().Type()),
				Hint: "move it away, or replace it with the file it stands for"}
		}
	}
	return files, groups, pairs, nil
}

// sameFile reports whether a and b name one file.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// otherCA refuses, unless force, a tree whose etcd CA file shares no
// certificate with the node's: the member would trust a CA the other
// members do not use, and they would refuse its new leaves (R2). A CA
// rotation makes that change in stages (rotate-ca), through a bundle. It
// reports whether the install replaces the node's CA.
func otherCA(files []*installFile, force bool) (bool, error) {
	for _, f := range files {
		if !f.etcdCA {
			continue
		}
		have, err := layout.ReadCerts(f.dest)
		if err != nil || len(have) == 0 {
			continue // none on the node yet, or one that does not read: replaced
		}
		want, _ := pki.ParseCerts(f.data)
		if len(want) == 0 {
			continue // the check said what is wrong with it
		}
		shared := slices.ContainsFunc(want, func(w *x509.Certificate) bool {
			return slices.ContainsFunc(have, func(h *x509.Certificate) bool { return h.Equal(w) })
		})
		if shared {
			continue
		}
		if force {
			return true, nil
		}
		return false, &RefusedError{Op: installOp,
			Detail: fmt.Sprintf("the node's %s holds another CA (%q, %s) than the tree's (%q, %s): this member would stop trusting the other members' certificates, and they its new ones (R2)",
				f.node, have[0].Subject.CommonName, shortFP(pki.Fingerprint(have[0])), want[0].Subject.CommonName, shortFP(pki.Fingerprint(want[0]))),
			Hint: "a cluster changes its CA in stages with etcdpki rotate-ca; --force installs the tree anyway (a node leaving its old cluster)"}
	}
	return false, nil
}

// otherMember refuses, unless force, a tree whose server certificate is
// another member's than the one on the node (its subject's common name,
// the member's name in every profile): cp2's tree put on cp1's node, which
// would leave two members with cp2's names and none with cp1's. It
// returns the node's member when force installs it.
func otherMember(files []*installFile, force bool) (string, error) {
	for _, f := range files {
		if f.kind != pki.KindServer || f.key {
			continue
		}
		have, err := layout.ReadCerts(f.dest)
		if err != nil || len(have) == 0 {
			return "", nil
		}
		want, _ := pki.ParseCerts(f.data)
		if len(want) == 0 || want[0].Subject.CommonName == have[0].Subject.CommonName {
			return "", nil
		}
		node, tree := have[0].Subject.CommonName, want[0].Subject.CommonName
		if force {
			return node, nil
		}
		return "", &RefusedError{Op: installOp,
			Detail: fmt.Sprintf("this node's %s is member %s's, the tree is member %s's", f.node, node, tree),
			Hint:   "give this node's own member tree (" + node + "'s); --force installs " + tree + "'s anyway, for a node that becomes " + tree}
	}
	return "", nil
}

// installPKIDir is the node's PKI directory for the member: the layout's
// where init writes one (/etc/kubernetes/pki, /etc/etcd/pki), else the
// deepest directory holding every certificate and key the member uses.
func installPKIDir(m *member.Member) string {
	switch m.Distribution().Name {
	case "kubeadm":
		return layout.Kubeadm.PKIDir
	case "etcdadm":
		return layout.Etcd.PKIDir
	}
	var dirs []string
	for _, f := range append(slices.Collect(maps.Values(m.Files)), m.CA, m.PeerCA) {
		if f == nil {
			continue
		}
		for _, p := range []string{f.NodeCertPath, f.NodeKeyPath} {
			if p != "" {
				dirs = append(dirs, path.Dir(path.Clean(p)))
			}
		}
	}
	if len(dirs) == 0 {
		return ""
	}
	common := dirs[0]
	for _, d := range dirs[1:] {
		for common != "/" && d != common && !strings.HasPrefix(d, common+"/") {
			common = path.Dir(common)
		}
	}
	return common
}

// installDirs makes (with create; else only lists) the directories the
// files need that the node lacks, and fails with a *layout.FileError where
// something else than a directory stands in the way.
//
// The PKI directory is kept private as init's trees have it, which is
// stricter than kubeadm: kubeadm creates /etc/kubernetes/pki and pki/etcd
// 0755, through cmd/kubeadm/app/util/pkiutil/pki_helpers.go
// (WriteCertAndKey → WriteKey, WriteCert), which call client-go's
// keyutil.WriteKey and cert.WriteCert, each os.MkdirAll(dir, 0o755)
// (kubernetes/kubernetes@04791b49 staging/src/k8s.io/client-go/util/keyutil/key.go
// and staging/src/k8s.io/client-go/util/cert/io.go). Like Install, kubeadm
// leaves an existing directory's mode alone (MkdirAll), and its etcd and
// kube-apiserver run as root, so a 0700 PKI directory serves them as well
// and lists nothing to other users.
func installDirs(root string, files []*installFile, pkiDir string, create bool) ([]InstalledDir, error) {
	var made []InstalledDir
	seen := map[string]bool{}
	want := func(node string) error {
		if seen[node] {
			return nil
		}
		seen[node] = true
		p := layout.OnDisk(root, node)
		st, err := os.Stat(p)
		switch {
		case err == nil && st.IsDir():
			return nil
		case err == nil:
			return &layout.FileError{Path: p, Err: errors.New("is not a directory")}
		case !notExist(err):
			return &layout.FileError{Path: p, Err: unwrapPath(err)}
		}
		perm := layout.NodeDirPerm
		if pkiDir != "" && (node == pkiDir || strings.HasPrefix(node, pkiDir+"/")) {
			perm = layout.DirPerm
		}
		made = append(made, InstalledDir{NodePath: node, Path: p, Mode: perm})
		return nil
	}
	var dirs []string
	for _, f := range files {
		dirs = append(dirs, path.Dir(f.node))
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		parts := strings.Split(strings.Trim(d, "/"), "/")
		for i := range parts {
			if err := want("/" + strings.Join(parts[:i+1], "/")); err != nil {
				return nil, err
			}
		}
	}
	if !create {
		return made, nil
	}
	if pkiDir != "" {
		// The directories above the PKI directory are the node's.
		if err := layout.NodeDirs(root, pkiDir); err != nil {
			return nil, &layout.FileError{Path: layout.OnDisk(root, path.Dir(pkiDir)), Err: unwrapPath(err)}
		}
	}
	for _, d := range made {
		err := os.Mkdir(d.Path, d.Mode)
		if errors.Is(err, fs.ErrExist) {
			continue // made by NodeDirs
		}
		if err == nil {
			// Mkdir applies the umask.
			err = os.Chmod(d.Path, d.Mode)
		}
		if err != nil {
			return nil, &layout.FileError{Path: d.Path, Err: unwrapPath(err)}
		}
	}
	return made, nil
}

// dryAction is what Install would do to f, the mode f would have after
// it and the mode of the file there now.
func dryAction(f *installFile) (a FileAction, mode, old os.FileMode) {
	st, err := os.Lstat(f.dest)
	if err != nil {
		return FileCreated, f.perm, 0
	}
	if data, err := layout.ReadFile(f.dest); err == nil && bytes.Equal(data, f.data) {
		return FileUnchanged, st.Mode().Perm(), st.Mode().Perm()
	}
	return FileReplaced, f.perm, st.Mode().Perm()
}

// addFile records what was done to f; old is the mode of the file it
// replaced or left alone.
func (r *InstallResult) addFile(f *installFile, a FileAction, mode, old os.FileMode) {
	i := InstalledFile{NodePath: f.node, Path: f.dest, Action: a, Mode: mode, Kind: f.kind, Key: f.key}
	if a == FileReplaced {
		i.OldMode = old
	}
	r.Files = append(r.Files, i)
}

// restarts says what to restart for what changed: etcd reads its trusted
// CA files only at start, and its own certificate and key on every TLS
// handshake (package documentation); kube-apiserver keeps its connections
// to etcd, and reads its --etcd-cafile at start.
func (r *InstallResult) restarts(m *member.Member, files []*installFile) {
	changed := map[string]bool{}
	for _, f := range r.Files {
		changed[f.NodePath] = f.Action != FileUnchanged
	}
	var etcdCA, apiFiles []string
	etcdSettings, apiSettings := "", false
	format := ""
	for _, f := range files {
		if !changed[f.node] {
			continue
		}
		switch {
		case f.etcdCA || f.apiCA:
			if f.etcdCA {
				etcdCA = append(etcdCA, f.node)
			}
			if f.apiCA {
				apiFiles = append(apiFiles, f.node)
			}
		case f.apiClient:
			apiFiles = append(apiFiles, f.node)
		case f.settings:
			etcdSettings, format = f.node, f.format
		case f.apiSettings:
			apiSettings = true
		case f.kind != "" && f.kind != pki.KindCA && f.kind != pki.KindHealthcheckClient:
			r.LeavesChanged = true
		}
	}
	d := m.Distribution()
	etcdHow := "restart the process or unit that runs etcd on this node"
	manifest := ""
	for _, src := range d.Settings {
		if src.Format == "manifest" {
			manifest = src.Path
		}
		if src.Format == "unit" || src.Format == "env" {
			etcdHow = "systemctl restart etcd"
		}
	}
	if manifest != "" {
		etcdHow = restartPod(manifest, "etcd")
	}
	switch {
	case etcdSettings != "" && format == "manifest":
		r.Restarts = append(r.Restarts, Restart{Process: "etcd", Automatic: true,
			Reason: etcdSettings + " changed: the kubelet restarts the static pod with it"})
	case etcdSettings != "":
		how := etcdHow
		if format == "unit" {
			how = "systemctl daemon-reload && systemctl restart etcd"
		}
		r.Restarts = append(r.Restarts, Restart{Process: "etcd", How: how, Reason: etcdSettings + " changed, and etcd reads its settings at start"})
	case len(etcdCA) > 0:
		r.Restarts = append(r.Restarts, Restart{Process: "etcd", How: etcdHow,
			Reason: strings.Join(etcdCA, ", ") + " changed, and etcd reads its trusted CA files only at start"})
	}
	switch {
	case apiSettings:
		r.Restarts = append(r.Restarts, Restart{Process: "kube-apiserver", Automatic: true,
			Reason: d.APIServerManifest + " changed: the kubelet restarts the static pod with it"})
	case len(apiFiles) > 0:
		how := "restart the process or unit that runs kube-apiserver"
		if d.APIServerManifest != "" {
			how = restartPod(d.APIServerManifest, "kube-apiserver")
		}
		r.Restarts = append(r.Restarts, Restart{Process: "kube-apiserver", How: how,
			Reason: strings.Join(apiFiles, ", ") + " changed, and kube-apiserver keeps its connections to etcd and reads its etcd CA file only at start"})
	}
}

// restartPod says how to restart a static pod: the kubelet stops it when
// its manifest leaves the directory and starts it when it comes back.
func restartPod(manifest, container string) string {
	return fmt.Sprintf("move %s out of its directory, wait until its container is gone (crictl ps --name %s), and move it back", manifest, container)
}

func ruleIDs(fs []audit.Finding) []audit.RuleID {
	var ids []audit.RuleID
	for _, f := range fs {
		if !slices.Contains(ids, f.Rule) {
			ids = append(ids, f.Rule)
		}
	}
	return ids
}

func joinRules(ids []audit.RuleID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
