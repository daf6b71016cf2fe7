package remote

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/etcdpki/etcdpki/internal/output"
	"github.com/etcdpki/etcdpki/internal/readfile"
	"github.com/etcdpki/etcdpki/member"
)

// Options tune [Collect] and [Fetch]. The zero value runs the ssh on
// $PATH with the user's ssh config and streams this program to nodes
// without etcdpki.
type Options struct {
	// SSH is the ssh client to run; empty is "ssh" on $PATH.
	SSH string
	// Config is an ssh_config file that ssh reads instead of
	// ~/.ssh/config and /etc/ssh/ssh_config (ssh -F).
	Config string
	// SSHOptions are ssh -o options, "Key=Value". ssh takes the first
	// value it is given of each option, so these win over the user's
	// config and over ConnectTimeout and the keep-alives set here; not
	// over BatchMode and the forwardings turned off, which come first.
	SSHOptions []string
	// ConnectTimeout bounds the TCP connect and the ssh handshake
	// (ssh's ConnectTimeout); zero is 10 seconds.
	ConnectTimeout time.Duration

	// Command, when set, is what runs on the node instead of etcdpki
	// collect: ssh hands it to the remote user's login shell as given,
	// and its stdout must be a bundle ("sudo etcdpki collect --local",
	// "/opt/bin/etcdpki collect /srv/copy"). No etcdpki is streamed,
	// and a Target's Path has no say.
	Command string
	// Sudo runs collect as root with "sudo -n", which fails rather
	// than asks for a password. Key files are root's on most layouts:
	// without root, collect reports them unreadable.
	Sudo bool
	// Layout is collect's --layout on the node; empty detects it.
	Layout string
	// Binary is the etcdpki streamed to a node that has none; it must
	// be built for this program's GOOS and GOARCH, which is what the
	// node's uname is held to. Empty is os.Executable.
	Binary string
	// NoStream fails a node without etcdpki (with [ErrNoEtcdpki])
	// instead of streaming Binary to it.
	NoStream bool
	// Parallel caps how many nodes are collected at once; zero is 32.
	Parallel int
	// Timeout bounds all of one node's collection, streaming included
	// (the keep-alives end a dead connection, not a command that hangs
	// on the node, e.g. on a stale mount); zero is DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is Options.Timeout's default: a node's collection,
// streaming a 100 MB etcdpki over a slow link included.
const DefaultTimeout = 5 * time.Minute

// maxStderr is how much of ssh's stderr is kept: its tail, where ssh's
// own error and the remote command's last words are.
const maxStderr = 16 << 10

// Collect collects every target's node at once (see [Fetch]) and
// returns each node's members in the order of targets, read from its
// bundle as a bundle file is ([member.Bundle.Load]). If any node fails,
// Collect returns no members and an *[Error] holding every failed
// node's *[NodeError].
func Collect(ctx context.Context, targets []Target, opts Options) ([][]*member.Member, error) {
	out := make([][]*member.Member, len(targets))
	errs := make([]*NodeError, len(targets))
	limit := opts.Parallel
	if limit <= 0 {
		limit = 32
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := Fetch(ctx, t, opts)
			if err == nil {
				if out[i], err = b.Load(); err != nil {
					err = &NodeError{URL: t.URL, ExitStatus: 0, Err: fmt.Errorf("%w: %w", ErrNoBundle, err)}
				}
			}
			if err != nil {
				var ne *NodeError
				if !errors.As(err, &ne) {
					ne = &NodeError{URL: t.URL, ExitStatus: -1, Err: err}
				}
				errs[i] = ne
			}
		})
	}
	wg.Wait()
	all := &Error{Nodes: len(targets)}
	for _, e := range errs {
		if e != nil {
			all.Failed = append(all.Failed, e)
		}
	}
	if len(all.Failed) > 0 {
		return nil, all
	}
	return out, nil
}

