package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Cluster is a running in-process etcd cluster.
type Cluster struct {
	spec    *spec.Cluster
	out     string
	temp    bool // out was created by Start and is removed by Close
	init    *layout.InitResult
	members []*member
	logs    *observer.ObservedLogs
	lg      *zap.Logger // what members started later log to (AddMember, RestartMember)
	opts    Options
	stopped time.Time // when stop began

	// mu guards members and each member's etcd against AddMember,
	// StopMember and RestartMember running while others read them.
	mu sync.Mutex

	closeOnce sync.Once
	closeErr  error
	// changed is closed when a member is stopped or started on purpose
	// (guarded by mu).
	changed chan struct{}
}

// member is one etcd member of the cluster.
type member struct {
	cfg *render.Config
	// etcd is nil while the member is stopped (StopMember).
	etcd *embed.Etcd
}

// Close stops every member and, when Start created the directory, removes
// it. It is safe to call more than once.
func (cl *Cluster) Close() error {
	cl.closeOnce.Do(func() {
		cl.stop()
		if cl.temp {
			cl.closeErr = os.RemoveAll(cl.out)
		}
	})
	return cl.closeErr
}

// Wait blocks until ctx is done (it then returns nil) or a member fails
// while serving (it returns that member's error). The cluster keeps
// running either way; Close stops it.
//
// A member stopped or restarted on purpose (StopMember, StartMember,
// RestartMember) is no failure: Wait then watches the members as they
// are after it.
func (cl *Cluster) Wait(ctx context.Context) error {
	for {
		// A copy of each running member, so that StopMember, which clears
		// a member's etcd, does not race with the waits.
		cl.mu.Lock()
		var members []*member
		for _, m := range cl.members {
			if m.etcd != nil {
				members = append(members, &member{cfg: m.cfg, etcd: m.etcd})
			}
		}
		changed := cl.changedc()
		cl.mu.Unlock()
		type failure struct {
			m   *member
			err error
		}
		errc := make(chan failure, len(members))
		done := make(chan struct{})
		for _, m := range members {
			go func() {
				if err := m.await(nil, done); !errors.Is(err, errDone) {
					errc <- failure{m, err}
				}
			}()
		}
		select {
		case <-ctx.Done():
			close(done)
			return nil
		case <-changed:
			close(done)
		case f := <-errc:
			close(done)
			cl.mu.Lock()
			cur := cl.member(f.m.cfg.Name)
			deliberate := cur == nil || cur.etcd != f.m.etcd
			cl.mu.Unlock()
			if !deliberate {
				return fmt.Errorf("member %s: %w", f.m.cfg.Name, f.err)
			}
		}
	}
}

// changedc returns a channel closed when a member is next stopped or
// started; cl.mu must be held.
func (cl *Cluster) changedc() chan struct{} {
	if cl.changed == nil {
		cl.changed = make(chan struct{})
	}
	return cl.changed
}

// noteChange wakes Wait after a member was stopped or started; cl.mu
// must be held.
func (cl *Cluster) noteChange() {
	if cl.changed != nil {
		close(cl.changed)
		cl.changed = nil
	}
}

// Spec is the cluster's spec (with the members AddMember added).
func (cl *Cluster) Spec() *spec.Cluster {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.spec
}

// Dir is the directory the cluster was booted from: init's layout (the
// CA in ca/, each member's tree in <member>/, cluster.yaml) plus the
// members' data in data/.
func (cl *Cluster) Dir() string { return cl.out }

// Temporary reports whether Dir is a temporary directory that Close
// removes.
func (cl *Cluster) Temporary() bool { return cl.temp }

// InitResult is what Start's layout.Init did (nil after StartFromDir).
func (cl *Cluster) InitResult() *layout.InitResult { return cl.init }

// Members returns the member names in spec order.
func (cl *Cluster) Members() []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	names := make([]string, len(cl.members))
	for i, m := range cl.members {
		names[i] = m.cfg.Name
	}
	return names
}

// Endpoints returns every member's advertised client URL, in the order of
// Members.
func (cl *Cluster) Endpoints() []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var urls []string
	for _, m := range cl.members {
		urls = append(urls, m.cfg.AdvertiseClientURLs...)
	}
	return urls
}

// Config returns the configuration member name runs with (its URLs and
// file paths), or nil if there is no such member.
func (cl *Cluster) Config(name string) *render.Config {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if m := cl.member(name); m != nil {
		return m.cfg
	}
	return nil
}

// Etcd returns member name's embedded etcd, or nil if there is no such
// member or it is stopped; for callers that inspect the server (leader,
// member ID).
func (cl *Cluster) Etcd(name string) *embed.Etcd {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if m := cl.member(name); m != nil {
		return m.etcd
	}
	return nil
}

// Logs are etcd's log entries at info level and above, from every member
// since it started; an entry's LoggerName is the member's name, or the
// member's name and an etcd component ("etcd-1.raft"). Rejected
// TLS handshakes are warnings with the message "rejected connection on
// client endpoint" or "rejected connection on peer endpoint".
func (cl *Cluster) Logs() *observer.ObservedLogs { return cl.logs }

// Problems summarises the warnings and errors etcd logged with an error
// attached, up to Close, as BootError.Problems does. A healthy cluster has
// no TLS problems, but may have others: a new cluster's members warn
// "Failed to detect schema version: missing term information" until they
// have applied their first entries. Call it from the goroutine that
// calls Close, or after Close.
func (cl *Cluster) Problems() []string { return problems(cl.logs, cl.stopped) }

func (cl *Cluster) member(name string) *member {
	for _, m := range cl.members {
		if m.cfg.Name == name {
			return m
		}
	}
	return nil
}
