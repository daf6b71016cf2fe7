package distro

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// KubeadmNodes turns init's output out (kubeadm layout) into kubeadm
// control-plane nodes as kubeadm leaves them: each member's tree gets the
// etcd static pod (/etc/kubernetes/manifests/etcd.yaml) that etcdpki flags
// renders for it, which is what kubeadm's phases/etcd writes, so that the
// tree is read through its manifest, as check reads a node. With move set,
// each tree is moved out of out to <dir>/<member> (no cluster.yaml next to
// it); otherwise it stays in place. It returns the trees in member order.
func KubeadmNodes(t testing.TB, out, dir string, move bool) []string {
	t.Helper()
	c, err := spec.Load(layout.SpecFile(out))
	if err != nil {
		t.Fatal(err)
	}
	var trees []string
	for _, m := range c.Members {
		conf, err := render.ForMember(c, m.Name, render.Options{})
		if err != nil {
			t.Fatal(err)
		}
		manifest, err := conf.Manifest(c, "")
		if err != nil {
			t.Fatal(err)
		}
		tree := layout.MemberDir(out, m.Name)
		if move {
			dst := filepath.Join(dir, m.Name)
			if err := os.Rename(tree, dst); err != nil {
				t.Fatal(err)
			}
			tree = dst
		}
		if err := layout.WriteFile(filepath.Join(tree, "etc/kubernetes/manifests/etcd.yaml"), manifest, 0o600); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, tree)
	}
	return trees
}
