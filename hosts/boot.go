package hosts

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/etcdpki/etcdpki/local"
)

// boot starts every member, in turn, and waits until all are ready. Each
// member is started once the one before it serves its peer port (it logged
// msgServing), not all at once: a member of a new cluster first asks
// every other member's peer URL whether it was already bootstrapped
// (etcdserver's isMemberBootstrapped, a GET of /members with a 1 s
// timeout per peer), and a peer that listens but does not serve yet would
// cost it that second. Started in turn, a member finds the earlier ones
// serving and the later ones not listening, and both answers come at once.
// None becomes ready (msgReady) before a quorum has joined, so readiness
// is awaited only after all have started.
func (cl *Cluster) boot(ctx context.Context, core zapcore.Core) error {
	timeout := cl.opts.ReadyTimeout
	deadline := time.Now().Add(timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if cl.opts.Verbose {
		// One lock for every member's lines, as zap's own cores take.
		cl.copyTo = zapcore.Lock(zapcore.AddSync(cl.opts.LogWriter))
	}
	cl.core = core
	for _, m := range cl.members {
		sink := newLogSink(m.cfg.Name, core, cl.copyTo)
		p, err := startProcess(m.host, cl.opts.Etcd, m.cfg, sink)
		if err != nil {
			return &local.BootError{Member: m.cfg.Name, Err: err}
		}
		m.proc = p
		if err := p.await(dctx, sink.serving); err != nil {
			if ctx.Err() != nil {
				return &local.BootError{NotReady: cl.notReady(), Err: ctx.Err()}
			}
			if dctx.Err() != nil {
				err = fmt.Errorf("etcd did not serve its peer port within %s", timeout)
			}
			return &local.BootError{Member: m.cfg.Name, Err: err}
		}
	}
	for _, m := range cl.members {
		err := m.proc.await(dctx, m.proc.log.ready)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return &local.BootError{NotReady: cl.notReady(), Err: ctx.Err()}
		case dctx.Err() != nil:
			return &local.BootError{NotReady: cl.notReady(), Timeout: timeout}
		default:
			return &local.BootError{Member: m.cfg.Name, Err: err}
		}
	}
	return nil
}

// notReady lists the members that have not logged msgReady.
func (cl *Cluster) notReady() []string {
	var names []string
	for _, m := range cl.members {
		if m.proc == nil {
			names = append(names, m.cfg.Name)
			continue
		}
		select {
		case <-m.proc.log.ready:
		default:
			names = append(names, m.cfg.Name)
		}
	}
	return names
}
