// Package remote reads members from their nodes over ssh without copying
// a key: on each node it runs etcdpki collect, which writes the node's
// public PKI facts (a [member.Bundle]), and reads that bundle from ssh's
// stdout as check reads a bundle file.
//
// It runs the system's ssh client, so the user's ~/.ssh/config, agent,
// known_hosts, ProxyJump and ControlMaster apply as they do to a plain
// "ssh cp1"; it never prompts (BatchMode). A node named by
// ssh://[user@]host[:port][/path] ([ParseURL]) gets, in one ssh session,
// a POSIX sh script that runs the etcdpki on the node's PATH:
//
//	etcdpki collect --local          # ssh://cp1: the node's / (every layout check knows)
//	etcdpki collect -- /path         # ssh://cp1/path: a directory on the node
//
// When the node has no etcdpki, and its uname -sm says it runs this
// program's GOOS and GOARCH, a second session streams this program
// (os.Executable) to a mktemp directory under the node's
// ${TMPDIR:-/tmp}, checks its size, runs it as above and removes it on
// exit. [Options.Command] replaces all of that with a command of the
// user's (sudo, a path, a container runtime).
//
//	members, err := remote.Collect(ctx, targets, remote.Options{})
//
// Every node is collected at once. A node that fails is a *[NodeError]
// naming the node and why, from ssh's exit status and the tail of its
// stderr; [Collect] reports every failed node in one *[Error] and no
// members at all, since a cluster verdict over the nodes that answered
// would judge a cluster that is not there.
package remote
