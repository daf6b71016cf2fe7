// Package layout knows where an etcd member's PKI files live on disk
// (kubeadm's /etc/kubernetes/pki or a standalone /etc/etcd/pki), writes
// them atomically with the right permissions, reads them back through one
// loader, and lays out a whole cluster's PKI for init.
package layout
