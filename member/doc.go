// Package member is etcdpki's one model of an etcd member on disk: a
// copy of a node's tree (its "/", or the directory operators copy) in any
// distribution's layout — kubeadm, etcdadm and standalone etcd,
// kubespray, k3s, RKE2, OpenShift, Talos, kops etcd-manager — or a member
// tree of init's output.
//
// [Discover] recognises the layout and the root a directory stands for
// (it returns a *[NotFoundError] listing what it looked for when nothing
// matches); [Load] reads the member's etcd settings the way etcd reads
// them (its own flag set, ETCD_* variables, --config-file, a static pod's
// sh -c script) and its files into a [Member]: per port the serving
// certificate, the credential and the trusted CA, kube-apiserver's etcd
// client, file modes and owners, and the typed [Problem]s met on the way.
// Every path is resolved inside the member's tree ([Input.Disk]), never
// this machine's, and every file is read with the one bounded reader.
//
//	members, err := member.LoadDirs([]string{"node1", "node2", "node3"}, nil, member.DiscoverOptions{})
//
// Package audit judges the members; expiry, graph, exporter and probe
// read them.
package member
