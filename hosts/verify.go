package hosts

import (
	"context"
	"errors"

	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

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
		// From the root namespace through the bridge, writing…
		if err := local.VerifyThrough(ctx, rb, name, m.cfg.AdvertiseClientURLs[0], tlsCfg, err, true, nil); err != nil {
			return err
		}
		// …and from the member's own host through its 127.0.0.1.
		if err := local.VerifyThrough(ctx, rb, name, cl.LocalEndpoint(), tlsCfg, nil, false, cl.DialContext(name)); err != nil {
			var ve *local.VerifyError
			if errors.As(err, &ve) {
				ve.Endpoint += " (from " + name + "'s own host)"
			}
			return err
		}
	}
	return nil
}
