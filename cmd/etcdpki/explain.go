package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
)

func newExplainCmd() *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   `explain "ERROR TEXT"`,
		Short: "Map an etcd or TLS error message to the rule that is broken and its fix",
		Example: `  etcdpki explain "remote error: tls: bad certificate"
  etcdpki explain 'x509: certificate is valid for 10.0.0.11, 127.0.0.1, ::1, not 10.0.0.12'
  journalctl -u etcd | grep -m1 'rejected connection' | etcdpki explain -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			msg := strings.Join(args, " ")
			if msg == "-" {
				b, err := readAllLimited(cmd.InOrStdin(), 1<<20)
				if err != nil {
					return err
				}
				msg = string(b)
			}
			matches := audit.Explain(msg)
			w := cmd.OutOrStdout()
			if out.format != "text" {
				type jm struct {
					Rule      string `json:"rule"`
					Severity  string `json:"severity"`
					Condition string `json:"condition,omitempty"`
					Title     string `json:"title"`
					Why       string `json:"why"`
					Fix       string `json:"fix"`
					Matched   string `json:"matched"`
					Note      string `json:"note,omitempty"`
				}
				doc := []jm{}
				for _, m := range matches {
					doc = append(doc, jm{string(m.Rule.ID), m.Rule.Severity.String(), m.Rule.Condition, m.Rule.Title, m.Rule.Why, m.Rule.Fix, m.Pattern, m.Note})
				}
				if err := out.write(w, doc, nil); err != nil {
					return err
				}
			} else {
				for i, m := range matches {
					if i > 0 {
						fmt.Fprintln(w)
					}
					cond := ""
					if m.Rule.Condition != "" {
						cond = " [" + m.Rule.Condition + "]"
					}
					fmt.Fprintf(w, "%s%s: %s\n", m.Rule.ID, cond, m.Rule.Title)
					if m.Note != "" {
						fmt.Fprintf(w, "  seen:  %s\n", m.Note)
					}
					fmt.Fprintf(w, "  why:   %s\n  fix:   %s\n", m.Rule.Why, m.Rule.Fix)
				}
			}
			if len(matches) == 0 {
				return withHint(errors.New("no rule matches this message"), "paste the whole error line from etcd's log or the client; 'etcdpki check' finds file problems without one")
			}
			return nil
		},
	}
	out.register(cmd)
	return cmd
}
