package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
)

// reportFlags are the output flags of the commands that print an audit
// report (check, probe): -o, --fail-on, --warn-within, --no-color.
type reportFlags struct {
	out        outputFlag
	failOn     string
	warnWithin *durationFlag
	noColor    bool
	threshold  audit.Severity
}

func (r *reportFlags) register(cmd *cobra.Command, warnHelp string) {
	f := cmd.Flags()
	r.out.register(cmd)
	f.StringVar(&r.failOn, "fail-on", "error", "exit 1 when a finding is at or above this severity: info, warning or error")
	r.warnWithin = durationVar(f, "warn-within", audit.DefaultWarnWithin, warnHelp+"; 0 disables")
	f.BoolVar(&r.noColor, "no-color", false, "never colour the text output")
}

// validate checks -o and --fail-on before any work is done.
func (r *reportFlags) validate() error {
	t, err := audit.ParseSeverity(r.failOn)
	if err != nil {
		return usagef("--fail-on: %v", err)
	}
	r.threshold = t
	return r.out.validate()
}

// warn is the expiry warning window for audit.Options.WarnWithin:
// negative when --warn-within is 0 (off).
func (r *reportFlags) warn() time.Duration { return warnWindow(r.warnWithin) }

// warnWindow is a --warn-within flag as audit.Options.WarnWithin takes it:
// 0 (off) becomes negative, since zero there means the default.
func warnWindow(f *durationFlag) time.Duration {
	if f.Duration() == 0 {
		return -1
	}
	return f.Duration()
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
	switch r.out.format {
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
