// Package hosts runs an etcd cluster with every member on a host of its
// own: a Linux network namespace with its own address, its own lo and
// 127.0.0.1, and a separate real etcd process started with exactly the
// flags `etcdpki flags` prints for the member. A loopback cluster (package
// local) cannot show two of the PKI's conditions faithfully, because all
// its members share one lo: etcd's check of a connecting member's
// credential against the connection's remote address (every peer
// connection there leaves from 127.0.0.1), and 127.0.0.1 meaning "this
// node" (kube-apiserver and the health checks dial https://127.0.0.1:2379).
// Here both happen as on real nodes.
//
// The network (Network) is one namespace per member, each joined to a
// bridge in the root namespace by a veth pair. Addresses come from a
// subnet of 198.18.0.0/15 (RFC 2544's benchmarking range, never routed;
// DefaultSubnet is 198.18.0.0/24): member i has the subnet's address i, the
// bridge the subnet's last usable address, so clients in the root
// namespace reach every member through the bridge. The namespaces have no
// default route: a packet to any address outside the subnet fails in the
// sender's namespace (ENETUNREACH) instead of leaving the machine.
//
// Every resource carries Prefix and a run ID in its name (epki-3fa2-etcd-1,
// epki-3fa2-br, epki-3fa2-h1), and a run holds a lock file named after its
// ID while it lives. A new run first removes what earlier runs left
// behind: the resources of every ID whose lock nobody holds (a run that
// crashed or was killed). Close removes processes, veths, bridge and
// namespaces; so does a failed Start, for what it had built.
//
// Hosts mode needs Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN for
// namespaces) and iproute2's ip; Supported says why not when it cannot
// run. Every change to the network is made by running ip, so the package
// needs no netlink library.
package hosts
