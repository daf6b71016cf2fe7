package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

var updateScripts = flag.Bool("update", false, "rewrite the files that cmp compares against in testdata/script/*.txtar")

// TestMain makes the test binary double as the etcdpki command: scripts run
// it as "exec etcdpki …", a separate process with its own exit code, as
// users run it.
func TestMain(m *testing.M) {
	testscript.Main(cleanupM{m}, map[string]func(){
		"etcdpki": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *updateScripts,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
			"perm":     cmdPerm,
			"waitfile": cmdWaitfile,
		},
	})
}

// cmdExitcode is "exitcode N PROGRAM [ARGS…]": it runs PROGRAM as exec
// does and requires exit status N. stdout and stderr then check its output.
// (exec's negation, "! exec", accepts any non-zero status; the CLI's codes
// mean different things: 1 failure, 2 usage.)
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdWaitfile is "waitfile PATH": it waits up to a minute for PATH to
// exist (a background up's control socket).
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
	}
	ts.Fatalf("%s did not appear within a minute", args[0])
}

// cmdPerm is "perm MODE FILE…": every FILE has permission bits MODE (octal).
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: perm MODE FILE...")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	for _, f := range args[1:] {
		st, err := os.Stat(ts.MkAbs(f))
		ts.Check(err)
		got := st.Mode().Perm()
		if (uint64(got) == want) == neg {
			ts.Fatalf("%s has mode %#o; want %s%#o", f, got, map[bool]string{true: "not ", false: ""}[neg], want)
		}
	}
}