// Fetch runs etcdpki collect on t's node over ssh and returns the
// bundle it writes. It runs, in one ssh session, the node's etcdpki;
// if the node has none (and opts.NoStream is off), it checks the node's
// uname against this program's platform and, in a second session,
// streams opts.Binary to the node and runs that (see the package
// documentation). opts.Command replaces both. The bundle is read from
// ssh's stdout, at most as large as a bundle file may be
// (layout.MaxFileSize). The error is a *[NodeError].
func Fetch(ctx context.Context, t Target, opts Options) (*member.Bundle, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if opts.Command != "" {
		return opts.run(ctx, t, opts.Command, nil).bundle(modeCommand)
	}
	args := collectArgs(t, opts.Layout)
	res := opts.run(ctx, t, shellLine(probeScript(opts.Sudo), args), nil)
	if res.uname == nil {
		return res.bundle(modeInstalled)
	}
	fail := func(format string, a ...any) (*member.Bundle, error) {
		return nil, &NodeError{URL: t.URL, ExitStatus: res.exit, Err: fmt.Errorf("%w (not on the PATH of a non-interactive ssh session): "+format, append([]any{ErrNoEtcdpki}, a...)...)}
	}
	system, machine := res.uname[0], res.uname[1]
	switch {
	case opts.NoStream:
		return fail("install it there, or give a remote command")
	case !runsOn(runtime.GOOS, runtime.GOARCH, system, machine):
		return fail("this etcdpki is built for %s and the node runs %s %s: install etcdpki there, or give a remote command", thisPlatform(), output.Safe(system), output.Safe(machine))
	}
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fail("streaming this etcdpki: %v", err)
		}
	}
	f, err := os.Open(bin)
	if err != nil {
		return fail("streaming etcdpki: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail("streaming etcdpki: %v", err)
	}
	return opts.run(ctx, t, shellLine(streamScript(st.Size(), opts.Sudo), args), f).bundle(modeStreamed)
}

// result is one ssh run.
type result struct {
	url      string
	exit     int // ssh's exit status, -1 if it did not exit by itself
	err      error
	stdout   []byte
	overflow bool
	stderr   string        // the tail, for people
	uname    []string      // a node without etcdpki: its uname -s and -m
	limit    time.Duration // Options.Timeout, for its error
}

// run runs line on t's node with stdin (nil for none).
func (o Options) run(ctx context.Context, t Target, line string, stdin *os.File) *result {
	ssh := o.SSH
	if ssh == "" {
		ssh = "ssh"
	}
	cmd := exec.CommandContext(ctx, ssh, o.sshArgs(t, line)...)
	stdout := &capWriter{max: readfile.MaxSize}
	stderr := &tailWriter{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if stdin != nil {
		cmd.Stdin = stdin
	}
	// A process that ssh leaves behind holding its stderr (a
	// ControlMaster it forked) must not hold Wait up once ssh exits.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if stdout.over {
		// OpenSSH drops the rest of the output once stdout refuses it
		// and exits 0 (OpenSSH 9.2): cmd.Run's error is the copy's, and
		// the overflow says what happened.
		err = nil
	}
	r := &result{url: t.URL, exit: -1, stdout: stdout.buf.Bytes(), overflow: stdout.over, limit: cmp.Or(o.Timeout, DefaultTimeout)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	case err == nil || errors.Is(err, exec.ErrWaitDelay):
		r.exit = 0
	case ctx.Err() != nil:
		r.err = ctx.Err()
	default:
		r.err = err
	}
	if ee != nil && ee.ExitCode() == -1 && ctx.Err() != nil {
		r.exit, r.err = -1, ctx.Err()
	}
	r.stderr, r.uname = readStderr(stderr.bytes())
	if r.exit != 127 {
		r.uname = nil
	}
	return r
}

// sshArgs are ssh's arguments to run line on t's node. ssh(1) takes the
// first value of each option, from the command line before any config
// file: BatchMode (never a prompt for a password, a passphrase or an
// unknown host key, which would hang a run over many nodes), and no
// remote command, tty or forwarding from the user's config, come before
// the user's options; the timeouts after, as defaults.
func (o Options) sshArgs(t Target, line string) []string {
	var args []string
	if o.Config != "" {
		args = append(args, "-F", o.Config)
	}
	args = append(args, "-o", "BatchMode=yes", "-o", "RemoteCommand=none", "-o", "RequestTTY=no",
		"-o", "ForwardAgent=no", "-o", "ForwardX11=no", "-o", "ClearAllForwardings=yes")
	for _, so := range o.SSHOptions {
		args = append(args, "-o", so)
	}
	timeout := o.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	// A dead connection ends after 3 unanswered keep-alives, 30 s.
	args = append(args, "-o", "ConnectTimeout="+strconv.Itoa(int((timeout+time.Second-1)/time.Second)),
		"-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3")
	if t.Port != "" {
		args = append(args, "-p", t.Port)
	}
	if t.User != "" {
		args = append(args, "-l", t.User)
	}
	return append(args, "--", t.Host, line)
}

// Where the command came from, for what its exit status means.
type mode int

