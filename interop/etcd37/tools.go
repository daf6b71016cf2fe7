//go:build tools

// etcd 3.7's etcdctl, imported so that go mod tidy keeps it.
package etcd37

import (
	_ "go.etcd.io/etcd/etcdctl/v3/ctlv3"
)
