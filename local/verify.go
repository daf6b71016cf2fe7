package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/etcdpki/etcdpki/internal/tlsdial"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// VerifyPrefix is the key prefix Verify writes under.
const VerifyPrefix = "/etcdpki/verify/"

// requestTimeout bounds each request of Verify. A TLS failure makes a
// clientv3 call hang until its deadline (the client retries the handshake),
// so the bound is what a rejected client waits, not what a healthy cluster
// needs (milliseconds).
const requestTimeout = 5 * time.Second

// VerifyError is a failed check through one member's client endpoint.
type VerifyError struct {
	Member   string
	Endpoint string
	// Op is what failed: "tls" (reading the credentials), "connect",
	// "member list", "put" or "get".
	Op  string
	Err error
	// Handshake is the error of a plain TLS handshake with the same
	// credentials, when clientv3's error (typically "context deadline
	// exceeded") hides a TLS failure.
	Handshake error
}

func (e *VerifyError) Error() string {
	s := fmt.Sprintf("member %s (%s): %s: %v", e.Member, e.Endpoint, e.Op, e.Err)
	if e.Handshake != nil {
		s += fmt.Sprintf(" (TLS handshake: %v)", e.Handshake)
	}
	return s
}

func (e *VerifyError) Unwrap() error { return e.Err }

// ClientTLS returns a TLS client configuration that trusts member's copy of
// the etcd CA and presents the client certificate of kind (e.g.
// pki.KindAPIServerClient) from member's tree (layout.ClientTLS).
func (cl *Cluster) ClientTLS(member string, kind pki.Kind) (*tls.Config, error) {
	if cl.member(member) == nil {
		return nil, fmt.Errorf("no member %q", member)
	}
	return TreeClientTLS(cl.Dir(), cl.Spec(), member, kind)
}

// TreeClientTLS is a client configuration from member's tree in init's
// output out, in c's layout: it trusts the member's copy of the etcd CA
// and presents the client certificate of kind (layout.ClientTLS). Both
// runners' ClientTLS are it.
func TreeClientTLS(out string, c *spec.Cluster, member string, kind pki.Kind) (*tls.Config, error) {
	l, err := layout.ForName(c.Layout)
	if err != nil {
		return nil, err
	}
	return layout.ClientTLS(layout.MemberDir(out, member), l, kind)
}

// NewClient returns a clientv3 client for endpoints with cfg (e.g. from
// ClientTLS). Like clientv3.New it does not connect; the first request does.
func NewClient(endpoints []string, cfg *tls.Config) (*clientv3.Client, error) {
	return NewClientDial(endpoints, cfg, nil)
}

// NewClientDial is NewClient with dial dialing its TCP connections, when
// set (hosts mode dials from inside a member's host).
func NewClientDial(endpoints []string, cfg *tls.Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*clientv3.Client, error) {
	c := clientv3.Config{
		Endpoints:   endpoints,
		TLS:         cfg,
		DialTimeout: requestTimeout,
		// clientv3 logs its retries; the caller gets the error instead.
		Logger: zap.NewNop(),
	}
	if dial != nil {
		c.DialOptions = []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) })}
	}
	return clientv3.New(c)
}

// Verify proves that the cluster serves mutual TLS as configured: through
// every member's client endpoint separately, with the apiserver-etcd-client
// certificate from that member's own tree (what kube-apiserver on that
// node would present), it checks that the member sees the whole cluster,
// writes a key, and reads back that key and every key written through the
// members before it. Reads are linearizable, so they go through the
// leader: a value written through one member and read through another has
// been replicated.
func (cl *Cluster) Verify(ctx context.Context) error {
	rb := NewReadBack(len(cl.members))
	for _, m := range cl.members {
		name := m.cfg.Name
		tlsCfg, err := cl.ClientTLS(name, pki.KindAPIServerClient)
		if err := VerifyThrough(ctx, rb, name, m.cfg.AdvertiseClientURLs[0], tlsCfg, err, true, nil); err != nil {
			return err
		}
	}
	return nil
}

// VerifyThrough is one step of every runner's Verify: through endpoint,
// with tlsCfg (or tlsErr, the error of making it), it checks that member
// sees the whole cluster, writes a key when write is set, and reads back
// every key rb has seen written (ReadBack.Check). dial, when set, dials
// the TCP connections (hosts mode dials from inside a member's host). A
// failure is a *VerifyError, with the TLS handshake's own verdict when
// clientv3 says only that its deadline passed.
func VerifyThrough(ctx context.Context, rb *ReadBack, member, endpoint string, tlsCfg *tls.Config, tlsErr error, write bool,
	dial func(ctx context.Context, network, addr string) (net.Conn, error)) error {
	if tlsErr != nil {
		return &VerifyError{Member: member, Endpoint: endpoint, Op: "tls", Err: tlsErr}
	}
	fail := func(op string, err error) error {
		ve := &VerifyError{Member: member, Endpoint: endpoint, Op: op, Err: err}
		if errors.Is(err, context.DeadlineExceeded) {
			if u, perr := url.Parse(endpoint); perr == nil {
				ve.Handshake = tlsdial.Dial(ctx, u.Host, tlsdial.Options{Config: tlsCfg, DialContext: dial}).Handshake()
			}
		}
		return ve
	}
	cli, err := NewClientDial([]string{endpoint}, tlsCfg, dial)
	if err != nil {
		return fail("connect", err)
	}
	defer cli.Close()
	if op, err := rb.Check(ctx, cli, member, write); err != nil {
		return fail(op, err)
	}
	return nil
}

func kvValue(resp *clientv3.GetResponse) string {
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// CheckHandshake dials endpoint with cfg and reports how the server took
// it: nil when it answered after the handshake, else the refusal or the
// silence (tlsdial.Dial, the one dial-and-judge helper). With TLS 1.3 the
// client's handshake completes before the server has checked the client
// certificate, so a rejection (e.g. "remote error: tls: certificate
// required") only arrives with the first read.
func CheckHandshake(ctx context.Context, endpoint string, cfg *tls.Config) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	return tlsdial.Dial(ctx, u.Host, tlsdial.Options{Config: cfg}).Handshake()
}
