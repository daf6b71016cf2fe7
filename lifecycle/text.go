package lifecycle

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// WriteText writes the status as a table, one member a line, followed by
// what the running members accept (live, when not nil; see CheckLive) and
// the step that is safe next.
func (s *RotationStatus) WriteText(w io.Writer, live []PortLive) error {
	var b strings.Builder
	if s.InProgress {
		fmt.Fprintf(&b, "CA rotation in progress in %s\n", s.Dir)
		if s.Old != "" {
			fmt.Fprintf(&b, "  old CA  %s  (%s)\n", shortFP(s.Old), filepath.Join(layout.CADir(s.Dir), "ca.crt"))
		}
		newPath := filepath.Join(NextCADir(s.Dir), "ca.crt")
		if s.Promoted {
			newPath = filepath.Join(layout.CADir(s.Dir), "ca.crt")
		}
		fmt.Fprintf(&b, "  new CA  %s  (%s)\n", shortFP(s.New), newPath)
	} else {
		fmt.Fprintf(&b, "no CA rotation in progress in %s\n", s.Dir)
		fmt.Fprintf(&b, "  CA  %s  (%s)\n", shortFP(s.Old), filepath.Join(layout.CADir(s.Dir), "ca.crt"))
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTAGE\tTRUSTS\tLEAVES")
	for _, m := range s.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Stage, strings.Join(m.Trusts, "+"), leafSummary(m))
	}
	tw.Flush()
	for _, m := range s.Members {
		if m.Problem != "" {
			fmt.Fprintf(&b, "%s: %s\n", m.Name, m.Problem)
		}
	}
	if live != nil {
		b.WriteString("\nRUNNING (TLS handshakes just now)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tPORT\tURL\tSERVES\tACCEPTS CLIENTS OF")
		for _, p := range live {
			if p.Error != "" {
				fmt.Fprintf(tw, "%s\t%s\t%s\tunreachable: %s\t\n", p.Member, p.Port, p.URL, p.Error)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s CA\t%s\n", p.Member, p.Port, p.URL, p.Served, accepts(p, s))
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\nnext: %s — %s\n", s.Next, s.Advice)
	_, err := io.WriteString(w, b.String())
	return err
}

// leafSummary says whose the member's leaves are, e.g. "4 old" or
// "2 new (server, peer), 2 old".
func leafSummary(m MemberStatus) string {
	var parts []string
	mixed := (len(m.OldLeaves) > 0) && (len(m.NewLeaves) > 0 || len(m.OtherLeaves) > 0)
	for _, g := range []struct {
		who   string
		kinds []pki.Kind
	}{{"new", m.NewLeaves}, {"old", m.OldLeaves}, {"other", m.OtherLeaves}} {
		if len(g.kinds) == 0 {
			continue
		}
		s := fmt.Sprintf("%d %s", len(g.kinds), g.who)
		if mixed || g.who == "other" {
			s += " (" + joinKinds(g.kinds) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// accepts lists the CAs whose client certificates a port accepted.
func accepts(p PortLive, s *RotationStatus) string {
	var who []string
	if p.AcceptsOld {
		who = append(who, "old")
	}
	if p.AcceptsNew {
		who = append(who, "new")
	}
	if len(who) == 0 {
		return "none"
	}
	out := strings.Join(who, ", ")
	if s.old != nil && !p.AcceptsOld && s.InProgress {
		out += " (refuses old)"
	}
	return out
}

// shortFP is the first eight bytes of a fingerprint, enough to tell two
// CAs apart at a glance.
func shortFP(fp string) string {
	if len(fp) > 23 {
		return "SHA-256 " + fp[:23] + "…"
	}
	return "SHA-256 " + fp
}
