package hosts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// ipCommand is iproute2's ip; a variable so that tests can point it
// elsewhere.
var ipCommand = "ip"

// PlatformError says why hosts mode cannot run on this machine. Nothing
// has been created when it is returned.
type PlatformError struct {
	Reason string
}

func (e *PlatformError) Error() string {
	return "hosts mode needs Linux, root and iproute2: " + e.Reason
}

// Supported reports whether hosts mode can run here: Linux, running as
// root, and iproute2's ip (with JSON output and batch mode, iproute2 4.14
// or later) on PATH. It returns a *PlatformError saying what is missing.
func Supported() error {
	if runtime.GOOS != "linux" {
		return &PlatformError{Reason: "network namespaces are Linux's, and this is " + runtime.GOOS}
	}
	if os.Geteuid() != 0 {
		return &PlatformError{Reason: fmt.Sprintf("creating network namespaces, a bridge and veths needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); running as uid %d", os.Geteuid())}
	}
	path, err := exec.LookPath(ipCommand)
	if err != nil {
		return &PlatformError{Reason: "no ip command on PATH (install iproute2)"}
	}
	out, err := exec.Command(path, "-V").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("iproute2")) {
		return &PlatformError{Reason: fmt.Sprintf("%s -V does not say iproute2 (%q); hosts mode needs iproute2's ip, not busybox's", path, strings.TrimSpace(string(out)))}
	}
	return nil
}

// IPError is an ip command that failed, with what ip printed.
type IPError struct {
	Args   []string
	Input  string // the batch, for ip -batch -
	Stderr string
	Err    error
}

func (e *IPError) Error() string {
	s := "ip " + strings.Join(e.Args, " ")
	if msg := strings.TrimSpace(e.Stderr); msg != "" {
		return s + ": " + msg
	}
	return fmt.Sprintf("%s: %v", s, e.Err)
}

func (e *IPError) Unwrap() error { return e.Err }

// ip runs ip with args and input on its stdin, and returns its stdout.
func ip(ctx context.Context, input string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, ipCommand, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(input)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &IPError{Args: args, Input: input, Stderr: stderr.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// batch runs lines with one ip process (ip -batch -), in namespace netns
// when it is not empty (ip -n NETNS). Without force ip stops at the first
// line that fails, so a network is built in order and the error names the
// step; with force it goes on (ip -force), as teardown wants.
func batch(ctx context.Context, netns string, force bool, lines ...string) error {
	if len(lines) == 0 {
		return nil
	}
	var args []string
	if netns != "" {
		args = append(args, "-n", netns)
	}
	if force {
		args = append(args, "-force")
	}
	args = append(args, "-batch", "-")
	_, err := ip(ctx, strings.Join(lines, "\n")+"\n", args...)
	return err
}

// link is a network interface as ip -j link lists it.
type link struct {
	Name   string   `json:"ifname"`
	Kind   string   `json:"-"`
	Flags  []string `json:"flags"`
	Master string   `json:"master"`
	State  string   `json:"operstate"`
}

// links lists the root namespace's interfaces of a type (ip link show type
// bridge/veth).
func links(ctx context.Context, typ string) ([]link, error) {
	out, err := ip(ctx, "", "-j", "link", "show", "type", typ)
	if err != nil {
		return nil, err
	}
	var ls []link
	if err := decodeJSON(out, &ls); err != nil {
		return nil, fmt.Errorf("ip -j link show type %s: %w", typ, err)
	}
	for i := range ls {
		ls[i].Kind = typ
	}
	return ls, nil
}

// namespaces lists the named network namespaces (ip netns list, i.e. the
// bind mounts in /run/netns).
func namespaces(ctx context.Context) ([]string, error) {
	out, err := ip(ctx, "", "-j", "netns", "list")
	if err != nil {
		return nil, err
	}
	var ns []struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(out, &ns); err != nil {
		return nil, fmt.Errorf("ip -j netns list: %w", err)
	}
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.Name
	}
	return names, nil
}

// decodeJSON reads ip's JSON output; ip prints nothing at all, not [],
// when there is nothing to list.
func decodeJSON(out []byte, v any) error {
	if len(bytes.TrimSpace(out)) == 0 {
		return nil
	}
	return json.Unmarshal(out, v)
}
