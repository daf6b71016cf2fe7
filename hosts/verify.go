package hosts

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

// requestTimeout bounds each request of Verify; as in the in-process
// cluster, a TLS failure makes a clientv3 call hang until its deadline, so
// this is what a refused client waits.
const requestTimeout = 5 * time.Second

// Verify proves that the cluster serves mutual TLS as on real nodes.
// Through every member, with the apiserver-etcd-client certificate from
// that member's own tree, it writes a key and reads back every key written
// so far, two ways: from the root namespace through the member's address
// on the bridge (a client on another machine), and from inside the
// member's host through https://127.0.0.1:2379 (kube-apiserver on that
// node, which needs the server cert to name 127.0.0.1). Reads are
// linearizable, so they go through the leader: a value written through one
// member and read through another has been replicated. A failure is a
// *local.VerifyError; its Endpoint says which way failed.
func (cl *Cluster) Verify(ctx context.Context) error {
	rb := local.NewReadBack(len(cl.members))
	for _, m := range cl.members {
		name := m.cfg.Name
		tlsCfg, err := cl.ClientTLS(name, pki.KindAPIServerClient)
		if err != nil {
			return &local.VerifyError{Member: name, Endpoint: m.cfg.AdvertiseClientURLs[0], Op: "tls", Err: err}
		}
		if err := cl.check(ctx, rb, name, "", m.cfg.AdvertiseClientURLs[0], tlsCfg, true); err != nil {
			return err
		}
		if err := cl.check(ctx, rb, name, name, cl.LocalEndpoint(), tlsCfg, false); err != nil {
			return err
		}
	}
	return nil
}

// check goes to member through endpoint, dialing from host's namespace
// ("" for the root namespace), and runs the read-back check there.
func (cl *Cluster) check(ctx context.Context, rb *local.ReadBack, member, host, endpoint string, tlsCfg *tls.Config, write bool) error {
	fail := func(op string, err error) error {
		ve := &local.VerifyError{Member: member, Endpoint: endpoint, Op: op, Err: err}
		if host != "" {
			ve.Endpoint += " (from " + host + "'s own host)"
		}
		if errors.Is(err, context.DeadlineExceeded) {
			ve.Handshake = cl.CheckHandshake(ctx, host, endpoint, tlsCfg)
		}
		return ve
	}
	cli, err := cl.NewClient(host, []string{endpoint}, tlsCfg)
	if err != nil {
		return fail("connect", err)
	}
	defer cli.Close()
	if op, err := rb.Check(ctx, cli, member, write); err != nil {
		return fail(op, err)
	}
	return nil
}
