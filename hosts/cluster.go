package hosts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/etcdpki/etcdpki/internal/tlsdial"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Cluster is a running cluster in hosts mode: a Network and one etcd
// process per member inside its host.
type Cluster struct {
	spec    *spec.Cluster
	out     string
	temp    bool // out was created by Start and is removed by Close
	init    *layout.InitResult
	net     *Network
	members []*member
	logs    *observer.ObservedLogs
	opts    Options
	// core and copyTo are where members log: what a member started again
	// (StartMember) logs to as well.
	core   zapcore.Core
	copyTo io.Writer

	// mu guards each member's proc against StopMember and StartMember
	// running while others read it; changed is closed when one is
	// stopped or started on purpose.
	mu      sync.Mutex
	changed chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// member is one member: its configuration and process.
type member struct {
	cfg  *render.Config
	host *Host
	proc *process // nil until started
}

// Close stops every member (SIGTERM, then SIGKILL after a few seconds),
// tears down the network and, when Start created the directory, removes
// it. It is safe to call more than once.
func (cl *Cluster) Close() error {
	cl.closeOnce.Do(func() {
		cl.stop()
		var errs []error
		if cl.net != nil {
			errs = append(errs, cl.net.Close())
		}
		if cl.temp {
			errs = append(errs, os.RemoveAll(cl.out))
		}
		cl.closeErr = errors.Join(errs...)
	})
	return cl.closeErr
}

// stop stops every started member: the followers concurrently, then the
// leader. A leader stopped with its followers would try to hand
// leadership to one of them (EtcdServer.TryTransferLeadershipOnShutdown
// picks the longest-connected peer) and wait for a peer that is going
// away until its request timeout (7 s with the default election timeout);
// once the followers are gone the leader's transport has marked them
// inactive, it finds no one to hand over to and stops at once. The
// followers take about a second, for the reason local.Cluster's Close
// does: a peer connection that has just served a request outlives
// http.Server.Shutdown's one-second context in Etcd.Close.
func (cl *Cluster) stop() {
	var leaders, followers []*process
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, m := range cl.members {
		switch {
		case m.proc == nil:
		case m.proc.log.isLeader():
			leaders = append(leaders, m.proc)
		default:
			followers = append(followers, m.proc)
		}
	}
	for _, group := range [][]*process{followers, leaders} {
		var wg sync.WaitGroup
		for _, p := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.stop()
			}()
		}
		wg.Wait()
	}
}

// Wait blocks until ctx is done (it then returns nil) or a member's
// process exits (it returns that member's error). The cluster keeps
// running either way; Close stops it. A member stopped or restarted on
// purpose (StopMember, StartMember, RestartMember) is no failure: Wait
// then watches the members as they are after it.
func (cl *Cluster) Wait(ctx context.Context) error {
	for {
		cl.mu.Lock()
		type running struct {
			m *member
			p *process
		}
		var procs []running
		for _, m := range cl.members {
			if m.proc != nil {
				procs = append(procs, running{m, m.proc})
			}
		}
		if cl.changed == nil {
			cl.changed = make(chan struct{})
		}
		changed := cl.changed
		cl.mu.Unlock()
		type failure struct {
			r   running
			err error
		}
		wctx, cancel := context.WithCancel(ctx)
		errc := make(chan failure, len(procs))
		for _, r := range procs {
			go func() {
				if err := r.p.await(wctx, nil); wctx.Err() == nil {
					errc <- failure{r, err}
				}
			}()
		}
		select {
		case <-ctx.Done():
			cancel()
			return nil
		case <-changed:
			cancel()
		case f := <-errc:
			cancel()
			cl.mu.Lock()
			deliberate := f.r.m.proc != f.r.p
			cl.mu.Unlock()
			if !deliberate {
				return fmt.Errorf("member %s: %w", f.r.m.cfg.Name, f.err)
			}
		}
	}
}

// noteChange wakes Wait after a member was stopped or started; cl.mu
// must be held.
func (cl *Cluster) noteChange() {
	if cl.changed != nil {
		close(cl.changed)
		cl.changed = nil
	}
}

// Spec is the cluster's spec.
func (cl *Cluster) Spec() *spec.Cluster { return cl.spec }

// Dir is the directory the cluster was booted from: init's layout plus
// the members' data in data/.
func (cl *Cluster) Dir() string { return cl.out }

// Temporary reports whether Dir is a temporary directory that Close
// removes.
func (cl *Cluster) Temporary() bool { return cl.temp }

// InitResult is what Start's layout.Init did (nil after StartFromDir).
func (cl *Cluster) InitResult() *layout.InitResult { return cl.init }

