package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdpki/etcdpki/internal/tlsdial"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
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
	l, err := layout.ForName(cl.spec.Layout)
	if err != nil {
		return nil, err
	}
	return layout.ClientTLS(layout.MemberDir(cl.out, member), l, kind)
}

// NewClient returns a clientv3 client for endpoints with cfg (e.g. from
// ClientTLS). Like clientv3.New it does not connect; the first request does.
func NewClient(endpoints []string, cfg *tls.Config) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         cfg,
		DialTimeout: requestTimeout,
		// clientv3 logs its retries; the caller gets the error instead.
		Logger: zap.NewNop(),
	})
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
		endpoint := m.cfg.AdvertiseClientURLs[0]
		tlsCfg, err := cl.ClientTLS(name, pki.KindAPIServerClient)
		if err != nil {
			return &VerifyError{Member: name, Endpoint: endpoint, Op: "tls", Err: err}
		}
		fail := func(op string, err error) error {
			ve := &VerifyError{Member: name, Endpoint: endpoint, Op: op, Err: err}
			if errors.Is(err, context.DeadlineExceeded) {
				ve.Handshake = CheckHandshake(ctx, endpoint, tlsCfg)
			}
			return ve
		}
		cli, err := NewClient([]string{endpoint}, tlsCfg)
		if err != nil {
			return fail("connect", err)
		}
		op, err := rb.Check(ctx, cli, name, true)
		cli.Close()
		if err != nil {
			return fail(op, err)
		}
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
