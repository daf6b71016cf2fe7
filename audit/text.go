package audit

import (
	"fmt"
	"io"

	"github.com/etcdpki/etcdpki/internal/output"
)

// ANSI colours for the text report; used only when the caller says the
// output is a terminal.
const (
	colorRed    = "\x1b[31m"
	colorYellow = "\x1b[33m"
	colorCyan   = "\x1b[36m"
	colorGreen  = "\x1b[32m"
	colorBold   = "\x1b[1m"
	colorReset  = "\x1b[0m"
)

// WriteText writes the report for people: findings grouped by member,
// each with the rule's fix, then the one-line verdict.
func (r *Report) WriteText(w io.Writer, color bool) error {
	paint := func(c, s string) string {
		if !color {
			return s
		}
		return c + s + colorReset
	}
	sevColor := map[Severity]string{Error: colorRed, Warning: colorYellow, Info: colorCyan}
	byMember := map[string][]Finding{}
	for _, f := range r.Findings {
		byMember[f.Member] = append(byMember[f.Member], f)
	}
	groups := []string{}
	for _, m := range r.Members {
		groups = append(groups, m.Name)
	}
	if len(byMember[""]) > 0 {
		groups = append(groups, "")
	}
	seen := map[string]bool{}
	for _, name := range groups {
		if seen[name] {
			continue
		}
		seen[name] = true
		header := "cluster"
		if name != "" {
			header = "member " + name
			for _, m := range r.Members {
				if m.Name == name {
					if m.Dir != "" && m.Layout != "" && m.Layout != "kubeadm" {
						header += fmt.Sprintf(" (%s, %s, from %s)", m.Dir, m.Layout, m.NameFrom)
					} else if m.Dir != "" {
						header += fmt.Sprintf(" (%s, from %s)", m.Dir, m.NameFrom)
					} else {
						header += fmt.Sprintf(" (from %s)", m.NameFrom)
					}
					break
				}
			}
		}
		fmt.Fprintln(w, paint(colorBold, output.Safe(header)))
		fs := byMember[name]
		if len(fs) == 0 {
			fmt.Fprintln(w, "  "+paint(colorGreen, "ok"))
			continue
		}
		for _, f := range fs {
			fmt.Fprintf(w, "  %-7s %s", paint(sevColor[f.Severity], f.Severity.String()), f.Rule)
			// Names and details quote certificate fields, file names and
			// settings: never raw to a terminal.
			if f.File != "" {
				fmt.Fprintf(w, "  %s", output.Safe(f.File))
			}
			fmt.Fprintf(w, "\n          %s\n", output.Safe(f.Detail))
			if f.Fix != "" && f.Severity > Info {
				// A fix names the member's directories as given.
				fmt.Fprintf(w, "          fix: %s\n", output.Safe(f.Fix))
			} else if rule := f.CatalogueRule(); rule != nil && f.Severity > Info {
				fmt.Fprintf(w, "          fix: %s\n", rule.Fix)
			}
		}
	}
	v := r.Verdict
	// The word agrees with the counts: any error fails (a weak key or an
	// open port breaks nothing yet, but is an error all the same).
	mark := paint(colorGreen, "PASS")
	if !v.ClusterForms || !v.ClientsConnect || v.Errors > 0 {
		mark = paint(colorRed, "FAIL")
	} else if v.Warnings > 0 {
		mark = paint(colorYellow, "WARN")
	}
	_, err := fmt.Fprintf(w, "\n%s %s (%d errors, %d warnings, %d notes)\n", mark, v.Summary, v.Errors, v.Warnings, v.Infos)
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return output.JSON(w, r) }

// WriteYAML writes the report as YAML with the JSON field names.
func (r *Report) WriteYAML(w io.Writer) error { return output.YAML(w, r) }
