//go:build tools

// etcd 3.5's server and etcdctl (whose main imports ctlv2 as well as
// ctlv3), imported so that go mod tidy keeps them.
package etcd35

import (
	_ "go.etcd.io/etcd/etcdctl/v3/ctlv2"
	_ "go.etcd.io/etcd/etcdctl/v3/ctlv3"
	_ "go.etcd.io/etcd/server/v3/etcdmain"
)
