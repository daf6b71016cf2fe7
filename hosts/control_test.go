package hosts

import (
	"context"
	"testing"
	"time"
)

// TestMemberControl: a member's process is stopped and started again in
// its host, and restarted, with the cluster serving throughout on the
// others; Wait takes none of it for a failure, and Status says what each
// member does.
func TestMemberControl(t *testing.T) {
	cl := startCluster(t, 22, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	wctx, wstop := context.WithCancel(ctx)
	waitErr := make(chan error, 1)
	go func() { waitErr <- cl.Wait(wctx) }()

	pid := cl.PID("etcd-2")
	start := time.Now()
	if err := cl.RestartMember(ctx, "etcd-2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted etcd-2 in %s", time.Since(start).Round(time.Millisecond))
	if got := cl.PID("etcd-2"); got == pid || got == 0 {
		t.Errorf("etcd-2's process after the restart: pid %d (was %d)", got, pid)
	}
	if err := cl.StopMember("etcd-3"); err != nil {
		t.Fatal(err)
	}
	for _, s := range cl.Status(ctx) {
		if (s.Name == "etcd-3") == s.Running || (s.Running && (!s.Ready || s.Serving == nil)) {
			t.Errorf("with etcd-3 stopped: %+v", s)
		}
	}
	if err := cl.StartMember(ctx, "etcd-3"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	wstop()
	if err := <-waitErr; err != nil {
		t.Errorf("Wait took a deliberate stop for a failure: %v", err)
	}
}
