package audit

import (
	"slices"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// repair is what a rule's fix must name: the etcdpki command that
// repairs a finding of it, or "none: why".
type repair struct {
	// on is the file a representative finding names: a leaf kind,
	// pki.KindCA, or "" for the member's settings (or no file).
	on pki.Kind
	// cmd is the command, or "none: …" where no etcdpki command applies.
	cmd string
	// also is a second command a fix names next to cmd.
	also string
	// ca is the command when the file at fault is a CA (the rule's FixCA).
	ca string
	// initOnly: the command renders from init's spec (etcdpki flags), so
	// a member directory's fix must not name it.
	initOnly bool
}

const (
	renew   = "etcdpki renew"
	replace = "etcdpki replace-member"
	rotate  = "etcdpki rotate-ca"
	flags   = "etcdpki flags"
)

// repairs is every rule's repair. A new rule must be classified here.
var repairs = map[RuleID]repair{
	RuleServerCA:         {on: pki.KindServer, cmd: renew},
	RulePeerCA:           {on: pki.KindPeer, cmd: renew},
	RuleClientCA:         {on: pki.KindAPIServerClient, cmd: renew},
	RuleCAMismatch:       {on: pki.KindCA, cmd: replace, also: rotate},
	RuleExtraCA:          {on: pki.KindCA, cmd: rotate},
	RuleCAKey:            {on: pki.KindCA, cmd: rotate},
	RuleKeyMismatch:      {on: pki.KindPeer, cmd: renew},
	RuleSharedLeaf:       {on: pki.KindServer, cmd: renew},
	RuleServerSAN:        {on: pki.KindServer, cmd: renew},
	RuleServerLoopback:   {on: pki.KindServer, cmd: renew},
	RulePeerSAN:          {on: pki.KindPeer, cmd: renew},
	RulePeerClientSAN:    {on: pki.KindPeerClient, cmd: renew},
	RuleEKUServer:        {on: pki.KindServer, cmd: renew},
	RuleEKUServerGateway: {on: pki.KindServer, cmd: renew},
	RuleEKUPeerServer:    {on: pki.KindPeer, cmd: renew},
	RuleEKUPeerClient:    {on: pki.KindPeer, cmd: renew},
	RuleEKUClient:        {on: pki.KindAPIServerClient, cmd: renew},
	RuleExpired:          {on: pki.KindPeer, cmd: renew, ca: rotate},
	RuleNotYetValid:      {on: pki.KindPeer, cmd: renew, ca: rotate},
	RuleExpiring:         {on: pki.KindServer, cmd: renew, ca: rotate},
	RuleCAExpiresFirst:   {on: pki.KindServer, cmd: rotate},
	RuleChainRejected:    {on: pki.KindPeer, cmd: rotate, also: renew},
	RuleNotCA:            {on: pki.KindCA, cmd: rotate},
	RuleClientCertAuth:   {cmd: flags, initOnly: true},
	RulePeerClientCert:   {cmd: flags, initOnly: true},
	RuleAutoTLS:          {cmd: flags, initOnly: true},
	RuleTrustedCA:        {cmd: flags, initOnly: true},
	RuleFlagFile:         {cmd: flags, initOnly: true},
	RuleAPIServer:        {on: pki.KindAPIServerClient, cmd: renew, also: flags, initOnly: true},
	RuleSharedK8sCA:      {on: pki.KindCA, cmd: rotate},
	RuleKeyPerm:          {on: pki.KindServer, cmd: "none: chmod 600 the key"},
	RuleCertPerm:         {on: pki.KindCA, cmd: "none: chmod 644 the certificate"},
	RuleWeakKey:          {on: pki.KindServer, cmd: renew, ca: rotate},
	RuleWeakSignature:    {on: pki.KindPeer, cmd: renew, ca: rotate},
	RuleFileMissing:      {on: pki.KindPeer, cmd: renew, ca: replace},
	RuleFileInvalid:      {on: pki.KindServer, cmd: renew, ca: replace},
	RulePeerTrust:        {on: pki.KindCA, cmd: replace, also: rotate},
	RuleClientTrust:      {on: pki.KindCA, cmd: replace, also: rotate},
	RuleOtherKeys:        {cmd: "none: the distribution copies the keys; protect or prune the node"},
	RuleInitialCluster:   {cmd: flags, initOnly: true},
	RuleClusterToken:     {cmd: flags, initOnly: true},
	RuleSplitClusters:    {cmd: "none: joining clusters is etcdctl member add, with the data of one kept"},
	RuleCertAuthImplied:  {cmd: flags, initOnly: true},
	RuleKeyInCert:        {on: pki.KindServer, cmd: renew, ca: rotate},
	RuleChainInFile:      {on: pki.KindServer, cmd: "none: a note; edit the file"},
	RuleSettingsInvalid:  {cmd: flags, initOnly: true},
	RuleEtcdVersionFlag:  {cmd: flags, initOnly: true},
	RuleInferred:         {cmd: "none: a note about the input"},
	// Live rules: probe's findings keep the catalogue's text.
	RuleProbeDiscovery:     {cmd: "none: see the endpoint findings"},
	RuleProbeUnreachable:   {cmd: "none: the member is down or the network is in the way"},
	RuleProbeNotTLS:        {cmd: flags},
	RuleProbeNotEtcd:       {cmd: "none: a wrong URL"},
	RuleProbeClientRefused: {cmd: renew, also: replace},
	RuleProbeNoClientAuth:  {cmd: flags},
	RuleProbeForeignCA:     {cmd: flags},
	RuleProbeOldTLS:        {cmd: "none: a flag to remove"},
	RuleProbeDiskMismatch:  {cmd: "none: a stale copy or a member pointed elsewhere"},
	// Explain-only rules: the fix is in a client, the network or the
	// process; explain prints the catalogue's text.
	RuleClientNoCA:      {cmd: flags, initOnly: true},
	RuleClientNoCert:    {cmd: renew},
	RuleClientPlaintext: {cmd: "none: give the client https:// endpoints"},
	RuleClientWrongHost: {cmd: renew},
	RulePeerNAT:         {cmd: "none: a network path or a flag"},
	RuleFileUnreadable:  {cmd: "etcdpki check"},
}

// fixFixture is a set of checked members and how their fixes must name
// the second member, the one the findings are on.
type fixFixture struct {
	members []*member.Member
	target  string
}

// fixFixtures builds, by name, a clean cluster of every layout: kubeadm's
// init output and node directories (with split credentials, and with an
// external CA), the etcd layout, each distribution's nodes.
var fixFixtures = map[string]func(t *testing.T) fixFixture{
	"kubeadm init output": func(t *testing.T) fixFixture {
		c := testca.New(t, testca.Options{Manifests: true, Split: true})
		return loadFixFixture(t, []string{c.Dir}, "--dir "+c.Dir+" --member cp2")
	},
	"kubeadm node directories": func(t *testing.T) fixFixture {
		c := testca.New(t, testca.Options{Manifests: true, Split: true})
		return loadFixFixture(t, []string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}, c.MemberDir("cp2"))
	},
	"kubeadm external CA": func(t *testing.T) fixFixture {
		c := testca.New(t, testca.Options{Manifests: true, ExternalCA: true})
		return loadFixFixture(t, []string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}, c.MemberDir("cp2"))
	},
	"etcd layout init output": func(t *testing.T) fixFixture {
		c := testca.New(t, testca.Options{Manifests: true, Layout: "etcd"})
		return loadFixFixture(t, []string{c.Dir}, "--dir "+c.Dir+" --member cp2")
	},
}