// Network is the cluster's network.
func (cl *Cluster) Network() *Network { return cl.net }

// Members returns the member names in spec order.
func (cl *Cluster) Members() []string {
	names := make([]string, len(cl.members))
	for i, m := range cl.members {
		names[i] = m.cfg.Name
	}
	return names
}

// Endpoints returns every member's advertised client URL (its address on
// the bridge, which the root namespace reaches), in the order of Members.
func (cl *Cluster) Endpoints() []string {
	var urls []string
	for _, m := range cl.members {
		urls = append(urls, m.cfg.AdvertiseClientURLs...)
	}
	return urls
}

// LocalEndpoint is the client URL that a client on a member's own host
// dials, https://127.0.0.1:2379: kube-apiserver's on a stacked control
// plane, and the health checks'. Dial it through DialContext.
func (cl *Cluster) LocalEndpoint() string { return cl.spec.LocalClientURL() }

// Config returns the configuration member name runs with, or nil.
func (cl *Cluster) Config(name string) *render.Config {
	if m := cl.member(name); m != nil {
		return m.cfg
	}
	return nil
}

// PID is member name's etcd process ID, or 0.
func (cl *Cluster) PID(name string) int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if m := cl.member(name); m != nil && m.proc != nil {
		return m.proc.cmd.Process.Pid
	}
	return 0
}

// Host returns member name's host, or nil.
func (cl *Cluster) Host(name string) *Host { return cl.net.Host(name) }

// Logs are etcd's log entries at info level and above, from every member
// since it started until Close began, as local.Cluster.Logs has them: an
// entry's LoggerName is the member's name, its fields etcd's (a rejected
// TLS handshake is the warning "rejected connection on peer endpoint" with
// remote-addr, ip-addresses, dns-names and error).
func (cl *Cluster) Logs() *observer.ObservedLogs { return cl.logs }

// Problems summarises the warnings and errors etcd logged with an error
// attached until Close began, one line per member, message and error, as
// local.Cluster.Problems does: Logs has the same entries, and
// local.BootError.Problems is the one summary of them.
func (cl *Cluster) Problems() []string {
	return (&local.BootError{Logs: cl.logs}).Problems()
}

// Disconnect cuts member off the network (its bridge port down, as a
// pulled cable): its process keeps running but nothing reaches it.
func (cl *Cluster) Disconnect(ctx context.Context, member string) error {
	return cl.net.SetLink(ctx, member, false)
}

// Reconnect undoes Disconnect.
func (cl *Cluster) Reconnect(ctx context.Context, member string) error {
	return cl.net.SetLink(ctx, member, true)
}

// DialContext returns a dialer that connects from inside member's host,
// as a process there would: 127.0.0.1 is that host's own lo, and a
// connection to another member leaves from the host's address. It suits
// grpc.WithContextDialer (addresses "host:port") and net/http's
// Transport.DialContext.
func (cl *Cluster) DialContext(member string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	h := cl.net.Host(member)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h == nil {
			return nil, fmt.Errorf("no member %q", member)
		}
		return dialIn(ctx, h.Netns, network, addr)
	}
}

// ClientTLS returns a TLS client configuration that trusts member's copy
// of the etcd CA and presents the client certificate of kind (e.g.
// pki.KindAPIServerClient) from member's tree (layout.ClientTLS).
func (cl *Cluster) ClientTLS(member string, kind pki.Kind) (*tls.Config, error) {
	if cl.member(member) == nil {
		return nil, fmt.Errorf("no member %q", member)
	}
	return local.TreeClientTLS(cl.out, cl.spec, member, kind)
}

// NewClient returns a clientv3 client of endpoints with cfg, dialing from
// inside member's host, or from the root namespace when member is "".
// Like clientv3.New it does not connect; the first request does.
func (cl *Cluster) NewClient(member string, endpoints []string, cfg *tls.Config) (*clientv3.Client, error) {
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if member != "" {
		dial = cl.DialContext(member)
	}
	return local.NewClientDial(endpoints, cfg, dial)
}

// CheckHandshake is local.CheckHandshake from inside member's host (or
// the root namespace when member is ""): how the server at endpoint took
// a TLS handshake with cfg.
func (cl *Cluster) CheckHandshake(ctx context.Context, member, endpoint string, cfg *tls.Config) error {
	if member == "" {
		return local.CheckHandshake(ctx, endpoint, cfg)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	return tlsdial.Dial(ctx, u.Host, tlsdial.Options{Config: cfg, DialContext: cl.DialContext(member)}).Handshake()
}

func (cl *Cluster) member(name string) *member {
	for _, m := range cl.members {
		if m.cfg.Name == name {
			return m
		}
	}
	return nil
}
