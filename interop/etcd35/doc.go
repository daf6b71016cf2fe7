// Package etcd35 pins etcd 3.5 for the interop tests, which build
// go.etcd.io/etcd/server/v3 and go.etcd.io/etcd/etcdctl/v3 from this module.
package etcd35
