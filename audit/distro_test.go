package audit_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// expectedWarnings are the warnings a clean cluster of each distribution
// really deserves, each with why it is true of that distribution.
var expectedWarnings = map[string]map[audit.RuleID]string{
	"kubespray": {
		// roles/etcd copies every member's member/admin/node keys and the
		// CA key to every etcd node.
		audit.RuleOtherKeys: "every etcd node holds every member's keys",
		// make-ssl-etcd.sh / gen_certs_script leave keys 0640 (group etcd
		// or kube-cert can read them).
		audit.RuleKeyPerm: "keys are mode 0640",
	},
	"openshift": {
		// etcd-all-certs holds every master's peer and serving keys.
		audit.RuleOtherKeys: "every master holds every master's etcd keys",
	},
}

func checkFixture(t *testing.T, name string, opts distro.Options) (*distro.Fixture, *audit.Report) {
	t.Helper()
	gen := distro.All[name]
	if gen == nil {
		t.Fatalf("no generator %q", name)
	}
	f := gen(t, t.TempDir(), opts)
	members, err := member.LoadDirs(f.Dirs, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range members {
		if got, want := m.Input.Distribution.Name, strings.TrimSuffix(strings.TrimSuffix(name, "-scp"), "-restarted"); got != want {
			t.Errorf("%s: detected as %s, want %s", f.Dirs[i], got, want)
		}
	}
	return f, audit.Check(members, audit.Options{Now: opts.Now})
}

func reportText(r *audit.Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString("  " + f.Error() + " [" + f.Breaks + "]\n")
	}
	b.WriteString("  " + r.Verdict.Summary + "\n")
	return b.String()
}

// TestDistributionsClean: a clean 3-member copy of every distribution's
// nodes checks with no error and no warning that is not true of it.
func TestDistributionsClean(t *testing.T) {
	var names []string
	for n := range distro.All {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, r := checkFixture(t, name, distro.Options{})
			want := expectedWarnings[strings.TrimSuffix(name, "-scp")]
			seen := map[audit.RuleID]bool{}
			for _, f := range r.Findings {
				switch {
				case f.Severity == audit.Error:
					t.Errorf("error: %v", f.Error())
				case f.Severity == audit.Warning && want[f.Rule] == "":
					t.Errorf("unexpected warning: %v", f.Error())
				}
				seen[f.Rule] = true
			}
			for rule, why := range want {
				// The node-keys warning must be there; the others are
				// allowed where they are true.
				if rule == audit.RuleOtherKeys && !seen[rule] {
					t.Errorf("expected warning %s (%s) missing", rule, why)
				}
			}
			for _, f := range r.Findings {
				// Each key once, however the distribution's patterns overlap.
				if f.Rule == audit.RuleOtherKeys {
					parts := strings.Split(f.Detail[strings.Index(f.Detail, "(")+1:strings.Index(f.Detail, ")")], ", ")
					if len(parts) != len(slices.Compact(slices.Sorted(slices.Values(parts)))) {
						t.Errorf("a key listed twice: %s", f.Detail)
					}
				}
			}
			if !r.Verdict.ClusterForms || !r.Verdict.ClientsConnect {
				t.Errorf("verdict %+v", r.Verdict)
			}
			if t.Failed() {
				t.Log("\n" + reportText(r))
			}
		})
	}
}

// TestDistributionsFaults plants a fault in each distribution's fixture
// and wants the finding that names it, with the right port broken.
func TestDistributionsFaults(t *testing.T) {
	type fault struct {
		name     string
		opts     distro.Options
		rules    []audit.RuleID // at least one of these on node2's member
		forms    bool
		connects bool
	}
	oneCA := []fault{
		{"omit-ip", distro.Options{OmitIP: "node2"}, []audit.RuleID{audit.RuleServerSAN, audit.RulePeerSAN}, true, false},
		{"foreign-ca", distro.Options{ForeignCA: "node2"}, []audit.RuleID{audit.RuleCAMismatch, audit.RulePeerTrust}, true, false},
	}
	twoCA := append(slices.Clone(oneCA),
		fault{"own-peer-ca", distro.Options{OwnPeerCA: "node2"}, []audit.RuleID{audit.RulePeerTrust}, true, false},
		fault{"own-client-ca", distro.Options{OwnClientCA: "node2"}, []audit.RuleID{audit.RuleClientTrust}, true, false},
	)
	cases := map[string][]fault{
		"kubespray": oneCA, "etcdadm": oneCA, "k3s": twoCA, "rke2": twoCA,
		"openshift": oneCA,
		// kops: etcd-manager builds etcd's flags, so as with Talos the
		// addresses are unknown offline.
		"kops": twoCA[1:],
		// Talos keeps no etcd settings on disk (machined builds etcd's
		// flags), so a member's addresses are unknown and a missing IP
		// cannot be seen offline (INPUT-INFERRED says so); --config
		// supplies them.
		"talos": oneCA[1:],
	}
	for name, faults := range cases {
		if distro.All[name] == nil {
			continue
		}
		for _, ft := range faults {
			t.Run(name+"/"+ft.name, func(t *testing.T) {
				t.Parallel()
				f, r := checkFixture(t, name, ft.opts)
				victim := f.Members[1]
				found := false
				for _, fd := range r.Findings {
					if fd.Member == victim && slices.Contains(ft.rules, fd.Rule) {
						found = true
					}
					if fd.Severity == audit.Error && fd.Member != victim && fd.Member != "" {
						t.Errorf("error on another member: %v", fd.Error())
					}
				}
				if !found {
					t.Errorf("no %v finding on %s", ft.rules, victim)
				}
				if r.Verdict.ClusterForms != ft.forms || r.Verdict.ClientsConnect != ft.connects {
					t.Errorf("verdict forms=%t connects=%t, want %t %t", r.Verdict.ClusterForms, r.Verdict.ClientsConnect, ft.forms, ft.connects)
				}
				if t.Failed() {
					t.Log("\n" + reportText(r))
				}
			})
		}
	}
}

