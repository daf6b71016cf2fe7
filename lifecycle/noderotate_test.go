package lifecycle_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/spec"
)

// The rotation's crash and re-run cases on node trees, offline (their
// addresses are 10.0.0.x, never dialed): the live gates are proven in
// TestRotateNodesOnRunningCluster.

func loadNodes(t *testing.T, dirs []string) []*member.Member {
	t.Helper()
	ms, err := member.LoadDirs(dirs, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

var offline = lifecycle.RotateOptions{Offline: true}

func stageReissue(t *testing.T, dirs []string) {
	t.Helper()
	if _, err := lifecycle.StageNodes(loadNodes(t, dirs), offline); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.ReissueNodes(t.Context(), loadNodes(t, dirs), offline); err != nil {
		t.Fatal(err)
	}
}

func assertRotationOver(t *testing.T, dirs []string) {
	t.Helper()
	st, err := lifecycle.StatusNodes(t.Context(), loadNodes(t, dirs), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.InProgress {
		t.Errorf("rotation still in progress: %s", st.Advice)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "var/lib/etcdpki/ca-next")); err == nil {
			t.Errorf("%s still has ca-next", d)
		}
	}
	checkClean(t, dirs...)
}

// TestFinalizeNodesKilledBeforeRemovingNext: a finalize killed after a
// node's CA files were written and before its ca-next was removed is
// completed by the next finalize, and the rotation ends.
func TestFinalizeNodesKilledBeforeRemovingNext(t *testing.T) {
	dirs := distro.KubeadmNodes(t, threeMembers(t), t.TempDir(), true)
	stageReissue(t, dirs)
	next := filepath.Join(dirs[0], "var/lib/etcdpki/ca-next")
	save := filepath.Join(t.TempDir(), "ca-next")
	if out, err := exec.Command("cp", "-a", next, save).CombinedOutput(); err != nil {
		t.Fatal(string(out))
	}
	if _, err := lifecycle.FinalizeNodes(t.Context(), loadNodes(t, dirs), offline); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", save, next).CombinedOutput(); err != nil {
		t.Fatal(string(out))
	}
	if _, err := lifecycle.FinalizeNodes(t.Context(), loadNodes(t, dirs), offline); err != nil {
		t.Fatalf("finalize again: %v", err)
	}
	assertRotationOver(t, dirs)
}

// TestStageNodesAgainAfterPartialFinalize: stage run again after one
// member was finalized leaves that member alone (no ca-next back), and
// the rotation ends when the others are finalized.
func TestStageNodesAgainAfterPartialFinalize(t *testing.T) {
	dirs := distro.KubeadmNodes(t, threeMembers(t), t.TempDir(), true)
	stageReissue(t, dirs)
	if _, err := lifecycle.FinalizeNodes(t.Context(), loadNodes(t, dirs)[:1], offline); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.StageNodes(loadNodes(t, dirs), offline); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.FinalizeNodes(t.Context(), loadNodes(t, dirs), offline); err != nil {
		t.Fatal(err)
	}
	assertRotationOver(t, dirs)
}

