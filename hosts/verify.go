package hosts

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
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
	nonce := make([]byte, 8)
	rand.Read(nonce)
	v := &verifier{cl: cl, written: map[string]string{}}
	for _, m := range cl.members {
		name := m.cfg.Name
		tlsCfg, err := cl.ClientTLS(name, pki.KindAPIServerClient)
		if err != nil {
			return &local.VerifyError{Member: name, Endpoint: m.cfg.AdvertiseClientURLs[0], Op: "tls", Err: err}
		}
		value := fmt.Sprintf("written through %s at %s (%s)", name, time.Now().UTC().Format(time.RFC3339Nano), hex.EncodeToString(nonce))
		if err := v.check(ctx, name, "", m.cfg.AdvertiseClientURLs[0], tlsCfg, value); err != nil {
			return err
		}
		if err := v.check(ctx, name, name, cl.LocalEndpoint(), tlsCfg, ""); err != nil {
			return err
		}
	}
	return nil
}

// verifier is one Verify: the keys written so far, in order.
type verifier struct {
	cl      *Cluster
	written map[string]string
	keys    []string
}

// check goes to member through endpoint, dialing from host's namespace
// ("" for the root namespace): the member must see the whole cluster,
// take a write of value when value is not empty, and return every key
// written so far.
func (v *verifier) check(ctx context.Context, member, host, endpoint string, tlsCfg *tls.Config, value string) error {
	fail := func(op string, err error) error {
		ve := &local.VerifyError{Member: member, Endpoint: endpoint, Op: op, Err: err}
		if host != "" {
			ve.Endpoint += " (from " + host + "'s own host)"
		}
		if errors.Is(err, context.DeadlineExceeded) {
			ve.Handshake = v.cl.CheckHandshake(ctx, host, endpoint, tlsCfg)
		}
		return ve
	}
	cli, err := v.cl.NewClient(host, []string{endpoint}, tlsCfg)
	if err != nil {
		return fail("connect", err)
	}
	defer cli.Close()
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	ml, err := cli.MemberList(rctx)
	if err != nil {
		return fail("member list", err)
	}
	if len(ml.Members) != len(v.cl.members) {
		return fail("member list", fmt.Errorf("sees %d members, want %d", len(ml.Members), len(v.cl.members)))
	}
	if value != "" {
		key := local.VerifyPrefix + member
		if _, err := cli.Put(rctx, key, value); err != nil {
			return fail("put", err)
		}
		v.written[key] = value
		v.keys = append(v.keys, key)
	}
	for _, k := range v.keys {
		resp, err := cli.Get(rctx, k)
		if err != nil {
			return fail("get", err)
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != v.written[k] {
			got := ""
			if len(resp.Kvs) > 0 {
				got = string(resp.Kvs[0].Value)
			}
			return fail("get", fmt.Errorf("%s: read back %q, wrote %q", k, got, v.written[k]))
		}
	}
	return nil
}
