// Command etcdmain is the etcd server built from this module's own
// go.etcd.io/etcd/server/v3, nothing added. Tests build it to start a
// separate etcd process with exactly the flags (or --config-file) that
// etcdpki prints, without needing an etcd binary on the machine, and at the
// very version the rest of the module is tested against.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
