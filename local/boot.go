package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/etcdpki/etcdpki/render"
)

// BootError is a cluster that did not come up. The members that did start
// have been stopped; Logs holds what etcd logged until then (e.g. the TLS
// handshakes it rejected), which usually says why.
type BootError struct {
	// Member is the member that failed, when one failed outright.
	Member string
	// NotReady lists the members that had not become ready when Timeout
	// passed.
	NotReady []string
	Timeout  time.Duration
	// Err is the failure of Member, or the context's error.
	Err  error
	Logs *observer.ObservedLogs

	stopped time.Time
}

// Problems summarises what etcd logged as going wrong before the members
// were stopped: one line per member, message and error, e.g.
// "etcd-3: rejected connection on peer endpoint: tls: failed to verify
// certificate: x509: certificate signed by unknown authority".
func (e *BootError) Problems() []string {
	if e.Logs == nil {
		return nil
	}
	return problems(e.Logs, e.stopped)
}

func (e *BootError) Error() string {
	switch {
	case len(e.NotReady) > 0 && e.Err != nil:
		return fmt.Sprintf("members %s not ready: %v", strings.Join(e.NotReady, ", "), e.Err)
	case len(e.NotReady) > 0:
		return fmt.Sprintf("%s did not become ready within %s", plural(e.NotReady, "member"), e.Timeout)
	}
	return fmt.Sprintf("member %s: %v", e.Member, e.Err)
}

func (e *BootError) Unwrap() error { return e.Err }

func plural(names []string, noun string) string {
	if len(names) == 1 {
		return noun + " " + names[0]
	}
	return noun + "s " + strings.Join(names, ", ")
}

// boot starts every member, in turn, and waits until all are ready. On
// failure it stops what it started.
func (cl *Cluster) boot(ctx context.Context, configs []*render.Config, lg *zap.Logger, timeout time.Duration, keep bool) error {
	// Members are started one after another, without waiting for any to
	// become ready (none can before a quorum has joined). Not all at once:
	// a member of a new cluster first asks every other member's peer URL
	// whether it was already bootstrapped (isMemberBootstrapped, a GET of
	// /members with a 1 s timeout per peer), and a peer whose StartEtcd is
	// still running has its listener open but does not serve yet, so every
	// member would wait a second for each of the others. Started in turn, a
	// member finds the earlier ones serving and the later ones not
	// listening, and both answers come at once.
	cl.members = make([]*member, 0, len(configs))
	for _, rc := range configs {
		e, err := startEtcd(rc, lg)
		if err != nil {
			cl.stop()
			return &BootError{Member: rc.Name, Err: err}
		}
		cl.members = append(cl.members, &member{cfg: rc, etcd: e})
	}

	// StartEtcd returns once a member serves its peer port; it is ready to
	// serve clients only after a leader is elected and its membership
	// published, which needs a quorum of the others.
	type result struct {
		i   int
		err error
	}
	done := make(chan struct{})
	defer close(done)
	readyc := make(chan result, len(cl.members))
	for i, m := range cl.members {
		go func() {
			if err := m.await(m.etcd.Server.ReadyNotify(), done); !errors.Is(err, errDone) {
				readyc <- result{i, err}
			}
		}()
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	ready := make([]bool, len(cl.members))
	for range cl.members {
		select {
		case r := <-readyc:
			if r.err != nil {
				cl.stop()
				return &BootError{Member: cl.members[r.i].cfg.Name, Err: r.err}
			}
			ready[r.i] = true
		case <-timer.C:
			if !keep {
				cl.stop()
			}
			return &BootError{NotReady: cl.notReady(ready), Timeout: timeout}
		case <-ctx.Done():
			cl.stop()
			return &BootError{NotReady: cl.notReady(ready), Err: ctx.Err()}
		}
	}
	return nil
}

// startEtcd starts one member with its own named logger.
func startEtcd(rc *render.Config, lg *zap.Logger) (e *embed.Etcd, err error) {
	cfg, err := embedConfig(rc, lg.Named(rc.Name))
	if err != nil {
		return nil, err
	}
	// A Fatal log inside StartEtcd ends this goroutine with runtime.Goexit
	// (see newLogger), which returns nothing to the caller; run it in a
	// goroutine of its own and report that case from a defer.
	type result struct {
		e   *embed.Etcd
		err error
	}
	c := make(chan result, 1)
	go func() {
		r := result{err: errors.New("etcd stopped while starting (it logged a fatal error)")}
		defer func() { c <- r }()
		r.e, r.err = embed.StartEtcd(cfg)
	}()
	r := <-c
	return r.e, r.err
}

func (cl *Cluster) notReady(ready []bool) []string {
	var names []string
	for i, m := range cl.members {
		if !ready[i] {
			names = append(names, m.cfg.Name)
		}
	}
	return names
}

// stop stops every started member: it hard-stops every server,
// concurrently, and then closes every member. Etcd.Close on a member that
// never became ready would block forever (it waits for the client
// servers, which start serving only once the member is ready or its
// server stops; etcd-io/etcd#9533), and for a whole-cluster shutdown the
// leadership transfer that EtcdServer.Stop tries first could only wait for
// peers that are going away too. HardStop ends raft cleanly, with the WAL
// synced, and stops the peer transports, so no member still dials the
// others while they close.
//
// Close still takes about a second with more than one member: on a peer
// keep-alive connection that has just served a request (the members probe
// each other and check versions every few seconds), net/http aborts its
// background read by setting a read deadline in the past, and etcd's
// timeoutConn (client/pkg/transport) re-arms a 5 s deadline on every Read,
// so the read can outlive http.Server.Shutdown's one-second context in
// Etcd.Close (see etcd-io/etcd#22389 for what then stays open).
func (cl *Cluster) stop() {
	cl.mu.Lock()
	cl.stopped = time.Now()
	var etcds []*embed.Etcd
	for _, m := range cl.members {
		if m != nil && m.etcd != nil {
			etcds = append(etcds, m.etcd)
		}
	}
	cl.mu.Unlock()
	each := func(f func(e *embed.Etcd)) {
		var wg sync.WaitGroup
		for _, e := range etcds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(e)
			}()
		}
		wg.Wait()
	}
	each(func(e *embed.Etcd) { e.Server.HardStop() })
	each(func(e *embed.Etcd) { e.Close() })
}

// errDone is await's result when its caller stopped waiting.
var errDone = errors.New("done")

// await blocks until ready is closed (it returns nil), the member's server
// stops or one of its serving loops ends (the error), or done is closed
// (errDone). A nil ready never fires.
func (m *member) await(ready, done <-chan struct{}) error {
	select {
	case <-ready:
		return nil
	case <-m.etcd.Server.StopNotify():
		return errors.New("etcd server stopped")
	case err := <-m.etcd.Err():
		// etcd sends the return value of every serving loop that
		// ends, nil included.
		if err == nil {
			err = errors.New("a listener stopped serving")
		}
		return err
	case <-done:
		return errDone
	}
}