func init() {
	for _, name := range []string{"k3s", "rke2", "kubespray", "etcdadm", "openshift", "talos", "kops"} {
		fixFixtures[name] = func(t *testing.T) fixFixture {
			if name == "kops" && testing.Short() {
				// Its RSA-4096 keys take seconds; a node without the CA
				// key is OpenShift's case too.
				t.Skip("kops's fixture is slow")
			}
			f := distro.All[name](t, t.TempDir(), distro.Options{})
			return loadFixFixture(t, f.Dirs, f.Dirs[1])
		}
	}
}

func loadFixFixture(t *testing.T, dirs []string, target string) fixFixture {
	t.Helper()
	ms, err := member.LoadDirs(dirs, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return fixFixture{ms, target}
}

// TestFixNamesTheCommand: for every rule, a finding on a member of
// every layout (kubeadm's init output and node directories, the etcd
// layout, each distribution) has a fix that names the etcdpki command
// of the table above with the member filled in, never the old "init
// --force on the member", no placeholder left, and kubeadm's advice on
// kubeadm only.
func TestFixNamesTheCommand(t *testing.T) {
	for _, r := range catalogue {
		rep, ok := repairs[r.ID]
		if !ok {
			t.Errorf("%s: not in the repairs table", r.ID)
			continue
		}
		if (rep.ca != "") != (r.FixCA != "") {
			t.Errorf("%s: FixCA %q, but the table's CA command is %q", r.ID, r.FixCA, rep.ca)
		}
		for _, fix := range []string{r.Fix, r.FixCA} {
			if strings.Contains(fix, "init --force") {
				t.Errorf("%s: catalogue fix advises init --force: %s", r.ID, fix)
			}
		}
		if !strings.HasPrefix(rep.cmd, "none") && !strings.Contains(r.Fix, rep.cmd) {
			t.Errorf("%s: catalogue fix does not name %s: %s", r.ID, rep.cmd, r.Fix)
		}
		if rep.also != "" && !strings.Contains(r.Fix, rep.also) {
			t.Errorf("%s: catalogue fix does not name %s: %s", r.ID, rep.also, r.Fix)
		}
		if strings.HasPrefix(rep.cmd, "none") && strings.Contains(r.Fix, "etcdpki ") {
			t.Errorf("%s: the table says %q, but the fix names etcdpki: %s", r.ID, rep.cmd, r.Fix)
		}
	}
	for name, build := range fixFixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := build(t)
			m := fx.members[1]
			d := m.Input.Distribution
			for _, r := range catalogue {
				rep := repairs[r.ID]
				if r.Live {
					continue
				}
				check := func(on pki.Kind, want ...string) {
					file := ""
					switch {
					case on == pki.KindCA && m.CA != nil:
						file = m.CA.CertPath
					case on != "" && m.Files[on] != nil:
						file = m.Files[on].CertPath
					case on != "" && m.Files[pki.KindServer] != nil:
						file = m.Files[pki.KindServer].CertPath // the layout has no such kind
					case m.Settings != nil:
						file = m.Settings.Source
					}
					fs := []Finding{newFinding(r.ID, m.Name, file, "test")}
					applyRemedies(fs, fx.members)
					fix := fs[0].Fix
					fail := func(format string, args ...any) {
						t.Helper()
						t.Errorf("%s on %s: "+format+"\n  fix: %s", append([]any{r.ID, on}, append(args, fix)...)...)
					}
					if strings.Contains(fix, "init --force") {
						fail("advises init --force")
					}
					for _, w := range want {
						switch {
						case w == "" || strings.HasPrefix(w, "none"):
						case w == flags && rep.initOnly && m.Input.InitDir == "":
							if strings.Contains(fix, flags) {
								fail("names %s for a member directory, which it cannot render", flags)
							}
						case !strings.Contains(fix, w):
							fail("does not name %s", w)
						case w != rotate && !strings.Contains(fix, w+" "+fx.target):
							if w != replace {
								fail("does not name %s %s", w, fx.target)
							}
						}
					}
					for _, ph := range []string{phMemberDir, phName, "KIND", phOut} {
						if strings.Contains(fix, ph) && !strings.Contains(fix, "No member checked here holds") {
							fail("leaves the placeholder %s", ph)
						}
					}
					if d.Name != "kubeadm" && strings.Contains(fix, "kubeadm") {
						fail("gives kubeadm advice on %s", d.Name)
					}
					if d.Name == "kubeadm" && profileRules[r.ID] && strings.Contains(fix, renew) && !strings.Contains(fix, "kubeadm certs renew keeps the old") {
						fail("does not say that kubeadm certs renew keeps the old SANs and usages")
					}
					if d.Renew != "" && !strings.HasPrefix(d.Renew, "etcdpki") && reissueRules[r.ID] && on != pki.KindCA && !strings.Contains(fix, "On "+d.Title+": ") {
						fail("does not name %s's own remedy", d.Title)
					}
				}
				check(rep.on, rep.cmd, rep.also)
				if rep.ca != "" {
					check(pki.KindCA, rep.ca)
				}
			}
		})
	}
}

