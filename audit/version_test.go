package audit_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/render"
)

// TestEtcdVersionFlags holds each member's command line to the etcd
// version its static pod's image runs: flags rendered for etcd 3.6 under a
// 3.5 image, and 3.5's experimental flags under a 3.7 image, are flagged
// with the spelling that version knows; a manifest that matches its image
// (kubeadm 1.33's, etcd 3.5.24) is clean; without an image tag the version
// comes from --etcd-version.
func TestEtcdVersionFlags(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	target := func(opts render.Options) render.Target {
		tg, err := render.ResolveTarget(opts)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	versionFindings := func(opts audit.Options) map[string][]string {
		t.Helper()
		opts.Now = c.Now
		r, err := audit.CheckDirs([]string{c.Dir}, opts)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, f := range r.Findings {
			if f.Rule == audit.RuleEtcdVersionFlag {
				got[f.Member] = append(got[f.Member], f.Detail)
			}
		}
		return got
	}
	if got := versionFindings(audit.Options{}); len(got) != 0 {
		t.Fatalf("kubeadm 1.34's manifests (etcd 3.6.5): %q, want none", got)
	}

	// cp1: kubeadm 1.33's manifest for etcd 3.5.24, as it is: clean.
	c.WriteSettings("cp1", func(cfg *render.Config) { cfg.Target = target(render.Options{KubernetesVersion: "1.33"}) })
	// cp2: 3.6's flags, but the image was pinned back to 3.5.
	c.WriteSettings("cp2", func(cfg *render.Config) { cfg.Target.ImageTag = "3.5.24-0" })
	// cp3: 3.5's experimental flags under etcd 3.7, which removed them.
	c.WriteSettings("cp3", func(cfg *render.Config) {
		cfg.Target = target(render.Options{EtcdVersion: "3.5"})
		cfg.Target.ImageTag = "3.7.3-0"
	})
	got := versionFindings(audit.Options{})
	if len(got["cp1"]) != 0 {
		t.Errorf("cp1 (etcd 3.5 flags, 3.5 image): %q, want none", got["cp1"])
	}
	wantDetails := map[string][]string{
		"cp2": {`etcd 3.5.24 \(.*etcd.yaml:\d+ \(image registry\.k8s\.io/etcd:3\.5\.24-0\)\) does not define --feature-gates .*flag provided but not defined: -feature-gates.*spells it --experimental-initial-corrupt-check=true`,
			`does not define --watch-progress-notify-interval .*spells it --experimental-watch-progress-notify-interval`},
		"cp3": {`etcd 3\.7\.3 .* does not define --experimental-initial-corrupt-check .*spells it --feature-gates=InitialCorruptCheck=true`,
			`does not define --experimental-watch-progress-notify-interval .*spells it --watch-progress-notify-interval`},
	}
	for m, res := range wantDetails {
		if len(got[m]) != len(res) {
			t.Errorf("%s: %d findings %q, want %d", m, len(got[m]), got[m], len(res))
			continue
		}
		for i, re := range res {
			if !regexp.MustCompile(re).MatchString(got[m][i]) {
				t.Errorf("%s finding %d = %q\nwant match for %s", m, i, got[m][i], re)
			}
		}
	}

	// No version tag in the image: the member's version comes from
	// --etcd-version (here 3.5, so cp2's 3.6 flags are judged again).
	p := c.ManifestPath("cp2")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data = regexp.MustCompile(`image: .*`).ReplaceAll(data, []byte("image: registry.k8s.io/etcd@sha256:5e1cd31c5ea0e7b1d4f7a9f3c0b5a2b9d6e8f0a1c2d3e4f5a6b7c8d9e0f1a2b3"))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := versionFindings(audit.Options{}); len(got["cp2"]) != 0 {
		t.Errorf("cp2 without a version tag and no --etcd-version: %q, want none", got["cp2"])
	}
	got = versionFindings(audit.Options{EtcdVersion: "3.5"})
	if len(got["cp2"]) != 2 || !strings.Contains(got["cp2"][0], "(--etcd-version)") {
		t.Errorf("cp2 with --etcd-version 3.5: %q, want the two 3.6 flags, judged by --etcd-version", got["cp2"])
	}
}
