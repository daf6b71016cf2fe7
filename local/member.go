package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// AddMember starts m as a new member joining the running cluster, from
// its tree in the cluster's directory (Dir()/<m.Name>, as add-member writes
// it), and waits until it is ready. The cluster must already know it: call
// clientv3's MemberAdd or MemberAddAsLearner first, with m's peer URL.
//
// The member runs with --initial-cluster-state=existing and an
// --initial-cluster that lists every member, itself included: etcd
// fetches the membership from the peers (GetClusterFromRemotePeers) and
// refuses to start unless its --initial-cluster has as many members and
// the same peer URLs (ValidateClusterAndAssignIDs, "member count is
// unequal"). A learner becomes ready too (it publishes its attributes
// through the leader); it serves no client requests but Status until it
// is promoted.
func (cl *Cluster) AddMember(ctx context.Context, m spec.Member) error {
	cl.mu.Lock()
	c := *cl.spec
	c.Members = append(slices.Clone(c.Members), m)
	if err := c.Validate(); err != nil {
		cl.mu.Unlock()
		return err
	}
	// memberConfigs refuses a member that clashes with the data directory.
	if _, err := memberConfigs(cl.out, &c); err != nil {
		cl.mu.Unlock()
		return err
	}
	rc, err := render.ForMember(&c, m.Name, render.Options{Root: layout.MemberDir(cl.out, m.Name), DataDir: DataDir(cl.out, m.Name), Existing: true})
	if err != nil {
		cl.mu.Unlock()
		return err
	}
	if cl.opts.Configure != nil {
		cl.opts.Configure(rc)
	}
	if err := preflight([]*render.Config{rc}); err != nil {
		cl.mu.Unlock()
		return err
	}
	mem := &member{cfg: rc}
	cl.members = append(cl.members, mem)
	cl.spec = &c
	cl.mu.Unlock()
	if err := cl.startMember(ctx, mem); err != nil {
		cl.mu.Lock()
		cl.members = slices.DeleteFunc(cl.members, func(x *member) bool { return x == mem })
		cl.spec.Members = cl.spec.Members[:len(cl.spec.Members)-1]
		cl.mu.Unlock()
		return err
	}
	return nil
}

// StopMember stops member name as etcd stops on SIGTERM (etcdmain
// registers Etcd.Close as its interrupt handler): it stops serving
// clients, hands leadership to another voting member if it is the leader
// (EtcdServer.Stop, TryTransferLeadershipOnShutdown), stops raft with the
// WAL synced and closes its peer connections. The others keep a quorum if
// they have one without it. The member stays in the cluster, stopped,
// until RestartMember; stopping a stopped member does nothing.
func (cl *Cluster) StopMember(name string) error {
	cl.mu.Lock()
	m := cl.member(name)
	if m == nil {
		cl.mu.Unlock()
		return fmt.Errorf("no member %q", name)
	}
	e := m.etcd
	m.etcd = nil
	cl.noteChange()
	cl.mu.Unlock()
	if e == nil {
		return nil
	}
	select {
	case <-e.Server.ReadyNotify():
	default:
		// Close would wait forever for the client servers of a member
		// that never became ready (see stop); HardStop first.
		e.Server.HardStop()
	}
	e.Close()
	return nil
}

// RestartMember stops member name (StopMember) and starts it again from
// the same files and data directory, and waits until it is ready: a
// rolling restart's one step. etcd reads its trusted CA files only when it
// starts (TLSInfo.ServerConfig and ClientConfig build the pools once), so
// this is what makes a member trust a changed ca.crt. With its WAL in the
// data directory, the member rejoins with the membership it had;
// --initial-cluster no longer matters.
func (cl *Cluster) RestartMember(ctx context.Context, name string) error {
	if err := cl.StopMember(name); err != nil {
		return err
	}
	cl.mu.Lock()
	m := cl.member(name)
	cl.mu.Unlock()
	if m == nil {
		return fmt.Errorf("no member %q", name)
	}
	return cl.startMember(ctx, m)
}

// startMember starts a stopped member m and waits until it is ready, or
// until ctx is done or the ready timeout passes, when it stops it again.
func (cl *Cluster) startMember(ctx context.Context, m *member) error {
	if err := preflight([]*render.Config{m.cfg}); err != nil {
		return err
	}
	e, err := startEtcd(m.cfg, cl.lg)
	if err != nil {
		return &BootError{Member: m.cfg.Name, Err: err, Logs: cl.logs}
	}
	cl.mu.Lock()
	m.etcd = e
	cl.noteChange()
	cl.mu.Unlock()
	done := make(chan struct{})
	defer close(done)
	readyc := make(chan error, 1)
	running := &member{cfg: m.cfg, etcd: e} // StopMember may clear m.etcd meanwhile
	go func() {
		if err := running.await(e.Server.ReadyNotify(), done); !errors.Is(err, errDone) {
			readyc <- err
		}
	}()
	timeout := cl.opts.ReadyTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var fail error
	select {
	case err := <-readyc:
		if err == nil {
			return nil
		}
		fail = &BootError{Member: m.cfg.Name, Err: err, Logs: cl.logs}
	case <-timer.C:
		fail = &BootError{NotReady: []string{m.cfg.Name}, Timeout: timeout, Logs: cl.logs}
	case <-ctx.Done():
		fail = &BootError{NotReady: []string{m.cfg.Name}, Err: ctx.Err(), Logs: cl.logs}
	}
	cl.StopMember(m.cfg.Name)
	return fail
}

// RejoinMember starts member name, stopped, as a replacement that joins the
// running cluster afresh: its configuration is rendered again with
// --initial-cluster-state=existing, from its tree as it is now (new
// certificates), and its data directory must be empty (the old member's
// data is gone). The cluster must already list its peer URL, as a learner
// or a voting member (clientv3's MemberAddAsLearner after MemberRemove of
// the old one), as etcdctl member add does before a replaced node starts.
// It waits until the member is ready.
func (cl *Cluster) RejoinMember(ctx context.Context, name string) error {
	cl.mu.Lock()
	m := cl.member(name)
	if m == nil {
		cl.mu.Unlock()
		return fmt.Errorf("no member %q", name)
	}
	if m.etcd != nil {
		cl.mu.Unlock()
		return fmt.Errorf("member %q is running; stop it first", name)
	}
	rc, err := render.ForMember(cl.spec, name, render.Options{Root: layout.MemberDir(cl.out, name), DataDir: DataDir(cl.out, name), Existing: true})
	if err != nil {
		cl.mu.Unlock()
		return err
	}
	if cl.opts.Configure != nil {
		cl.opts.Configure(rc)
	}
	m.cfg = rc
	cl.mu.Unlock()
	return cl.startMember(ctx, m)
}
