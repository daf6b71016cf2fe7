package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ReadBack is the check Verify runs through each member in turn, shared
// by the in-process cluster and hosts mode: the member sees every member
// of the cluster, takes a write, and returns every key written so far
// (through it and the members checked before it). Reads are linearizable,
// so they go through the leader: a value written through one member and
// read through another has been replicated.
type ReadBack struct {
	// Members is the cluster size MemberList must report.
	Members int
	nonce   string
	written map[string]string
	keys    []string
}

// NewReadBack starts a check of a cluster of n members.
func NewReadBack(n int) *ReadBack {
	b := make([]byte, 8)
	rand.Read(b)
	return &ReadBack{Members: n, nonce: hex.EncodeToString(b), written: map[string]string{}}
}

// Check runs the check through cli, writing a key for member unless
// write is false. A failure returns the operation ("member list", "put",
// "get") and its error.
func (r *ReadBack) Check(ctx context.Context, cli *clientv3.Client, member string, write bool) (op string, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	ml, err := cli.MemberList(ctx)
	if err != nil {
		return "member list", err
	}
	if len(ml.Members) != r.Members {
		return "member list", fmt.Errorf("sees %d members, want %d", len(ml.Members), r.Members)
	}
	if write {
		key := VerifyPrefix + member
		value := fmt.Sprintf("written through %s at %s (%s)", member, time.Now().UTC().Format(time.RFC3339Nano), r.nonce)
		if _, err := cli.Put(ctx, key, value); err != nil {
			return "put", err
		}
		if _, seen := r.written[key]; !seen {
			r.keys = append(r.keys, key)
		}
		r.written[key] = value
	}
	for _, k := range r.keys {
		resp, err := cli.Get(ctx, k)
		if err != nil {
			return "get", err
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != r.written[k] {
			return "get", fmt.Errorf("%s: read back %q, wrote %q", k, kvValue(resp), r.written[k])
		}
	}
	return "", nil
}
