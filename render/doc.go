// Package render turns a cluster spec into what runs it: a member's etcd
// configuration as kubeadm writes it, printed as a command line, a
// kubeadm-style static pod manifest or an etcd --config-file, plus the
// kube-apiserver --etcd-* flags and etcdctl's environment.
//
// Config is the single source of these settings; the in-process cluster in
// package local is built from it too, so what the tests boot is what users
// are told to run.
package render
