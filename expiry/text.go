package expiry

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/output"
)

// TimeFormat is how kubeadm prints an expiry date.
const TimeFormat = "Jan 02, 2006 15:04 MST"

// ANSI colours for the residual time, used only when the caller says the
// output is a terminal.
const (
	colorRed    = "\x1b[31m"
	colorYellow = "\x1b[33m"
	colorReset  = "\x1b[0m"
)

// WriteText writes the two tables kubeadm prints, with a MEMBER column:
// the leaves, then the CAs, each soonest first; then the files that could
// not be read. With color, residual times under audit.DefaultWarnWithin
// are yellow and expired ones red.
func (r *Report) WriteText(w io.Writer, color bool) error {
	paint := func(secs int64, s string) string {
		switch {
		case !color:
			return s
		case secs < 0:
			return colorRed + s + colorReset
		case secs < int64(audit.DefaultWarnWithin.Seconds()):
			return colorYellow + s + colorReset
		}
		return s
	}
	yesNo := map[bool]string{true: "yes", false: "no"}
	leaves := [][]string{{"CERTIFICATE", "MEMBER", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"}}
	var leafPaint []func(string) string
	for _, c := range r.Certificates {
		if c.Missing {
			// kubeadm's check-expiration: "!MISSING! <name>", nothing else.
			leaves = append(leaves, []string{"!MISSING! " + c.Name, output.Safe(c.Member), "", "", "", ""})
			leafPaint = append(leafPaint, func(s string) string { return paint(-1, s) })
			continue
		}
		ca := c.Authority
		if !c.SignedByMemberCA {
			ca += " (not the member's CA)"
		}
		// Names from certificates and directories: never raw to a terminal.
		leaves = append(leaves, []string{c.Name, output.Safe(c.Member), c.NotAfter.Format(TimeFormat), c.Residual, output.Safe(ca), yesNo[c.ExternallyManaged]})
		secs := c.ResidualSeconds
		leafPaint = append(leafPaint, func(s string) string { return paint(secs, s) })
	}
	cas := [][]string{{"CERTIFICATE AUTHORITY", "MEMBER(S)", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"}}
	var caPaint []func(string) string
	for _, a := range r.Authorities {
		cas = append(cas, []string{output.Safe(a.Name), output.Safe(strings.Join(a.Members, ", ")), a.NotAfter.Format(TimeFormat), a.Residual, yesNo[a.ExternallyManaged]})
		secs := a.ResidualSeconds
		caPaint = append(caPaint, func(s string) string { return paint(secs, s) })
	}
	var b strings.Builder
	if len(r.Certificates) > 0 {
		writeTable(&b, leaves, 3, leafPaint)
		b.WriteString("\n")
	}
	if len(r.Authorities) > 0 {
		writeTable(&b, cas, 3, caPaint)
	}
	if len(r.Certificates)+len(r.Authorities) == 0 {
		b.WriteString("no certificates found\n")
	}
	if len(r.Problems) > 0 {
		b.WriteString("\nnot read:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  %s\n", output.Safe(p.Error()))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable aligns rows in columns three spaces apart, as kubeadm's
// tabwriter does; paint (one per data row) colours column col after the
// padding is worked out, so escape codes do not skew the alignment.
func writeTable(b *strings.Builder, rows [][]string, col int, paint []func(string) string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for r, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			pad := ""
			if i < len(row)-1 {
				pad = strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+3)
			}
			if r > 0 && i == col && paint[r-1] != nil {
				cell = paint[r-1](cell)
			}
			line.WriteString(cell + pad)
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// WriteJSON writes the report as indented JSON (schema: SchemaVersion).
func (r *Report) WriteJSON(w io.Writer) error { return output.JSON(w, r) }

// WriteYAML writes the report as YAML with the same field names as JSON.
func (r *Report) WriteYAML(w io.Writer) error { return output.YAML(w, r) }
