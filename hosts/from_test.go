package hosts

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testbin"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/local"
	members "github.com/etcdpki/etcdpki/member"
)

// TestStartFromKubeadmTrees: kubeadm node trees with 10.0.0.11-13 in
// their certificates boot in hosts mode on the subnet's addresses (never
// 10.0.0.x), reaching each other by the member names their certificates
// have; every serving certificate verifies with the real addresses as the
// server name, a write reads back through every member, a member
// restarts, and the hosts' /etc files go with the network.
func TestStartFromKubeadmTrees(t *testing.T) {
	requireHosts(t)
	c := testca.New(t, testca.Options{Manifests: true})
	ms, err := members.LoadDirs([]string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}, nil, members.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := local.PlanFrom(ms, local.FromOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cl, err := StartFrom(ctx, plan, Options{Etcd: []string{testbin.Etcd(t)}, Subnet: subnet(8)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, fm := range cl.Plan() {
		if fm.PeerName != fm.Name || fm.Here == "" || fm.Here[:7] != "198.18." {
			t.Errorf("%s runs on %s as %q", fm.Name, fm.Here, fm.PeerName)
		}
	}
	for _, nc := range cl.VerifyNames(ctx) {
		if nc.Err != "" {
			t.Errorf("%s %s port as %s: %s", nc.Member, nc.Port, nc.Host, nc.Err)
		}
	}
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.RestartMember(ctx, "cp2"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range cl.Status(ctx) {
		if !s.Ready || s.Serving == nil {
			t.Errorf("%+v", s)
		}
	}
	etc := filepath.Join(netnsEtcDir, cl.Network().Hosts[0].Netns)
	if _, err := os.Stat(filepath.Join(etc, "hosts")); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(etc); !os.IsNotExist(err) {
		t.Errorf("%s outlives the network: %v", etc, err)
	}
}
