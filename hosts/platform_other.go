//go:build !linux

package hosts

import (
	"context"
	"errors"
	"net"
	"os/exec"
)

// Hosts mode is Linux's; Supported says so before any of these is reached.

var errNotLinux = errors.New("hosts mode needs Linux network namespaces")

type runLock struct{ id string }

func newRunLock(func(string) bool) (*runLock, error) { return nil, errNotLinux }

func (l *runLock) release() {}

func live(string) bool { return false }

func dialIn(context.Context, string, string, string) (net.Conn, error) { return nil, errNotLinux }

func setProcAttr(*exec.Cmd) {}
