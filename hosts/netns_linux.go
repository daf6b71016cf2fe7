package hosts

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// netnsDir is where ip netns add bind-mounts a namespace (iproute2's
// NETNS_RUN_DIR).
const netnsDir = "/var/run/netns"

// dialIn dials addr from inside namespace netns. setns(2) moves only the
// calling thread, so the dialing goroutine keeps its thread for the
// duration: it enters the namespace, creates and connects the socket, and
// goes back. A socket stays in the namespace it was created in for its
// whole life, so the connection is the namespace's, as if a process on
// that host had made it: it leaves from the host's address, and
// 127.0.0.1 is the host's own lo.
func dialIn(ctx context.Context, netns, network, addr string) (net.Conn, error) {
	target, err := os.Open(filepath.Join(netnsDir, netns))
	if err != nil {
		return nil, err
	}
	defer target.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	c := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			c <- result{nil, err}
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			c <- result{nil, os.NewSyscallError("setns", err)}
			return
		}
		// A literal address is dialed on this goroutine, without the
		// helper goroutines a name with several addresses would get.
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		// Otherwise the thread stays locked and the runtime ends it with
		// this goroutine: no other goroutine ever runs in the wrong
		// namespace.
		c <- result{conn, err}
	}()
	r := <-c
	return r.conn, r.err
}

// setProcAttr puts an etcd process in a process group of its own, so that
// Ctrl-C in a terminal (SIGINT to the foreground group) reaches this
// process, which stops the members in order, and not the members
// directly; and has the kernel SIGKILL it if this process dies without
// stopping it (PR_SET_PDEATHSIG, kept across the execve in ip netns
// exec), so that no etcd outlives a crashed run. The kernel sends it when
// the thread that started the process exits; Go ends a thread only when a
// goroutine locked to it exits, which dialIn's does only after failing to
// restore a namespace, and it starts no process.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
