package hosts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/etcdpki/etcdpki/render"
)

// stopTimeout is how long a member gets to stop on SIGTERM before it is
// killed. etcd's interrupt handler (etcdmain, osutil.HandleInterrupts)
// closes the server, transferring leadership first, which takes about a
// second with peers.
const stopTimeout = 5 * time.Second

// process is one member's etcd process.
type process struct {
	cmd  *exec.Cmd
	log  *logSink
	done chan struct{} // closed once the process has exited
	err  error         // its exit status, once done
}

// startProcess starts etcd for rc inside h's namespace: ip netns exec
// NETNS etcd… FLAGS, with FLAGS exactly rc.Flags(), what `etcdpki flags`
// prints for the member. etcd is the command that runs etcd (a binary and
// any arguments before etcd's flags).
func startProcess(h *Host, etcd []string, rc *render.Config, log *logSink) (*process, error) {
	args := append([]string{"netns", "exec", h.Netns}, etcd...)
	args = append(args, rc.Flags()...)
	cmd := exec.Command(ipCommand, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// etcd reads nothing else from the environment that matters here, but
	// ETCD_* variables would set flags behind our back (etcd reads every
	// flag from ETCD_<FLAG> too); drop them so the flags are all there is.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("member %s: starting %s: %w", rc.Name, strings.Join(etcd, " "), err)
	}
	p := &process{cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited returns the process's exit as an error, or nil if it runs.
func (p *process) exited() error {
	select {
	case <-p.done:
		if p.err == nil {
			return errors.New("etcd exited")
		}
		return fmt.Errorf("etcd exited: %w", p.err)
	default:
		return nil
	}
}

// await waits until c is closed (nil), the process exits (its exit), or
// ctx ends (ctx's error).
func (p *process) await(ctx context.Context, c <-chan struct{}) error {
	select {
	case <-c:
		return nil
	case <-p.done:
		return p.exited()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop stops the process as a node's init would: SIGTERM, which etcd
// handles by closing the server cleanly, then SIGKILL after stopTimeout.
// A member that never became ready is killed at once: etcd's SIGTERM
// handler is Etcd.Close, which blocks on a server that never became ready
// (it waits for the client servers, which start only once it is;
// etcd-io/etcd#9533), so SIGTERM would only cost stopTimeout.
func (p *process) stop() {
	p.log.mute()
	select {
	case <-p.log.ready:
		p.cmd.Process.Signal(syscall.SIGTERM)
	default:
		p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
	}
}
