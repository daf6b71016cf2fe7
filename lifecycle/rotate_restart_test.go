package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
)

// portRotateRestarts is the base port of TestRotateCARestarts.
const portRotateRestarts = 28779

// TestRotateCARestarts rotates the CA of a running 3-member cluster as an
// operator who skips restarts would, and shows that the defaults do not
// let that break the cluster: reissue is refused, one line per member,
// until every member has been restarted after stage (status --live names
// exactly those not yet restarted); finalize is refused while a member is
// down; after the last finalize status --live names every member that
// still trusts the old CA, the list shrinking with each restart, and
// forgets the old CA once it is empty.
func TestRotateCARestarts(t *testing.T) {
	t.Parallel()
	cl, out := startLoopback(t, 3, portRotateRestarts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	members := cl.Members()
	oldFP := pki.Fingerprint(readCert(t, filepath.Join(out, "ca", "ca.crt")))
	restart := func(m string) {
		t.Helper()
		if err := cl.RestartMember(ctx, m); err != nil {
			t.Fatalf("restarting %s: %v", m, err)
		}
	}
	// wantRestart checks that status --live names exactly want as
	// needing a restart, and nobody as unreachable.
	wantRestart := func(phase string, want ...string) *lifecycle.RotationStatus {
		t.Helper()
		st, err := lifecycle.StatusLive(ctx, out, 0)
		if err != nil {
			t.Fatalf("%s: status --live: %v", phase, err)
		}
		next := lifecycle.StepRestart
		if len(want) == 0 {
			next = st.Next // whatever the files say
		}
		var text strings.Builder
		if err := st.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		t.Logf("status --live %s:\n%s", phase, text.String())
		// The advice names them, and no one else.
		names := "restart " + strings.Join(want, ", ")
		named := strings.HasPrefix(st.Advice, names+" (") || strings.HasPrefix(st.Advice, names+", one at a time (")
		if strings.Join(st.Restart, " ") != strings.Join(want, " ") || len(st.Unreachable) > 0 || st.Next != next || (len(want) > 0 && !named) {
			t.Errorf("%s: restart %v, unreachable %v, next %s; want restart %v", phase, st.Restart, st.Unreachable, st.Next, want)
		}
		return st
	}
	// refusal returns the lines of a step's refusal, after its header.
	refusal := func(step string, err error, header string) []string {
		t.Helper()
		var re *lifecycle.RefusedError
		if !errors.As(err, &re) {
			t.Fatalf("%s: got %v, want a refusal", step, err)
		}
		t.Logf("%s: %v", step, err)
		lines := strings.Split(re.Detail, "\n")
		if lines[0] != header+":" {
			t.Errorf("%s: refusal starts %q, want %q", step, lines[0], header+":")
		}
		return lines[1:]
	}
	// pkiFiles reads every file of the PKI: the cluster's data directories
	// (local's <out>/data) change as it runs.
	pkiFiles := func() map[string]string { return snapshot(t, out, "data") }
	unchanged := func(step string, before map[string]string) {
		t.Helper()
		if c := changed(before, pkiFiles()); len(c) > 0 {
			t.Errorf("the refused %s changed %v", step, c)
		}
	}
	stale := func(m string) string {
		return "  " + m + ": still trusts only the old CA on both ports — restart it (etcd reads --trusted-ca-file and --peer-trusted-ca-file only at start)"
	}

	// Stage every member's files; restart none. Reissue would make every
	// member present certificates its peers refuse: it is refused, each
	// member named once, and writes nothing.
	if _, err := lifecycle.Stage(out, lifecycle.RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := pkiFiles()
	_, err := lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{})
	got := refusal("reissue before restarts", err, "the running cluster is not ready for new-CA leaves")
	want := []string{stale("etcd-1"), stale("etcd-2"), stale("etcd-3")}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reissue before restarts refused with\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	unchanged("reissue", before)
	wantRestart("after stage", members...)

	// One member restarted: it is off both lists.
	restart(members[0])
	wantRestart("after stage, etcd-1 restarted", members[1:]...)
	_, err = lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{})
	if got := refusal("reissue with etcd-1 restarted", err, "the running cluster is not ready for new-CA leaves"); strings.Join(got, "\n") != strings.Join(want[1:], "\n") {
		t.Errorf("reissue with etcd-1 restarted refused with\n%s", strings.Join(got, "\n"))
	}
	for _, m := range members[1:] {
		restart(m)
	}
	if st := wantRestart("after stage and every restart"); st.Next != lifecycle.StepReissue {
		t.Errorf("after stage and every restart: next %s (%s)", st.Next, st.Advice)
	}
	if _, err := lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A member down: finalize cannot know it serves the new leaves, and
	// refuses, naming it alone.
	if err := cl.StopMember(members[2]); err != nil {
		t.Fatal(err)
	}
	before = pkiFiles()
	_, err = lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Members: members[:1]})
	got = refusal("finalize with etcd-3 down", err, "the running cluster is not ready to trust only the new CA")
	if len(got) != 1 || !strings.HasPrefix(got[0], "  etcd-3: unreachable (https://127.0.0.3:28779, https://127.0.0.3:28780: ") {
		t.Errorf("finalize with etcd-3 down refused with\n%s", strings.Join(got, "\n"))
	}
	unchanged("finalize", before)
	restart(members[2])
	res, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{})
	if err != nil || !res.Promoted || res.Unchecked {
		t.Fatalf("finalize: %+v, %v", res, err)
	}

	// After the last finalize, the files say the rotation is over, but no
	// member has been restarted: offline, status says it cannot tell;
	// live, it names each of them, until each is restarted.
	st, err := lifecycle.Status(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Next != lifecycle.StepRestart || st.Retired != oldFP || !strings.Contains(st.Advice, "unconfirmed: etcd-1, etcd-2, etcd-3") {
		t.Errorf("offline status after finalize: next %s, retired %q (%s)", st.Next, st.Retired, st.Advice)
	}
	wantRestart("after finalize", members...)
	for i, m := range members {
		restart(m)
		st := wantRestart("after finalize, "+m+" restarted", members[i+1:]...)
		if last := i == len(members)-1; last != (st.ForgotRetired != "") {
			t.Errorf("after finalize, %s restarted: forgot %q, retired %q", m, st.ForgotRetired, st.Retired)
		}
	}
	if _, err := os.Lstat(lifecycle.RetiredCADir(out)); !os.IsNotExist(err) {
		t.Errorf("the old CA is still kept after every restart: %v", err)
	}
	// Forgotten for good: the next status has nothing to check it for.
	st, err = lifecycle.StatusLive(ctx, out, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retired != "" || st.ForgotRetired != "" || st.Next != lifecycle.StepStage || len(st.Running) != 3 {
		t.Errorf("status --live once more: retired %q, forgot %q, next %s, %d running", st.Retired, st.ForgotRetired, st.Next, len(st.Running))
	}
	for _, m := range st.Running {
		if m.Problem != "" || m.Client.Served != "new" || m.Peer.AcceptsOld {
			t.Errorf("%s: %+v", m.Member, m)
		}
	}
	if err := cl.Verify(ctx); err != nil {
		t.Error(err)
	}
}