const (
	modeInstalled mode = iota // the node's own etcdpki (or no etcdpki, no sh)
	modeStreamed              // the etcdpki streamed to the node
	modeCommand               // Options.Command
)

// bundle reads the run's bundle, or says why there is none.
func (r *result) bundle(m mode) (*member.Bundle, error) {
	fail := func(err error) (*member.Bundle, error) {
		return nil, &NodeError{URL: r.url, ExitStatus: r.exit, Stderr: r.stderr, Err: err}
	}
	what := map[mode]string{modeInstalled: "collect", modeStreamed: "collect (etcdpki streamed to the node)", modeCommand: "the remote command"}[m]
	switch {
	case r.overflow:
		// Checked first: ssh exits 255, 0 or by SIGPIPE once stdout
		// refuses it.
		return fail(fmt.Errorf("%w: it wrote more than %d bytes to stdout, more than a bundle may be", ErrNoBundle, readfile.MaxSize))
	case r.err != nil && errors.Is(r.err, context.DeadlineExceeded):
		return fail(fmt.Errorf("no bundle within %s (--ssh-timeout): ssh or the command hangs on the node", r.limit))
	case r.err != nil:
		return fail(fmt.Errorf("running ssh: %w", r.err))
	case r.exit == -1:
		return fail(errors.New("ssh did not exit by itself (killed by a signal)"))
	case r.exit == 255 && r.stderr != "":
		// ssh's own message says which of its failures it was.
		return fail(fmt.Errorf("%w (exit status 255)", ErrSSH))
	case r.exit == 255:
		return fail(fmt.Errorf("%w (exit status 255): it could not connect or authenticate, the host key is unknown or changed, or the connection broke", ErrSSH))
	case r.exit == 127 && m == modeCommand:
		return fail(errors.New("the remote command was not found on the node (exit status 127)"))
	case r.exit == 127 && m == modeInstalled:
		return fail(errors.New("sh, etcdpki or sudo was not found on the node (exit status 127)"))
	case r.exit == 127:
		return fail(errors.New("the streamed etcdpki did not start on the node (exit status 127): sudo is missing, or the binary is linked against a loader the node lacks (build it with CGO_ENABLED=0)"))
	case r.exit == 126 && m == modeStreamed:
		return fail(errors.New("the streamed etcdpki could not be run on the node (exit status 126): is ${TMPDIR:-/tmp} mounted noexec there? install etcdpki on the node, or give a remote command"))
	case r.exit == 126:
		return fail(fmt.Errorf("%s could not be run on the node (exit status 126)", what))
	case r.exit == exitScript && m == modeStreamed:
		return fail(fmt.Errorf("the node did not receive etcdpki (exit status %d)", exitScript))
	case r.exit != 0:
		return fail(fmt.Errorf("%s failed on the node (exit status %d)", what, r.exit))
	case len(bytes.TrimSpace(r.stdout)) == 0:
		return fail(fmt.Errorf("%w: %s wrote nothing to stdout", ErrNoBundle, what))
	}
	b, err := member.ReadBundle(bytes.NewReader(r.stdout))
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		// Not JSON at all: say what came instead.
		start := string(r.stdout[:min(len(r.stdout), 40)])
		return fail(fmt.Errorf("%w: stdout is no JSON (%v), it starts %s: does a login script print?", ErrNoBundle, syntax, output.Safe(strconv.Quote(start))))
	case err != nil:
		return fail(fmt.Errorf("%w: %w", ErrNoBundle, err))
	}
	return b, nil
}

// readStderr returns the last lines of stderr for people, without the
// scripts' absent marker, and the node's uname when the marker is there.
func readStderr(data []byte) (tail string, uname []string) {
	var keep []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, absent); ok {
			if f := strings.Fields(rest); len(f) == 2 {
				uname = f
			}
			continue
		}
		if line != "" {
			keep = append(keep, output.Safe(line))
		}
	}
	// The last few lines say why: ssh's own error, or the remote
	// command's error and hint.
	keep = keep[max(0, len(keep)-4):]
	tail = strings.Join(keep, "; ")
	if cut := len(tail) - 2000; cut > 0 {
		for cut < len(tail) && !utf8.RuneStart(tail[cut]) {
			cut++
		}
		tail = "…" + tail[cut:]
	}
	return tail, uname
}

// capWriter keeps up to max bytes and notes that more came.
type capWriter struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.over || w.buf.Len()+len(p) > w.max {
		w.over = true
		// Stop ssh: it gets EPIPE and exits.
		return 0, errors.New("more than a bundle")
	}
	return w.buf.Write(p)
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

func (w *tailWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf
}
