package remote

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Target
		err  string
	}{
		{in: "ssh://cp1", want: Target{Host: "cp1"}},
		{in: "ssh://cp1/", want: Target{Host: "cp1"}},
		{in: "ssh://root@10.0.0.11:2222/srv/copy of cp1", want: Target{User: "root", Host: "10.0.0.11", Port: "2222", Path: "/srv/copy of cp1"}},
		{in: "ssh://admin@[::1]:22", want: Target{User: "admin", Host: "::1", Port: "22"}},
		{in: "ssh://cp1/var/lib/rancher/k3s/server", want: Target{Host: "cp1", Path: "/var/lib/rancher/k3s/server"}},
		{in: "ssh://cp1/a%20b", want: Target{Host: "cp1", Path: "/a b"}},
		{in: "cp1", err: "want ssh://"},
		{in: "ssh://", err: "no host"},
		{in: "ssh://-oProxyCommand=x", err: "starts with '-'"},
		{in: "ssh://-l@cp1", err: `user "-l"`},
		{in: "ssh://u:secret@cp1", err: "no password"},
		{in: "ssh://cp1:0", err: "not 1-65535"},
		{in: "ssh://cp1:ssh", err: "invalid port"},
		{in: "ssh://cp1:", err: "empty port"},
		{in: "ssh://cp1/?x=1", err: "no query"},
		{in: "ssh://cp1#x", err: "no query"},
	} {
		got, err := ParseURL(c.in)
		if c.err != "" {
			var ue *URLError
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.As(err, &ue) {
				t.Errorf("ParseURL(%q) = %+v, %v; want a *URLError with %q", c.in, got, err, c.err)
			}
			continue
		}
		c.want.URL = c.in
		if err != nil || got != c.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// TestShellLine: what ssh hands the remote shell reaches the script as
// the same words, quotes, spaces and all, through a real sh.
func TestShellLine(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	args := []string{"collect", "--", "/srv/it's a \"tree\"", "$HOME", "`x`", "a\\b", ""}
	line := shellLine(`for a in "$@"; do printf '[%s]' "$a"; done`, args)
	out, err := exec.Command(sh, "-c", line).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, a := range args {
		want.WriteString("[" + a + "]")
	}
	if string(out) != want.String() {
		t.Errorf("the script saw %s, want %s", out, want.String())
	}
}

// TestScriptsParse: the scripts are valid sh (sh -n), on one line.
func TestScriptsParse(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{probeScript(false), probeScript(true), streamScript(123, false), streamScript(123, true)} {
		if strings.Contains(s, "\n") {
			t.Errorf("a script spans lines: %s", s)
		}
		if out, err := exec.Command(sh, "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v: %s\n%s", err, out, s)
		}
	}
}

func TestRunsOn(t *testing.T) {
	for _, c := range []struct {
		goos, goarch, system, machine string
		want                          bool
	}{
		{"linux", "amd64", "Linux", "x86_64", true},
		{"linux", "arm64", "Linux", "aarch64", true},
		{"darwin", "arm64", "Darwin", "arm64", true},
		{"linux", "amd64", "Linux", "aarch64", false},
		{"linux", "amd64", "Darwin", "x86_64", false},
		{"linux", "arm", "Linux", "armv7l", false},
		{"windows", "amd64", "Linux", "x86_64", false},
	} {
		if got := runsOn(c.goos, c.goarch, c.system, c.machine); got != c.want {
			t.Errorf("runsOn(%s/%s, %s %s) = %v", c.goos, c.goarch, c.system, c.machine, got)
		}
	}
}

func TestReadStderr(t *testing.T) {
	tail, uname := readStderr([]byte("one\n\ntwo\n" + absent + "Linux x86_64\nthree\x1b[2J\nfour\nfive\n"))
	if want := `two; three\x1b[2J; four; five`; tail != want {
		t.Errorf("tail %q, want %q", tail, want)
	}
	if !slices.Equal(uname, []string{"Linux", "x86_64"}) {
		t.Errorf("uname %q", uname)
	}
	long := strings.Repeat("é", 3000)
	if tail, _ := readStderr([]byte(long)); !strings.HasPrefix(tail, "…é") || len(tail) > 2010 {
		t.Errorf("a long tail is cut to %d bytes, starting %q", len(tail), tail[:10])
	}
}

// TestSSHArgs: BatchMode and no remote command come before the user's
// options, which ssh takes first; the timeouts after, so the user's win;
// the host after "--".
func TestSSHArgs(t *testing.T) {
	got := Options{Config: "cfg", SSHOptions: []string{"BatchMode=no", "ConnectTimeout=3"}}.sshArgs(Target{User: "root", Host: "cp1", Port: "2222"}, "LINE")
	at := func(s string) int {
		i := slices.Index(got, s)
		if i < 0 {
			t.Fatalf("no %q in %q", s, got)
		}
		return i
	}
	if !(at("-F") == 0 && at("BatchMode=yes") < at("BatchMode=no") && at("RemoteCommand=none") < at("BatchMode=no") &&
		at("ConnectTimeout=3") < at("ConnectTimeout=10")) {
		t.Errorf("options out of order: %q", got)
	}
	if tail := got[len(got)-7:]; !slices.Equal(tail, []string{"-p", "2222", "-l", "root", "--", "cp1", "LINE"}) {
		t.Errorf("ends %q", tail)
	}
}

func TestErrorText(t *testing.T) {
	a := &NodeError{URL: "ssh://cp1", ExitStatus: 255, Stderr: "ssh: connect to host cp1 port 22: Connection refused", Err: ErrSSH}
	b := &NodeError{URL: "ssh://cp2", ExitStatus: 2, Err: errors.New("collect failed on the node (exit status 2)")}
	err := error(&Error{Nodes: 3, Failed: []*NodeError{a, b}})
	want := "2 of 3 nodes gave no bundle:\n  ssh://cp1: ssh failed: ssh: connect to host cp1 port 22: Connection refused\n  ssh://cp2: collect failed on the node (exit status 2)"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	var ne *NodeError
	if !errors.As(err, &ne) || ne != a || !errors.Is(err, ErrSSH) {
		t.Errorf("errors.As/Is do not find the nodes' errors in %v", err)
	}
	if one := (&Error{Nodes: 1, Failed: []*NodeError{b}}).Error(); one != b.Error() {
		t.Errorf("one node: %q", one)
	}
}
