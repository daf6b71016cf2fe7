package probe

import (
	"fmt"
	"github.com/etcdpki/etcdpki/internal/output"
	"io"
	"text/tabwriter"
	"time"
)

// WriteText writes a table of the endpoints, then the findings and the
// verdict as check prints them.
func (r *Report) WriteText(w io.Writer, color bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tPORT\tURL\tTLS\tSERVED SERIAL\tEXPIRES\tCHAIN\tNAME\tNO-CERT\tFOREIGN-CA\tTLS1.1\tREAD\tMS")
	for _, e := range r.Endpoints {
		serial, expires := "-", "-"
		if e.Served != nil {
			serial = e.Served.Serial
			if len(serial) > 12 {
				serial = serial[:12] + "…"
			}
			expires = e.Served.NotAfter.Format(time.DateOnly)
		}
		tlsv := e.TLSVersion
		if !e.Reachable {
			tlsv = "unreachable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.Member, e.Port, e.URL, tlsv, serial, expires,
			ok(e.ChainOK, "ok", "BAD"), ok(e.NameOK, "ok", "BAD"), ok(e.NoCertRefused, "refused", "ACCEPTED"),
			ok(e.ForeignCARefused, "refused", "ACCEPTED"), ok(e.OldTLSRefused, "refused", "ACCEPTED"), ok(e.ReadOK, "ok", "FAILED"), e.Millis)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return r.Report.WriteText(w, color)
}

func ok(b *bool, yes, no string) string {
	switch {
	case b == nil:
		return "-"
	case *b:
		return yes
	}
	return no
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return output.JSON(w, r) }

// WriteYAML writes the report as YAML with the JSON field names.
func (r *Report) WriteYAML(w io.Writer) error { return output.YAML(w, r) }
