package lifecycle_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// portReplace is the base port of TestReplaceMemberOnRunningCluster.
const portReplace = 29079

// TestReplaceMemberOnRunningCluster rebuilds a member of a running
// 3-member cluster under continuous writes: etcd-2 is stopped and its data
// and certificates destroyed; replace-member issues it fresh certificates
// from the CA; the cluster is told as the printed sequence says (member
// remove of the old ID read live with lifecycle.MemberList, member add
// --learner), etcd-2 starts afresh with --initial-cluster-state=existing
// and is promoted. Afterwards probe is clean over the three members, the
// replacement serves its new certificates, and every write the cluster
// acknowledged is readable through it.
func TestReplaceMemberOnRunningCluster(t *testing.T) {
	cl, out := startLoopback(t, 3, portReplace)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tlsCfg, err := cl.ClientTLS("etcd-1", pki.KindAPIServerClient)
	if err != nil {
		t.Fatal(err)
	}
	healthy := []string{cl.Config("etcd-1").AdvertiseClientURLs[0], cl.Config("etcd-3").AdvertiseClientURLs[0]}
	cli, err := local.NewClient(healthy, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	// A writer that keeps writing through the healthy members and records
	// what was acknowledged.
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("/replace/%05d", i)
			wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := cli.Put(wctx, key, "v")
			wcancel()
			if err == nil {
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// The node dies: etcd stopped, data and certificates gone.
	if err := cl.StopMember("etcd-2"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(local.DataDir(out, "etcd-2")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []pki.Kind{pki.KindServer, pki.KindPeer, pki.KindHealthcheckClient, pki.KindAPIServerClient} {
		os.Remove(certPath(out, "etcd-2", k))
		os.Remove(keyPath(out, "etcd-2", k))
	}
	os.Remove(certPath(out, "etcd-2", pki.KindCA))
	os.Remove(keyPath(out, "etcd-2", pki.KindCA))

	res, err := lifecycle.ReplaceMember(out, spec.Member{Name: "etcd-2"}, lifecycle.AddMemberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, out)
	// The old member's ID, read live as replace-member --endpoints does,
	// with etcd-1's healthcheck client.
	root1 := layout.MemberDir(out, "etcd-1")
	live, err := lifecycle.MemberList(ctx, healthy, layout.OnDisk(root1, layout.Kubeadm.CertPath(pki.KindCA)),
		layout.OnDisk(root1, layout.Kubeadm.CertPath(pki.KindHealthcheckClient)), layout.OnDisk(root1, layout.Kubeadm.KeyPath(pki.KindHealthcheckClient)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var oldID uint64
	for _, m := range live {
		if m.Name == "etcd-2" {
			oldID = m.ID
		}
	}
	if oldID == 0 {
		t.Fatalf("the running cluster does not list etcd-2: %+v", live)
	}
	if len(live) != 3 {
		t.Fatalf("member list: %+v", live)
	}
	if _, err := cli.MemberRemove(ctx, oldID); err != nil {
		t.Fatal(err)
	}
	m2, _ := res.Spec.Member("etcd-2")
	if got := res.Spec.PeerURL(m2); got != res.OldPeerURL {
		t.Errorf("replacement's peer URL %s, the old one's %s: the address did not change", got, res.OldPeerURL)
	}
	var added *clientv3.MemberAddResponse
	retry(t, 20*time.Second, "unhealthy cluster", func() error {
		added, err = cli.MemberAddAsLearner(ctx, []string{res.Spec.PeerURL(m2)})
		return err
	})
	if err := cl.RejoinMember(ctx, "etcd-2"); err != nil {
		t.Fatalf("starting the replacement: %v", err)
	}
	retry(t, 30*time.Second, "in sync with leader", func() error {
		_, err := cli.MemberPromote(ctx, added.Member.ID)
		return err
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Every acknowledged write, read through the replacement.
	tls2, err := cl.ClientTLS("etcd-2", pki.KindAPIServerClient)
	if err != nil {
		t.Fatal(err)
	}
	cli2, err := local.NewClient([]string{cl.Config("etcd-2").AdvertiseClientURLs[0]}, tls2)
	if err != nil {
		t.Fatal(err)
	}
	defer cli2.Close()
	var got *clientv3.GetResponse
	retry(t, 10*time.Second, "rpc not supported for learner", func() error {
		got, err = cli2.Get(ctx, "/replace/", clientv3.WithPrefix())
		return err
	})
	have := map[string]bool{}
	for _, kv := range got.Kvs {
		have[string(kv.Key)] = true
	}
	mu.Lock()
	for _, k := range acked {
		if !have[k] {
			t.Errorf("acknowledged write %s is not readable through the replacement", k)
		}
	}
	t.Logf("%d acknowledged writes, all readable through the replaced etcd-2", len(acked))
	mu.Unlock()
	if len(acked) == 0 {
		t.Error("no write was acknowledged")
	}
	r := probeClean(t, probeOptions(cl, out, layout.OnDisk(root1, layout.Kubeadm.CertPath(pki.KindCA))))
	if len(r.Members) != 3 {
		t.Errorf("probe saw %d members, want 3", len(r.Members))
	}
	for _, e := range r.Endpoints {
		if e.Member == "etcd-2" && e.Served != nil {
			fresh := false
			for _, is := range res.Issued {
				fresh = fresh || is.Fingerprint == e.Served.Fingerprint
			}
			if !fresh {
				t.Errorf("%s serves %s, not a certificate replace-member issued", e.URL, e.Served.Serial)
			}
		}
	}
	if err := cl.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
