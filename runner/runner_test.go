package runner_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/runner"
)

// portKeep is TestStartKeepNotReady's base port (members on 127.0.0.1-3).
const portKeep = 29379

// TestStartKeepNotReady: a cluster that does not become ready comes back,
// with KeepNotReady, running and with its error; the caller's Close stops
// it and removes the temporary directory it ran in (before, Start dropped
// it, running, with nothing left to close it).
func TestStartKeepNotReady(t *testing.T) {
	if testing.Short() {
		t.Skip("boots etcd members")
	}
	cl, err := runner.Start(context.Background(), runner.Options{Members: 3, ClientPort: portKeep, PeerPort: portKeep + 1, MetricsPort: portKeep + 2,
		ReadyTimeout: 2 * time.Second, KeepNotReady: true,
		// Members of three different clusters: no quorum, never ready.
		Configure: func(rc *render.Config) { rc.InitialClusterToken = rc.Name }})
	var be *local.BootError
	if !errors.As(err, &be) || len(be.NotReady) == 0 || cl == nil {
		t.Fatalf("Start = %v, %v; want the cluster and a BootError naming members not ready", cl, err)
	}
	dir := cl.Dir()
	if _, err := os.Stat(dir); err != nil || !cl.Temporary() {
		t.Fatalf("the kept cluster's directory %s: %v (temporary %v)", dir, err, cl.Temporary())
	}
	if len(cl.Status(context.Background())) != 3 {
		t.Error("the kept cluster does not report its members")
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", dir, err)
	}
}

func TestUnknownMode(t *testing.T) {
	if _, err := runner.Start(context.Background(), runner.Options{Mode: "vm"}); !errors.Is(err, runner.ErrMode) {
		t.Errorf("Start with mode vm: %v, want ErrMode", err)
	}
}