// TestReportShowsEachPortsCA: the report names each member's client-port
// and peer-port CA files separately (two on k3s, one on kubespray), its
// layout, and where each setting came from.
func TestReportShowsEachPortsCA(t *testing.T) {
	for name, separate := range map[string]bool{"k3s": true, "kubespray": false} {
		_, r := checkFixture(t, name, distro.Options{})
		for _, m := range r.Members {
			if m.ClientCA == nil || m.PeerCA == nil {
				t.Fatalf("%s %s: client CA %v, peer CA %v", name, m.Name, m.ClientCA, m.PeerCA)
			}
			if got := m.ClientCA.File != m.PeerCA.File; got != separate {
				t.Errorf("%s %s: client CA %s, peer CA %s; want separate=%t", name, m.Name, m.ClientCA.File, m.PeerCA.File, separate)
			}
			if separate && m.ClientCA.Fingerprints[0] == m.PeerCA.Fingerprints[0] {
				t.Errorf("%s %s: both ports' CAs have the same fingerprint", name, m.Name)
			}
			if m.Layout != name {
				t.Errorf("%s %s: layout %q", name, m.Name, m.Layout)
			}
			if src := m.Sources["trusted-ca-file"]; src == "" || !strings.Contains(src, ":") {
				t.Errorf("%s %s: no source for trusted-ca-file (%v)", name, m.Name, m.Sources)
			}
		}
	}
}

// TestOneFileTwoRolesOnce: kubespray's member-HOST.pem is both ports'
// certificate; an expired one is one finding that breaks both, not two.
func TestOneFileTwoRolesOnce(t *testing.T) {
	f := distro.Kubespray(t, t.TempDir(), distro.Options{})
	ssl := filepath.Join(f.Dirs[1], "etc/ssl/etcd/ssl")
	ca, err := layout.ReadKeyPair(ssl+"/ca.pem", ssl+"/ca-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	old, err := layout.ReadCert(ssl + "/member-node2.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := layout.ReadKey(ssl + "/member-node2-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := *old
	tmpl.Raw, tmpl.RawTBSCertificate, tmpl.RawSubjectPublicKeyInfo, tmpl.RawSubject, tmpl.RawIssuer = nil, nil, nil, nil, nil
	tmpl.Signature, tmpl.SignatureAlgorithm, tmpl.Extensions, tmpl.PublicKey = nil, x509.UnknownSignatureAlgorithm, nil, nil
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-2*365*24*time.Hour), time.Now().Add(-24*time.Hour)
	expired := testca.Sign(t, &tmpl, ca.Cert, key.Public(), ca.Key)
	if err := os.WriteFile(ssl+"/member-node2.pem", pki.EncodeCert(expired), 0o700); err != nil {
		t.Fatal(err)
	}
	members, err := member.LoadDirs(f.Dirs, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := audit.Check(members, audit.Options{})
	var got []audit.Finding
	for _, fd := range r.Findings {
		if fd.Rule == audit.RuleExpired {
			got = append(got, fd)
		}
	}
	if len(got) != 1 || got[0].Member != "etcd2" || got[0].Breaks != audit.BreaksBoth {
		t.Errorf("want one VALID-EXPIRED on etcd2 breaking both ports, got:\n%s", reportText(r))
	}
}

// TestNoKubeadmAdviceOutsideKubeadm: no finding on a member of another
// distribution tells its user to run kubeadm; reissue findings name the
// distribution's own remedy.
func TestNoKubeadmAdviceOutsideKubeadm(t *testing.T) {
	for name, opts := range map[string]distro.Options{
		"kubespray": {OmitIP: "node2", ForeignCA: "node3"},
		"k3s":       {OmitIP: "node2", OwnPeerCA: "node3"},
		"openshift": {ForeignCA: "node2"},
		"etcdadm":   {OmitIP: "node2"},
	} {
		_, r := checkFixture(t, name, opts)
		for _, f := range r.Findings {
			if strings.Contains(f.Fix, "kubeadm") {
				t.Errorf("%s: %s tells a %s user to use kubeadm: %s", name, f.Rule, name, f.Fix)
			}
			if f.Fix == "" && f.Severity > audit.Info {
				t.Errorf("%s: %s has no fix", name, f.Rule)
			}
			// kubeadm's file names are not this distribution's.
			for _, kubeadmName := range []string{"server.crt", "peer.crt", "etcd/ca.crt", "apiserver-etcd-client.crt", "manifests/etcd.yaml"} {
				if strings.Contains(f.Fix, kubeadmName) && !strings.Contains(f.File, kubeadmName) {
					t.Errorf("%s: %s fix names kubeadm's %s: %s", name, f.Rule, kubeadmName, f.Fix)
				}
			}
		}
	}
	_, r := checkFixture(t, "kubespray", distro.Options{OmitIP: "node2"})
	for _, f := range r.Findings {
		if f.Rule == audit.RuleServerSAN && !strings.Contains(f.Fix, "On kubespray:") {
			t.Errorf("kubespray R4 fix %q does not name kubespray's remedy", f.Fix)
		}
	}
}
