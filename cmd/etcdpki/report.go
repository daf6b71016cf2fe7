package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/spec"
)

// reportFlags are the output flags of the commands that print an audit
// report (check, probe): -o, --fail-on, --warn-within, --no-color.
type reportFlags struct {
	output, failOn string
	warnWithin     spec.Duration
	noColor        bool
	threshold      audit.Severity
}

func (r *reportFlags) register(cmd *cobra.Command, warnHelp string) {
	f := cmd.Flags()
	f.StringVarP(&r.output, "output", "o", "text", "output format: text, json or yaml")
	f.StringVar(&r.failOn, "fail-on", "error", "exit 1 when a finding is at or above this severity: info, warning or error")
	f.Var(&r.warnWithin, "warn-within", warnHelp+" (default 30d; 0 disables)")
	f.BoolVar(&r.noColor, "no-color", false, "never colour the text output")
}

// validate checks -o and --fail-on before any work is done.
func (r *reportFlags) validate() error {
	t, err := audit.ParseSeverity(r.failOn)
	if err != nil {
		return usagef("--fail-on: %v", err)
	}
	r.threshold = t
	if r.output != "text" && r.output != "json" && r.output != "yaml" {
		return usagef("unknown output format %q (want text, json or yaml)", r.output)
	}
	return nil
}

// warn is the expiry warning window for audit.Options.WarnWithin: zero
// (the default) when the flag is unset, negative when set to 0 (off).
func (r *reportFlags) warn(cmd *cobra.Command) time.Duration {
	if !cmd.Flags().Changed("warn-within") {
		return 0
	}
	if r.warnWithin == 0 {
		return -1
	}
	return time.Duration(r.warnWithin)
}

// report is what check and probe print.
type report interface {
	WriteJSON(io.Writer) error
	WriteYAML(io.Writer) error
	WriteText(w io.Writer, color bool) error
	Fails(audit.Severity) bool
}

// emit prints rep in the chosen format and turns findings at or above
// --fail-on into exit status 1.
func (r *reportFlags) emit(cmd *cobra.Command, rep report) error {
	w := cmd.OutOrStdout()
	var err error
	switch r.output {
	case "json":
		err = rep.WriteJSON(w)
	case "yaml":
		err = rep.WriteYAML(w)
	default:
		err = rep.WriteText(w, !r.noColor && isTerminal(w))
	}
	if err != nil {
		return err
	}
	if rep.Fails(r.threshold) {
		return &silentError{code: exitFailure}
	}
	return nil
}
