package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// portRotateNodes is the base port of TestRotateNodesOnRunningCluster.
const portRotateNodes = 29179

// TestRotateNodesOnRunningCluster rotates the CA of a running 3-member
// cluster across its members' node trees (each read through its kubeadm
// manifest, as check reads it; no init output involved), with the live
// gates on: reissue is refused, one line per member, until every member
// was restarted after stage; finalize is refused while a member is down;
// after finalize status --live names the members still to restart, and
// forgets the retired CA once all were. The cluster works throughout, and
// at the end every member trusts the new CA only and check is clean.
func TestRotateNodesOnRunningCluster(t *testing.T) {
	cl, out := startLoopback(t, 3, portRotateNodes)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dirs := distro.KubeadmNodes(t, out, "", false)
	var err error
	load := func() []*member.Member {
		ms, err := member.LoadDirs(dirs, nil, member.DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	restart := func(name string) {
		t.Helper()
		if err := cl.RestartMember(ctx, name); err != nil {
			t.Fatalf("restarting %s: %v", name, err)
		}
	}
	verify := func(when string) {
		t.Helper()
		if err := cl.Verify(ctx); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	opts := lifecycle.RotateOptions{LiveTimeout: 2 * time.Second}

	if _, err := lifecycle.StageNodes(load(), opts); err != nil {
		t.Fatal(err)
	}
	verify("after stage")
	// No member restarted: reissue would break the cluster, and is
	// refused with one line per member.
	_, err = lifecycle.ReissueNodes(ctx, load(), opts)
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || strings.Count(re.Detail, "\n  etcd-") != 3 || !strings.Contains(re.Detail, "restart it") {
		t.Fatalf("reissue before any restart: %v, want a refusal naming the three members", err)
	}
	restart("etcd-1")
	st, err := lifecycle.StatusNodes(ctx, load(), true, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Restart, []string{"etcd-2", "etcd-3"}) {
		t.Errorf("after etcd-1's restart, status --live says restart %v, want etcd-2 and etcd-3", st.Restart)
	}
	restart("etcd-2")
	restart("etcd-3")
	verify("after the restarts")
	res, err := lifecycle.ReissueNodes(ctx, load(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Members {
		if len(m.Issued) != 4 {
			t.Errorf("%s: reissued %d certificates, want 4", m.Member, len(m.Issued))
		}
	}
	verify("after reissue")

	if err := cl.StopMember("etcd-3"); err != nil {
		t.Fatal(err)
	}
	_, err = lifecycle.FinalizeNodes(ctx, load(), opts)
	if !errors.As(err, &re) || !strings.Contains(re.Detail, "etcd-3: unreachable") || strings.Count(re.Detail, "\n  ") != 1 {
		t.Fatalf("finalize with etcd-3 down: %v, want a refusal naming etcd-3 alone", err)
	}
	restart("etcd-3")
	if _, err := lifecycle.FinalizeNodes(ctx, load(), opts); err != nil {
		t.Fatal(err)
	}
	verify("after finalize")
	st, err = lifecycle.StatusNodes(ctx, load(), true, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Restart, []string{"etcd-1", "etcd-2", "etcd-3"}) || len(st.Forgot) != 0 {
		t.Errorf("after finalize, status --live: restart %v, forgot %v; want all three to restart", st.Restart, st.Forgot)
	}
	for i, name := range []string{"etcd-1", "etcd-2", "etcd-3"} {
		restart(name)
		st, err = lifecycle.StatusNodes(ctx, load(), true, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("after %s's restart: restart %v, forgot %v: %s", name, st.Restart, st.Forgot, st.Advice)
		if want := []string{"etcd-1", "etcd-2", "etcd-3"}[i+1:]; !slices.Equal(st.Restart, want) && !(len(want) == 0 && st.Restart == nil) {
			t.Errorf("after %s's restart, restart %v, want %v", name, st.Restart, want)
		}
	}
	if len(st.Retired) != 0 {
		t.Errorf("the retired CA is still kept on %v", st.Retired)
	}
	// Every member trusts the new CA alone now.
	ms := load()
	for _, m := range ms {
		if len(m.CA.Certs) != 1 || pki.Fingerprint(m.CA.Certs[0]) != res.NewCA {
			t.Errorf("%s trusts %d CAs, want the new one only", m.Name, len(m.CA.Certs))
		}
	}
	verify("at the end")
	checkClean(t, dirs...)
}
