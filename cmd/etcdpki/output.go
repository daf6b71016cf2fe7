package main

import (
	"bytes"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/internal/output"
)

// textJSONYAML are the formats of a command whose report is text or a
// document (the default of outputFlag.register).
var textJSONYAML = []string{"text", "json", "yaml"}

// outputFlag is the -o/--output flag: the format a command reports in. -o
// means this on every command, as in kubectl and etcdctl; the directory
// that init and add-member write is --out, which has no short form.
type outputFlag struct {
	format  string
	formats []string
}

// register adds -o/--output to cmd, taking formats (text, json and yaml
// if none are given; the first is the default), with their completion.
func (o *outputFlag) register(cmd *cobra.Command, formats ...string) {
	if len(formats) == 0 {
		formats = textJSONYAML
	}
	o.formats = formats
	cmd.Flags().StringVarP(&o.format, "output", "o", formats[0], "output `FORMAT`: "+orList(formats))
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return formats, cobra.ShellCompDirectiveNoFileComp
	})
}

// validate refuses a format the command does not write, before any work
// is done. The returned error is a usage error.
func (o *outputFlag) validate() error {
	if slices.Contains(o.formats, o.format) {
		return nil
	}
	return usagef("unknown output format %q (want %s)", o.format, orList(o.formats))
}

// write prints doc as JSON or YAML (by its JSON field names), or calls text
// for the text format.
func (o *outputFlag) write(w io.Writer, doc any, text func(io.Writer) error) error {
	switch o.format {
	case "json":
		return output.JSON(w, doc)
	case "yaml":
		return output.YAML(w, doc)
	}
	return text(w)
}

// writtenJSON makes a library type that writes its own JSON (WriteJSON) a
// document for outputFlag.write, so that its YAML has the same fields.
type writtenJSON func(io.Writer) error

// MarshalJSON implements json.Marshaler.
func (f writtenJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	err := f(&b)
	return b.Bytes(), err
}
