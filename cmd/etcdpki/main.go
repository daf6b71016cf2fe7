// Command etcdpki makes, checks and proves the TLS PKI of etcd clusters.
//
// The commands are thin: they parse flags, call the library packages
// (pki, spec, layout, render, local) and print. Every command returns its
// error to run, the one place that maps errors to exit codes, so that
// deferred clean-up (an in-process etcd cluster, temp dirs) always runs.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/remote"
	"github.com/etcdpki/etcdpki/spec"
)

// Exit codes, as documented in the README.
const (
	exitOK      = 0
	exitFailure = 1 // findings at or above the threshold, or a failed verification
	exitUsage   = 2 // bad flags, bad spec, bad input files
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var silent *silentError
	if errors.As(err, &silent) {
		return silent.code
	}
	fmt.Fprintf(stderr, "etcdpki: error: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(stderr, "etcdpki: hint: %s\n", h)
	}
	return exitCode(err)
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "etcdpki",
		Short: "Make, check and prove the TLS PKI of etcd clusters",
		Long: `etcdpki makes, checks and proves the mutual-TLS PKI of etcd clusters: the
certificates behind ports 2379 (clients) and 2380 (peers) of a kubeadm HA
control plane or a standalone etcd cluster.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentVersion().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	root.AddCommand(newInitCmd(), newFlagsCmd(), newUpCmd(), newCheckCmd(), newExplainCmd(), newProbeCmd(), newDemoCmd(), newEtcdCmd(), newVersionCmd())
	root.AddCommand(lifecycleCommands()...)
	root.AddCommand(newInstallCmd(), newCollectCmd())
	root.AddCommand(operateCommands()...)
	registerCompletions(root)
	// cobra's completion command prints its help and exits 0 for a shell
	// it does not know ("completion tcsh"): that is a usage error.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usagef("unknown shell %q (want bash, zsh, fish or powershell)", args[0])
				}
				return cmd.Help()
			}
		}
	}
	return root
}

// usageError marks an error as the user's (exit code 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErr(err error) error { return &usageError{err} }

func usagef(format string, args ...any) error { return usageErr(fmt.Errorf(format, args...)) }

// silentError carries an exit code for a command that has already reported
// its outcome (e.g. a failed verification it printed itself).
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// hintError attaches a hint to an error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err, hint}
}

func exitCode(err error) int {
	var ue *usageError
	var ce *layout.ConflictError
	var fe *layout.FileError
	var nf *member.NotFoundError
	var ae *layout.AlgorithmError
	var re *remote.NodeError
	switch {
	case errors.As(err, &ue), spec.IsValidationError(err), errors.As(err, &ce), errors.As(err, &fe), errors.As(err, &nf), errors.As(err, &ae),
		errors.As(err, &re): // a node read over ssh that gave no bundle is bad input, as a bad bundle file is
		return exitUsage
	case strings.HasPrefix(err.Error(), "unknown command "), cobraArgError(err.Error()):
		// cobra's own errors for an unknown subcommand, a stray argument
		// (cobra.NoArgs) or a wrong number of them; they have no type to
		// match.
		return exitUsage
	}
	return exitFailure
}

func hint(err error) string {
	var he *hintError
	var ce *layout.ConflictError
	var ae *layout.AlgorithmError
	switch {
	case errors.As(err, &he):
		return he.hint
	case errors.As(err, &ce):
		return ce.Hint
	case errors.As(err, &ae):
		return ae.Hint()
	case spec.IsValidationError(err):
		return "see 'etcdpki help init' for the spec format"
	case errors.Is(err, remote.ErrSSH):
		return "run 'ssh -o BatchMode=yes HOST true' to see ssh's own account; a host key ssh does not know yet is accepted by connecting once by hand"
	case errors.Is(err, remote.ErrNoEtcdpki):
		return "install etcdpki on the node, or give --remote-command"
	}
	return ""
}

// cobraArgError recognises cobra's positional-argument errors
// (cobra.MinimumNArgs, MaximumNArgs, ExactArgs, RangeArgs, OnlyValidArgs).
func cobraArgError(msg string) bool {
	for _, p := range []string{"requires at least ", "accepts at most ", "accepts between ", "invalid argument "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return strings.HasPrefix(msg, "accepts ") && strings.Contains(msg, " arg(s), received ")
}
