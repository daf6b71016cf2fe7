// Package sshtest starts real OpenSSH servers (Debian's openssh-server,
// /usr/sbin/sshd) on 127.0.0.1 for tests that read nodes over ssh, and
// writes the ssh_config a client uses to reach exactly them: a generated
// client key, and known_hosts holding each server's generated host key,
// so that host keys are checked (StrictHostKeyChecking yes), not waved
// through.
//
//	f := sshtest.New(t)                       // skips without root or sshd
//	n := f.Start(t, map[string]string{"PATH": bin + ":/usr/bin:/bin"})
//	exec.Command("ssh", "-F", f.Config, "-p", n.Port, "127.0.0.1", "true")
//
// Each server runs as root, since sshd only changes to another user as
// root, with the environment of its sessions set by SetEnv (HOME is a
// fresh directory unless given, so the remote shell reads no rc file of
// the user's). It needs the privilege separation user sshd and directory
// /run/sshd that the package's service provides; the directory is made
// when missing, as the service does (RuntimeDirectory=sshd).
package sshtest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// SSHD is Debian's OpenSSH server.
const SSHD = "/usr/sbin/sshd"

// Fleet is the client side of the servers a test starts: its key and
// known_hosts, in Config.
type Fleet struct {
	// Config is the ssh_config file for ssh -F.
	Config string
	dir    string
	key    string
	known  string
	mu     sync.Mutex
}

// Node is one running sshd.
type Node struct {
	// Host and Port are where it listens.
	Host, Port string
	cmd        *exec.Cmd
	log        *logBuffer
	stopOnce   sync.Once
}

// New writes a client key and ssh_config in a temporary directory. It
// skips t under -short, when not root, and without sshd, ssh or
// ssh-keygen (fails for those on CI, CI=true, which installs them).
func New(t testing.TB) *Fleet {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not starting sshd")
	}
	if os.Geteuid() != 0 {
		t.Skip("starting sshd needs root: it serves logins as root only when run as root")
	}
	// CI installs OpenSSH (.ci/run): there a missing piece must not pass
	// as a skip.
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if _, err := os.Stat(SSHD); err != nil {
		skip("no OpenSSH server (%v): apt-get install openssh-server", err)
	}
	for _, p := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			skip("no %s: apt-get install openssh-client", p)
		}
	}
	if _, err := user.Lookup("sshd"); err != nil {
		skip("no privilege separation user sshd (%v): apt-get install openssh-server", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		skip("sshd's privilege separation directory: %v", err)
	}
	dir := t.TempDir()
	f := &Fleet{Config: filepath.Join(dir, "ssh_config"), dir: dir, key: filepath.Join(dir, "client_key"), known: filepath.Join(dir, "known_hosts")}
	keygen(t, f.key)
	if err := os.WriteFile(f.known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Only this file: no agent, no key of the user's, no multiplexing,
	// no proxy; the host key must be the one in known_hosts.
	conf := fmt.Sprintf(`Host *
  User root
  IdentityFile %s
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  CheckHostIP no
  ControlMaster no
  ControlPath none
  CanonicalizeHostname no
  LogLevel ERROR
`, f.key, f.known)
	if err := os.WriteFile(f.Config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Start starts an sshd on 127.0.0.1 on a free port, whose sessions get
// env (sshd's SetEnv), and adds its host key to known_hosts. t's
// cleanup stops it.
func (f *Fleet) Start(t testing.TB, env map[string]string) *Node {
	t.Helper()
	dir, err := os.MkdirTemp(f.dir, "sshd-")
	if err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "host_key")
	keygen(t, hostKey)
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if env["HOME"] == "" {
		home := filepath.Join(dir, "home")
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		env = withEnv(env, "HOME", home)
	}
	// A free port may be taken between here and sshd's bind: try again.
	var lastLog string
	for range 5 {
		port := freePort(t)
		n, ok := f.start(t, dir, hostKey, port, env)
		if ok {
			f.mu.Lock()
			defer f.mu.Unlock()
			line := fmt.Sprintf("[127.0.0.1]:%s %s", port, strings.TrimSpace(string(pub)))
			kh, err := os.OpenFile(f.known, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer kh.Close()
			if _, err := fmt.Fprintln(kh, line); err != nil {
				t.Fatal(err)
			}
			return n
		}
		lastLog = n.Log()
	}
	t.Fatalf("sshd did not start:\n%s", lastLog)
	return nil
}

func (f *Fleet) start(t testing.TB, dir, hostKey, port string, env map[string]string) (*Node, bool) {
	t.Helper()
	auth := filepath.Join(dir, "authorized_keys")
	pub, err := os.ReadFile(f.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	var setenv []string
	for k, v := range env {
		if strings.ContainsAny(k+v, "\"\\\n") {
			t.Fatalf("sshtest: %s=%q: no quotes, backslashes or newlines in SetEnv", k, v)
		}
		setenv = append(setenv, `"`+k+"="+v+`"`)
	}
	sort.Strings(setenv)
	// -f: this file only, not /etc/ssh/sshd_config. No PAM, no pid
	// file, no strict modes on the temporary directory; public keys
	// only, logins as root, nothing forwarded.
	conf := fmt.Sprintf(`ListenAddress 127.0.0.1:%s
HostKey %s
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100
LogLevel INFO
SetEnv %s
`, port, hostKey, auth, strings.Join(setenv, " "))
	confPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &Node{Host: "127.0.0.1", Port: port, log: &logBuffer{ready: make(chan struct{})}}
	// -D: no daemon; -e: the log on stderr, where "Server listening"
	// says it is ready.
	n.cmd = exec.Command(SSHD, "-D", "-e", "-f", confPath)
	n.cmd.Stderr = n.log
	// The sessions' sshd processes log to the same stderr and may
	// outlive a stopped server.
	n.cmd.WaitDelay = time.Second
	n.log.want = "Server listening on 127.0.0.1 port " + port + "."
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { n.cmd.Wait(); close(exited) }()
	t.Cleanup(func() { n.Stop(); <-exited })
	select {
	case <-n.log.ready:
		return n, true
	case <-exited:
		return n, false
	case <-time.After(20 * time.Second):
		t.Fatalf("sshd on port %s: not listening after 20s:\n%s", port, n.Log())
	}
	return n, false
}

// URL is the node's ssh:// URL with path, as root.
func (n *Node) URL(path string) string {
	return "ssh://root@" + net.JoinHostPort(n.Host, n.Port) + path
}

// Stop stops the sshd: its port refuses connections from then on.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		if n.cmd.Process != nil {
			n.cmd.Process.Kill()
		}
	})
}

// Log is what the sshd logged so far.
func (n *Node) Log() string { return n.log.String() }

// keygen writes an ed25519 key pair to path and path.pub.
func keygen(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sshtest", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// withEnv is a copy of env with k set to v.
func withEnv(env map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for ek, ev := range env {
		out[ek] = ev
	}
	out[k] = v
	return out
}

// logBuffer keeps sshd's log and closes ready at the line it waits for.
type logBuffer struct {
	mu    sync.Mutex
	buf   strings.Builder
	want  string
	ready chan struct{}
	seen  bool
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if !b.seen {
		sc := bufio.NewScanner(strings.NewReader(b.buf.String()))
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == b.want {
				b.seen = true
				close(b.ready)
				break
			}
		}
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
