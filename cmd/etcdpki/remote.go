package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/remote"
)

// remoteFlags are the flags of the commands that read members over ssh
// (ssh:// arguments): check, expiry and graph.
type remoteFlags struct {
	ssh        string
	config     string
	options    []string
	command    string
	sudo       bool
	noStream   bool
	timeout    time.Duration
	registered bool
}

// sshEnv names the ssh client when --ssh is not given.
const sshEnv = "ETCDPKI_SSH"

// remoteHelp is the help text's paragraph on ssh:// members.
const remoteHelp = `A DIR of the form ssh://[user@]host[:port][/path] is a node read over ssh
without copying a key: etcdpki runs the system's ssh (your ~/.ssh/config,
agent and known_hosts; BatchMode, so it never prompts) and, on the node,
'etcdpki collect --local' (or 'collect PATH' for a path), reading the bundle
it writes. A node without etcdpki on its PATH gets this etcdpki streamed
to a temporary directory, run and removed, when its uname says it runs
this platform; --remote-command runs a command of yours instead. All nodes
are read at once; if any fails, the run fails listing each failed node and
why (exit 2).`

func (r *remoteFlags) register(cmd *cobra.Command) {
	r.registered = true
	f := cmd.Flags()
	f.StringVar(&r.ssh, "ssh", "", "the ssh client `PROGRAM` for ssh:// members (default $"+sshEnv+", else ssh)")
	f.StringVar(&r.config, "ssh-config", "", "ssh_config `FILE` that ssh reads instead of ~/.ssh/config (ssh -F)")
	f.StringArrayVar(&r.options, "ssh-option", nil, "ssh -o `OPTION` (Key=Value) for ssh:// members; repeatable")
	f.StringVar(&r.command, "remote-command", "", "`CMD` that the node's shell runs instead of etcdpki collect, writing a bundle to stdout, e.g. 'sudo /opt/bin/etcdpki collect --local'")
	f.BoolVar(&r.sudo, "sudo", false, "run collect on ssh:// nodes as root, with sudo -n (never asks for a password)")
	f.BoolVar(&r.noStream, "no-stream", false, "fail an ssh:// node without etcdpki instead of streaming this etcdpki to it")
	f.DurationVar(&r.timeout, "ssh-timeout", remote.DefaultTimeout, "how long one ssh:// node's collection may take, streaming included")
}

// collect reads the ssh:// arguments among args, all at once; the result
// is keyed by their index in args.
func (r *remoteFlags) collect(args []string, layout string) (map[int][]*member.Member, error) {
	var targets []remote.Target
	var at []int
	for i, a := range args {
		if !remote.IsURL(a) {
			continue
		}
		if !r.registered {
			return nil, withHint(usagef("%s: this command reads member directories and bundle files only", a), "check, expiry and graph read nodes over ssh; or run 'etcdpki collect' on the node")
		}
		t, err := remote.ParseURL(a)
		if err != nil {
			return nil, usageErr(err)
		}
		if t.Path != "" && r.command != "" {
			return nil, usagef("%s: a path says what collect reads, and --remote-command says what runs: give the path in the command", a)
		}
		targets = append(targets, t)
		at = append(at, i)
	}
	if len(targets) == 0 {
		return nil, nil
	}
	if r.sudo && r.command != "" {
		return nil, usagef("--sudo and --remote-command: put sudo in the command")
	}
	ssh := r.ssh
	if ssh == "" {
		ssh = os.Getenv(sshEnv)
	}
	// Ctrl-C ends every ssh at once (they are told by the terminal too,
	// but not by a kill of this process alone).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ms, err := remote.Collect(ctx, targets, remote.Options{
		SSH: ssh, Config: r.config, SSHOptions: r.options, Command: r.command, Sudo: r.sudo, Layout: layout, NoStream: r.noStream, Timeout: r.timeout,
	})
	if err != nil {
		return nil, err
	}
	out := map[int][]*member.Member{}
	for j, i := range at {
		out[i] = ms[j]
	}
	return out, nil
}
