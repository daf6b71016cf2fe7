// Package local runs an N-member etcd cluster in-process, with the real
// etcd server code (go.etcd.io/etcd/server/v3/embed), booted from the
// files that layout.Init writes: each member reads its certificates and
// keys from its own tree in init's output directory, exactly as a node
// would after the tree is copied to its /.
//
// Every member's embed.Config is converted field by field from
// render.ForMember, the configuration that `etcdpki flags` prints, so the
// cluster that `etcdpki up` and the tests run is the one users are told to
// run. Members listen on their own loopback addresses (127.0.0.1,
// 127.0.0.2, …; Linux routes all of 127.0.0.0/8 to lo) with mutual TLS on
// both the client and the peer port.
//
// A running cluster can gain a member (Cluster.AddMember, after the
// cluster was told with MemberAdd), and its members can be stopped and
// restarted one at a time (StopMember, RestartMember), as the lifecycle
// tests do for rolling restarts.
//
// etcd's own logs are captured (Cluster.Logs) rather than printed, so a
// caller can show what etcd said, e.g. which TLS connections it rejected.
package local
