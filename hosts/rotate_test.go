package hosts

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/lifecycle"
)

// TestRotateCAMemberCutOff runs a CA rotation's live check against a
// cluster one of whose members has been cut off the network (its link
// down). The live check must name that member's ports as unreachable
// (and Reissue with Live must refuse, writing nothing), while the other
// two keep quorum and serve every key written before and during the cut;
// reconnected, the member catches up and serves them too.
func TestRotateCAMemberCutOff(t *testing.T) {
	cl := startCluster(t, 7, 3)
	ctx := t.Context()
	out := cl.Dir()
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	var keys []string
	write := func(member, key string) {
		t.Helper()
		put(t, cl, member, key, "value of "+key)
		keys = append(keys, key)
	}
	for i := range 5 {
		write("etcd-1", fmt.Sprintf("/rotate-cut/before/%d", i))
	}

	const cut = "etcd-3"
	if err := cl.Disconnect(ctx, cut); err != nil {
		t.Fatal(err)
	}
	// Stage touches files only (etcd builds its trusted CA pools when it
	// starts), so it goes ahead with a member unreachable.
	if _, err := lifecycle.Stage(out, lifecycle.RotateOptions{}); err != nil {
		t.Fatalf("stage: %v", err)
	}

	// The live check dials every port of every member at once, each
	// handshake bounded by the timeout: the cut-off member, whose address
	// no longer answers ARP, costs one timeout and is reported with an
	// error, not taken for a member that is fine.
	const timeout = 500 * time.Millisecond
	start := time.Now()
	ports, err := lifecycle.CheckLive(ctx, out, timeout)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("live check took %s", took)
	if took > 4*timeout {
		t.Errorf("live check took %s with a %s timeout", took, timeout)
	}
	for _, p := range ports {
		t.Logf("%s %s %s: served=%q acceptsOld=%v acceptsNew=%v error=%q", p.Member, p.Port, p.URL, p.Served, p.AcceptsOld, p.AcceptsNew, p.Error)
		switch {
		case p.Member == cut && p.Error == "":
			t.Errorf("%s %s port (%s) was cut off but the live check reached it", p.Member, p.Port, p.URL)
		case p.Member != cut && (p.Error != "" || p.Served != "old" || !p.AcceptsOld):
			// Not yet restarted after stage, a member still serves and
			// accepts the old CA only.
			t.Errorf("%s %s port (%s): served %q, accepts old %v, error %q; want it reachable on the old CA",
				p.Member, p.Port, p.URL, p.Served, p.AcceptsOld, p.Error)
		}
	}

	// Reissue runs the same check first and refuses, one line per member,
	// naming the unreachable member's ports, before it writes anything.
	// The other two, not restarted since stage, are named for that.
	_, err = lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{LiveTimeout: timeout})
	var refused *lifecycle.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("reissue with a member cut off: %v, want a *lifecycle.RefusedError", err)
	}
	t.Log(err)
	if want := fmt.Sprintf("\n  %s: unreachable (%s", cut, portURL(cl, cut, "client")); !strings.Contains(refused.Detail, want) {
		t.Errorf("refusal does not say %q: %s", want, refused.Detail)
	}
	if want := portURL(cl, cut, "peer"); !strings.Contains(refused.Detail, want) {
		t.Errorf("refusal does not name %s's peer port %s: %s", cut, want, refused.Detail)
	}
	for _, m := range []string{"etcd-1", "etcd-2"} {
		if bad := fmt.Sprintf("\n  %s: unreachable", m); strings.Contains(refused.Detail, bad) {
			t.Errorf("refusal calls reachable %s unreachable: %s", m, refused.Detail)
		}
		if want := fmt.Sprintf("\n  %s: still trusts only the old CA on both ports", m); !strings.Contains(refused.Detail, want) {
			t.Errorf("refusal does not say %q: %s", want, refused.Detail)
		}
	}
	st, err := lifecycle.Status(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if m.Stage != lifecycle.StageStaged || len(m.NewLeaves) > 0 {
			t.Errorf("after the refused reissue %s is %s with new leaves %v, want staged with none", m.Name, m.Stage, m.NewLeaves)
		}
	}

	// The other two are a quorum: they serve every key written before the
	// cut, and then take new ones. Reads are linearizable (a ReadIndex
	// confirmed by a quorum), and get retries them: if the cut member was
	// the leader, they succeed once the other two have elected one, a
	// second or two later (raft's election timeout, 1 s by default, after
	// CheckQuorum and PreVote). Only then do the writes go: a proposal
	// forwarded to a leader that has been cut off is lost and its request
	// waits out its deadline.
	for _, m := range []string{"etcd-1", "etcd-2"} {
		for _, k := range keys {
			if got := get(t, cl, m, k, 10*time.Second); got != "value of "+k {
				t.Errorf("%s read %s = %q with %s cut off", m, k, got, cut)
			}
		}
	}
	during := len(keys)
	for i := range 3 {
		write("etcd-2", fmt.Sprintf("/rotate-cut/during/%d", i))
	}
	for _, k := range keys[during:] {
		if got := get(t, cl, "etcd-1", k, 5*time.Second); got != "value of "+k {
			t.Errorf("etcd-1 read %s = %q with %s cut off", k, got, cut)
		}
	}

	if err := cl.Reconnect(ctx, cut); err != nil {
		t.Fatal(err)
	}
	// A linearizable read through the reconnected member answers once it
	// has rejoined and caught up with the leader.
	for _, k := range keys {
		if got := get(t, cl, cut, k, 30*time.Second); got != "value of "+k {
			t.Errorf("%s read %s = %q after it rejoined", cut, k, got)
		}
	}
}

// portURL is member's client or peer URL as the live check dials it.
func portURL(cl *Cluster, member, port string) string {
	s := cl.Spec()
	for i := range s.Members {
		if m := &s.Members[i]; m.Name == member {
			if port == "peer" {
				return s.PeerURL(m)
			}
			return s.ClientURL(m)
		}
	}
	return ""
}
