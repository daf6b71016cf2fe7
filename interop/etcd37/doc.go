// Package etcd37 pins etcdctl 3.7 for the interop tests, which build
// go.etcd.io/etcd/etcdctl/v3 from this module (etcd 3.7's server is the
// main module's own, internal/etcdmain).
package etcd37
