// Package interop proves etcdpki against the real software operators run:
// etcd 3.4 (Debian's package), 3.5 and 3.6 (built from the Go module proxy),
// 3.7 (the main module's), kube-apiserver and kubeadm v1.34.4. Everything
// is in tests; this package has no API.
package interop