// TestStageNodesKilledBetweenCAFiles: a node whose peer port trusts a file
// of its own (same CA) and whose kube-apiserver has its own --etcd-cafile
// copy: a stage killed after etcd/ca.crt and before those is completed by
// the next stage (not refused as "two CAs", not skipped), reissue refuses
// until then, and finalize brings every copy to the new CA.
func TestStageNodesKilledBetweenCAFiles(t *testing.T) {
	dirs := distro.KubeadmNodes(t, threeMembers(t), t.TempDir(), true)
	const peerCA, apiCA = "etc/kubernetes/pki/etcd/peer-ca.crt", "etc/kubernetes/pki/etcd-ca.crt"
	for _, d := range dirs {
		ca, err := os.ReadFile(filepath.Join(d, "etc/kubernetes/pki/etcd/ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{peerCA, apiCA} {
			if err := layout.WriteFile(filepath.Join(d, p), ca, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		mf := filepath.Join(d, "etc/kubernetes/manifests/etcd.yaml")
		data, err := os.ReadFile(mf)
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.Replace(string(data), "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt", "--peer-trusted-ca-file=/"+peerCA, 1))
		if err := layout.WriteFile(mf, data, 0o600); err != nil {
			t.Fatal(err)
		}
		apiserver := "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.34.4\n    command:\n    - kube-apiserver\n    - --etcd-cafile=/" + apiCA + "\n    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt\n    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key\n    - --etcd-servers=https://127.0.0.1:2379\n"
		if err := layout.WriteFile(filepath.Join(d, "etc/kubernetes/manifests/kube-apiserver.yaml"), []byte(apiserver), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if ms := loadNodes(t, dirs); ms[0].APIServerCA == nil || ms[0].PeerCA == ms[0].CA {
		t.Fatal("the fixture's peer and kube-apiserver CA files are not read as files of their own")
	}
	if _, err := lifecycle.StageNodes(loadNodes(t, dirs), offline); err != nil {
		t.Fatal(err)
	}
	// cp1's stage "killed" after etcd/ca.crt: its other copies back to the
	// old CA (from the backup).
	d := dirs[0]
	for _, p := range []string{peerCA, apiCA} {
		b, err := filepath.Glob(filepath.Join(d, "var/lib/etcdpki/backups/*", p))
		if err != nil || len(b) != 1 {
			t.Fatalf("backup of %s: %v %v", p, b, err)
		}
		old, err := os.ReadFile(b[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := layout.WriteFile(filepath.Join(d, p), old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := lifecycle.ReissueNodes(t.Context(), loadNodes(t, dirs), offline)
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Detail, "stage was interrupted") {
		t.Fatalf("reissue with cp1's CA files at two stages: %v, want a refusal", err)
	}
	if _, err := lifecycle.StageNodes(loadNodes(t, dirs), offline); err != nil {
		t.Fatalf("stage again: %v", err)
	}
	for _, p := range []string{peerCA, apiCA} {
		got, err := os.ReadFile(filepath.Join(d, p))
		if err != nil || strings.Count(string(got), "BEGIN CERTIFICATE") != 2 {
			t.Errorf("%s after stage again: %v, want the bundle of two", p, err)
		}
	}
	if _, err := lifecycle.ReissueNodes(t.Context(), loadNodes(t, dirs), offline); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.FinalizeNodes(t.Context(), loadNodes(t, dirs), offline); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(d, "etc/kubernetes/pki/etcd/ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{peerCA, apiCA} {
		if got, _ := os.ReadFile(filepath.Join(d, p)); string(got) != string(ca) {
			t.Errorf("after finalize %s is not the new CA alone", p)
		}
	}
	assertRotationOver(t, dirs)
}

// TestStageNodesRefusesPartOfTheCluster: the first stage makes the new CA
// once for every member, so it is refused on trees that leave a member of
// their --initial-cluster out (node by node, each would get its own CA).
func TestStageNodesRefusesPartOfTheCluster(t *testing.T) {
	dirs := distro.KubeadmNodes(t, threeMembers(t), t.TempDir(), true)
	before := nodeSnapshot(t, dirs[0])
	_, err := lifecycle.StageNodes(loadNodes(t, dirs[:1]), offline)
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Detail, "cp2, cp3") {
		t.Fatalf("stage of cp1 alone: %v, want a refusal naming cp2 and cp3", err)
	}
	if ch := changed(before, nodeSnapshot(t, dirs[0])); len(ch) > 0 {
		t.Errorf("a refused stage changed %v", ch)
	}
	// Once cp1 has the rotation's ca-next (staged with the others),
	// stage on cp1 alone goes on with that CA.
	if _, err := lifecycle.StageNodes(loadNodes(t, dirs[1:]), offline); err == nil {
		t.Fatal("stage of cp2 and cp3 without cp1 was accepted")
	}
	res, err := lifecycle.StageNodes(loadNodes(t, dirs), offline)
	if err != nil {
		t.Fatal(err)
	}
	again, err := lifecycle.StageNodes(loadNodes(t, dirs[:1]), offline)
	if err != nil {
		t.Fatalf("stage of cp1 alone with ca-next there: %v", err)
	}
	if again.NewCA != res.NewCA || again.CreatedCA {
		t.Errorf("stage of cp1 alone made another CA")
	}
}

// TestReplaceMemberUsesAdvertisedAddress: a member that moved and was
// renewed in place has its old address first in its certificate; the
// cluster replace-member prints (--initial-cluster) has it at the address
// it advertises.
func TestReplaceMemberUsesAdvertisedAddress(t *testing.T) {
	dirs := distro.KubeadmNodes(t, threeMembers(t), t.TempDir(), true)
	mf := filepath.Join(dirs[1], "etc/kubernetes/manifests/etcd.yaml")
	data, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.WriteFile(mf, []byte(strings.ReplaceAll(string(data), "10.0.0.12", "10.0.0.92")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.RenewMember(loadNode(t, dirs[1]), lifecycle.RenewOptions{}); err != nil {
		t.Fatal(err)
	}
	ms := loadNodes(t, dirs[:2])
	res, err := lifecycle.ReplaceMemberFromNodes(ms, spec.Member{Name: "cp3"}, t.TempDir(), lifecycle.AddMemberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := res.Spec.Member("cp2")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Spec.PeerURL(m); got != "https://10.0.0.92:2380" {
		t.Errorf("cp2's peer URL %s, want the advertised https://10.0.0.92:2380", got)
	}
}

// TestReplaceMemberBadInitialCluster: an --initial-cluster entry without
// a scheme for the replaced member is refused, not a panic.
func TestReplaceMemberBadInitialCluster(t *testing.T) {
	dirs := distro.KubeadmNodes(t, threeMembers(t), t.TempDir(), true)
	mf := filepath.Join(dirs[0], "etc/kubernetes/manifests/etcd.yaml")
	data, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.WriteFile(mf, []byte(strings.ReplaceAll(string(data), "cp3=https://10.0.0.13:2380", "cp3=10.0.0.13:2380")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = lifecycle.ReplaceMemberFromNodes(loadNodes(t, dirs[:1]), spec.Member{Name: "cp3"}, t.TempDir(), lifecycle.AddMemberOptions{})
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Detail, "10.0.0.13:2380") || !strings.Contains(re.Detail, "has no host") {
		t.Fatalf("replace-member with a URL without scheme: %v, want the refusal naming the entry", err)
	}
}
