//go:build tools

// The programs the tests build, imported here so that go mod tidy keeps
// their modules: kube-apiserver and kubeadm (k8s.io/kubernetes), etcd 3.6's
// server and etcdctl.
package interop

import (
	_ "go.etcd.io/etcd/etcdctl/v3/ctlv3"
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kubeadm/app"
)
