package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testwriter"
	"github.com/etcdpki/etcdpki/local"
)

// portUpRotation is the base port of TestUpRotationWalk (members on
// 127.0.0.1-3).
const portUpRotation = 24879

// TestUpRotationWalk runs the README's CA rotation walk literally on an up
// cluster: the commands of the README (rotate-ca stage, status --live,
// reissue, finalize) on its --dir, and every restart through up's control
// socket ('etcdpki up restart MEMBER --dir DIR'), while a client writes
// continuously. Every acknowledged write is read back at the end; the
// longest pause between acknowledged writes and the rehearsal's time are
// reported.
func TestUpRotationWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster and restarts every member twice")
	}
	dir := filepath.Join(t.TempDir(), "pki")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := local.Start(ctx, local.Options{Dir: dir, Members: 3, ClientPort: portUpRotation, PeerPort: portUpRotation + 1, MetricsPort: portUpRotation + 2})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	stopControl, err := local.ServeControl(ctx, filepath.Join(dir, "control.sock"), cl)
	if err != nil {
		t.Fatal(err)
	}
	defer stopControl()
	etcdpki := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("etcdpki %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	members := cl.Members()

	start := time.Now()
	etcdpki("rotate-ca", "stage", "--dir", dir)
	// The client, configured after stage as kube-apiserver restarted with
	// its member is: the bundle old+new read once, its client certificate
	// read from its files on every handshake. Each write waits at most the
	// writer's default second: one sent to a member as it stops can hang
	// until then, and a longer wait would be most of the gap measured.
	w := &testwriter.Writer{Cli: testwriter.RotatingClient(t, cl.Endpoints(), dir, "etcd-1", 2), Prefix: "/uprotate/"}
	wctx, wstop := context.WithCancel(ctx)
	wdone := make(chan struct{})
	go w.Run(wctx, wdone)
	defer func() { wstop(); <-wdone }()
	time.Sleep(200 * time.Millisecond)

	restartAll := func(phase string) {
		for _, m := range members {
			w.SetPhase(phase + ": restart " + m)
			out := etcdpki("up", "restart", m, "--dir", dir)
			if !strings.HasPrefix(out, "restart "+m+": done in ") {
				t.Errorf("up restart %s: %s", m, out)
			}
		}
	}
	restartAll("after stage")
	if st := etcdpki("rotate-ca", "status", "--dir", dir, "--live"); !strings.Contains(st, "next: reissue") {
		t.Errorf("status --live after stage and restarts does not say reissue:\n%s", st)
	}
	w.SetPhase("reissue")
	etcdpki("rotate-ca", "reissue", "--dir", dir)
	w.SetPhase("finalize")
	etcdpki("rotate-ca", "finalize", "--dir", dir)
	restartAll("after finalize")
	st := etcdpki("rotate-ca", "status", "--dir", dir, "--live")
	took := time.Since(start)
	if !strings.Contains(st, "forgot the retired CA") {
		t.Errorf("status --live after the last restart does not forget the old CA:\n%s", st)
	}
	time.Sleep(200 * time.Millisecond)
	wstop()
	<-wdone

	// Every acknowledged write reads back.
	res := w.Result()
	if res.Acked < 50 {
		t.Fatalf("only %d writes acknowledged", res.Acked)
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := w.CheckReadBack(rctx); err != nil {
		t.Error(err)
	}
	for _, s := range cl.Status(ctx) {
		if !s.Ready || s.Serving == nil || !strings.Contains(s.Serving.Issuer, "etcd-ca") {
			t.Errorf("%s after the rotation: %+v", s.Name, s)
		}
	}
	t.Logf("rotation rehearsal (stage, 3 restarts, reissue, finalize, 3 restarts) in %s; %d writes acknowledged, all read back, %d attempts failed; longest gap between acknowledged writes %s (%s)",
		took.Round(time.Millisecond), res.Acked, res.Failures, res.MaxGap.Round(time.Millisecond), res.GapAt)
	if res.MaxGap > 5*time.Second {
		t.Errorf("the longest gap between acknowledged writes is %s (%s)", res.MaxGap, res.GapAt)
	}
}