// TestFixRemovesOtherMembersAddresses: a server certificate that names
// another member's address instead of its own is renewed on the member
// directory with that address removed (renew merges the old names); on
// init's output the spec gives the names, so nothing is removed.
func TestFixRemovesOtherMembersAddresses(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	c.Reissue("cp2", pki.KindServer, testca.SANs("cp2", "localhost", "10.0.0.11", "127.0.0.1", "::1"))
	for _, dirs := range [][]string{{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}, {c.Dir}} {
		r, err := CheckDirs(dirs, Options{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		var fix string
		for _, f := range r.Findings {
			if f.Rule == RuleServerSAN && f.Member == "cp2" {
				fix = f.Fix
			}
		}
		want := "etcdpki renew " + c.MemberDir("cp2") + " --kind server --remove-ip 10.0.0.11 "
		if len(dirs) == 1 {
			want = "etcdpki renew --dir " + c.Dir + " --member cp2 --kind server "
		}
		if !strings.Contains(fix, want) {
			t.Errorf("R4-SERVER-SAN fix %q does not contain %q", fix, want)
		}
	}
}

// TestForDistribution: a parenthesis for some distributions stays on
// those only, kubeadm's sentences outside kubeadm go, and a k3s file
// name is not mistaken for kubeadm's ca.crt.
func TestForDistribution(t *testing.T) {
	k3s, _ := member.LookupDistribution("k3s")
	kubeadm, _ := member.LookupDistribution("kubeadm")
	fix := "Do x (k3s/RKE2: copy peer-ca.crt). kubeadm keeps y (kubeadm: z). Then w, as kubeadm does."
	for _, c := range []struct {
		d    *member.Distribution
		own  bool
		want string
	}{
		{k3s, false, "Do x (k3s/RKE2: copy peer-ca.crt). Then w."},
		{k3s, true, "Do x. Then w."},
		{kubeadm, false, "Do x. kubeadm keeps y (kubeadm: z). Then w, as kubeadm does."},
		{kubeadm, true, "Do x. kubeadm keeps y. Then w, as kubeadm does."},
		{nil, false, fix},
	} {
		if got := forDistribution(fix, c.d, c.own); got != c.want {
			t.Errorf("forDistribution(%v, own=%t) = %q, want %q", c.d, c.own, got, c.want)
		}
	}
	n := &fileNames{pairs: [][2]string{{"etcd/ca.crt", "server-ca.crt"}, {"ca.crt", "server-ca.crt"}}}
	if got, want := n.replace("copy peer-ca.crt, etcd/ca.crt and ca.crt."), "copy peer-ca.crt, server-ca.crt and server-ca.crt."; got != want {
		t.Errorf("replace = %q, want %q", got, want)
	}
	if got := sentences("A 127.0.0.1 b (c. d). E."); !slices.Equal(got, []string{"A 127.0.0.1 b (c. d).", "E."}) {
		t.Errorf("sentences = %q", got)
	}
}
