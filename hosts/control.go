package hosts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcdpki/etcdpki/local"
)

// StopMember stops member name's etcd process as a node's init stops it
// (SIGTERM, then SIGKILL after a few seconds); the member stays in the
// cluster, stopped, until StartMember. Stopping a stopped member does
// nothing.
func (cl *Cluster) StopMember(name string) error {
	cl.mu.Lock()
	m := cl.member(name)
	if m == nil {
		cl.mu.Unlock()
		return fmt.Errorf("no member %q", name)
	}
	p := m.proc
	m.proc = nil
	cl.noteChange()
	cl.mu.Unlock()
	if p != nil {
		p.stop()
	}
	return nil
}

// StartMember starts member name's etcd again inside its host, with the
// same flags and data directory, and waits until it is ready (its
// "ready to serve client requests" line), or until ctx ends or the ready
// timeout passes, when it stops it again. Starting a running member does
// nothing. A failure is a *local.BootError.
func (cl *Cluster) StartMember(ctx context.Context, name string) error {
	cl.mu.Lock()
	m := cl.member(name)
	switch {
	case m == nil:
		cl.mu.Unlock()
		return fmt.Errorf("no member %q", name)
	case m.proc != nil:
		cl.mu.Unlock()
		return nil
	}
	sink := newLogSink(m.cfg.Name, cl.core, cl.copyTo)
	p, err := startProcess(m.host, cl.opts.Etcd, m.cfg, sink)
	if err != nil {
		cl.mu.Unlock()
		return &local.BootError{Member: name, Err: err, Logs: cl.logs}
	}
	m.proc = p
	cl.noteChange()
	cl.mu.Unlock()
	timeout := cl.opts.ReadyTimeout
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = p.await(wctx, sink.ready)
	if err == nil {
		return nil
	}
	be := &local.BootError{Member: name, Err: err, Logs: cl.logs}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		be = &local.BootError{NotReady: []string{name}, Timeout: timeout, Logs: cl.logs}
	}
	cl.StopMember(name)
	return be
}

// RestartMember stops member name and starts it again (StopMember,
// StartMember): etcd reads its trusted CA files only at start, so this is
// the restart a CA rotation needs.
func (cl *Cluster) RestartMember(ctx context.Context, name string) error {
	if err := cl.StopMember(name); err != nil {
		return err
	}
	return cl.StartMember(ctx, name)
}

// Status reports every member, in the order of Members: running, ready
// and leader from its log, the URLs it advertises, and the certificate
// its client port serves (read through the bridge).
func (cl *Cluster) Status(ctx context.Context) []local.MemberStatus {
	cl.mu.Lock()
	var out []local.MemberStatus
	for _, m := range cl.members {
		st := local.MemberStatus{Name: m.cfg.Name, Running: m.proc != nil && m.proc.exited() == nil}
		if len(m.cfg.AdvertiseClientURLs) > 0 {
			st.ClientURL = m.cfg.AdvertiseClientURLs[0]
		}
		if len(m.cfg.InitialAdvertisePeerURLs) > 0 {
			st.PeerURL = m.cfg.InitialAdvertisePeerURLs[0]
		}
		if st.Running {
			select {
			case <-m.proc.log.ready:
				st.Ready = true
				st.Leader = m.proc.log.isLeader()
			default:
			}
		}
		out = append(out, st)
	}
	cl.mu.Unlock()
	for i := range out {
		if out[i].Running {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			out[i].Serving = local.ReadServedCert(sctx, out[i].ClientURL)
			cancel()
		}
	}
	return out
}
