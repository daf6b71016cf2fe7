// Package pki creates and reads the keys and certificates of an etcd
// cluster's PKI: the etcd CA, the kubeadm-compatible leaf profiles (server,
// peer, healthcheck-client, apiserver-etcd-client and the split credentials
// that etcd 3.5 added), PEM encoding and decoding, and fingerprints.
//
// It knows nothing about files or members' directories; see package layout
// for where the PEM blocks go on disk.
package pki
