package remote

import (
	"errors"
	"fmt"
	"strings"
)

// Errors that a *[NodeError] wraps, for callers that branch on why.
var (
	// ErrSSH: ssh exited 255, its own failure (ssh(1), OpenSSH 9.2,
	// EXIT STATUS: "ssh exits with the exit status of the remote command
	// or with 255 if an error occurred"): it could not resolve, connect
	// or authenticate, the host key was unknown or changed, or the
	// connection broke.
	ErrSSH = errors.New("ssh failed")
	// ErrNoEtcdpki: the node has no etcdpki and none was streamed to it.
	ErrNoEtcdpki = errors.New("etcdpki is not installed on the node")
	// ErrNoBundle: the command ran, and stdout held no bundle.
	ErrNoBundle = errors.New("the node sent no etcdpki bundle")
)

// NodeError is a node that gave no bundle: which node, and why.
type NodeError struct {
	// URL names the node as the user gave it.
	URL string
	// ExitStatus is ssh's: the remote command's own, or 255 for ssh's
	// failure; -1 when ssh did not exit by itself (it did not start, or
	// it was stopped).
	ExitStatus int
	// Stderr is the tail of what ssh and the node wrote to stderr, its
	// lines joined by "; ", made safe for a terminal.
	Stderr string
	// Err says what went wrong; it may wrap [ErrSSH], [ErrNoEtcdpki] or
	// [ErrNoBundle].
	Err error
}

func (e *NodeError) Error() string {
	s := e.URL + ": " + e.Err.Error()
	if e.Stderr != "" {
		s += ": " + e.Stderr
	}
	return s
}

func (e *NodeError) Unwrap() error { return e.Err }

// Error is every node that [Collect] could not read. errors.As finds
// each *[NodeError] in it.
type Error struct {
	// Nodes is how many nodes were collected.
	Nodes int
	// Failed are the nodes that gave no bundle, in the order given.
	Failed []*NodeError
}

func (e *Error) Error() string {
	if len(e.Failed) == 1 && e.Nodes == 1 {
		return e.Failed[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d nodes gave no bundle:", len(e.Failed), e.Nodes)
	for _, f := range e.Failed {
		b.WriteString("\n  " + f.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f
	}
	return errs
}
