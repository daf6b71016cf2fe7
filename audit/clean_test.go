package audit_test

import (
	"crypto/x509"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// TestInitChecksClean: what init writes passes every rule, for every key
// algorithm and every shape of cluster, whether the members' settings come
// from cluster.yaml, from their etcd manifests (or config files), or both;
// and whether check is given init's output directory or the members'
// directories one by one.
func TestInitChecksClean(t *testing.T) {
	variants := []struct {
		name string
		opts testca.Options
		// everyAlg runs the variant with every algorithm, not only the
		// fast ones: the key algorithm matters to parsing and signature
		// checks, which the kubeadm variant and the all-in-one variant
		// cover; the others differ in files and flags only.
		everyAlg bool
	}{
		{"kubeadm", testca.Options{}, true},
		{"etcd-layout", testca.Options{Layout: spec.LayoutEtcd}, false},
		{"split", testca.Options{Split: true}, false},
		{"external-ca", testca.Options{ExternalCA: true}, false},
		{"etcd-layout-split-external-ca", testca.Options{Layout: spec.LayoutEtcd, Split: true, ExternalCA: true}, true},
	}
	for _, alg := range pki.Algorithms() {
		// RSA-3072 and RSA-4096 keys take up to seconds each to generate.
		slow := alg == pki.RSA3072 || alg == pki.RSA4096
		for _, v := range variants {
			if slow && !v.everyAlg {
				continue
			}
			t.Run(string(alg)+"/"+v.name, func(t *testing.T) {
				if slow && testing.Short() && v.name != "kubeadm" {
					t.Skip("slow key generation; run without -short")
				}
				t.Parallel()
				opts := v.opts
				opts.Algorithm = alg
				c := testca.New(t, opts)
				// Settings from cluster.yaml first, then from each
				// member's etcd manifest (or config file), then from those
				// alone when the members' directories are given one by
				// one (without settings or a spec, that would rightly draw
				// INPUT-INFERRED).
				var dirs []string
				for _, m := range c.Names() {
					dirs = append(dirs, c.MemberDir(m))
				}
				steps := []struct {
					what, nameFrom string
					dirs           []string
				}{
					{"init output", "spec", []string{c.Dir}},
					{"init output with manifests", settingsKind(c), []string{c.Dir}},
					{"member dirs with manifests", settingsKind(c), dirs},
				}
				for i, step := range steps {
					if i == 1 {
						for _, m := range c.Names() {
							c.WriteSettings(m, nil)
						}
					}
					r, err := audit.CheckDirs(step.dirs, audit.Options{Now: c.Now})
					if err != nil {
						t.Fatal(err)
					}
					if len(r.Findings) != 0 || !r.Verdict.ClusterForms || !r.Verdict.ClientsConnect {
						t.Errorf("%s: want no findings and a passing verdict, got %s\n%s", step.what, r.Verdict.Summary, findings(r))
					}
					if len(r.Members) != 3 {
						t.Errorf("%s: checked %d members, want 3", step.what, len(r.Members))
					}
					for _, m := range r.Members {
						if m.NameFrom != step.nameFrom {
							t.Errorf("%s: member %s named from %q, want %q", step.what, m.Name, m.NameFrom, step.nameFrom)
						}
						if want := len(pki.LeafKinds(c.Spec.SplitCredentials)) + 1; len(m.Files) != want {
							t.Errorf("%s: member %s: %d files read, want %d: %v", step.what, m.Name, len(m.Files), want, m.Files)
						}
					}
				}
			})
		}
	}
}

// settingsKind is where a member's name comes from when testca writes its
// settings.
func settingsKind(c *testca.Cluster) string {
	if c.Spec.Layout == spec.LayoutEtcd {
		return "config file"
	}
	return "manifest"
}

// TestLegacyMastersClientClean: kubeadm before 1.29, and etcdpki before
// it followed, issued apiserver-etcd-client (and kubeadm the health-check
// client) with O=system:masters. etcd ignores O, so such a PKI is as
// clean as today's CN-only one: check reports nothing about the subject.
func TestLegacyMastersClientClean(t *testing.T) {
	c := testca.New(t, testca.Options{})
	masters := func(cert *x509.Certificate) { cert.Subject.Organization = []string{"system:masters"} }
	for _, m := range c.Names() {
		c.Reissue(m, pki.KindAPIServerClient, masters)
		c.Reissue(m, pki.KindHealthcheckClient, masters)
	}
	r, err := audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 || !r.Verdict.ClusterForms || !r.Verdict.ClientsConnect {
		t.Errorf("want no findings and a passing verdict, got %s\n%s", r.Verdict.Summary, findings(r))
	}
}
