package local

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// portMembers is this test's base port, in the range of package
// lifecycle's tests (28xxx), which drive AddMember and RestartMember on
// running clusters.
const portMembers = 28679

// TestStopRestartMember stops one member of three: the other two keep a
// quorum and serve; restarted, the member rejoins from its data directory
// and the whole cluster verifies again. A member the cluster was not told
// about (no MemberAdd) cannot join: etcd compares the --initial-cluster of
// a joining member with the cluster's membership.
func TestStopRestartMember(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a 3-member etcd cluster")
	}
	c, out := initLoopback(t, 3, portMembers, pki.ECDSAP256, false)
	cl := startFromDir(t, c, out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := cl.StopMember("etcd-2"); err != nil {
		t.Fatal(err)
	}
	if cl.Etcd("etcd-2") != nil {
		t.Error("a stopped member still has its etcd")
	}
	if err := cl.StopMember("etcd-2"); err != nil {
		t.Errorf("stopping a stopped member: %v", err)
	}
	tlsCfg, err := cl.ClientTLS("etcd-1", pki.KindAPIServerClient)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewClient([]string{cl.Config("etcd-1").AdvertiseClientURLs[0]}, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "/while/etcd-2/is/down", "x"); err != nil {
		t.Fatalf("two of three members must keep a quorum: %v", err)
	}
	start := time.Now()
	if err := cl.RestartMember(ctx, "etcd-2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd-2 restarted in %s", time.Since(start).Round(time.Millisecond))
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}

	// etcd-4's files exist, but the cluster was not told about it.
	c4 := *c
	c4.Members = append(append([]spec.Member{}, c.Members...), spec.Member{Name: "etcd-4", IPs: []string{"127.0.0.4"}})
	if _, err := layout.Init(&c4, out, layout.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	err = cl.AddMember(ctx, c4.Members[3])
	var be *BootError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "member count is unequal") {
		t.Errorf("starting an unannounced member: got %v, want etcd's member count is unequal", err)
	}
	if got := strings.Join(cl.Members(), ","); got != "etcd-1,etcd-2,etcd-3" {
		t.Errorf("members after a failed AddMember: %s", got)
	}
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
