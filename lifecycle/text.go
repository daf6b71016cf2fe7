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

// WriteText writes the status as a table, one member a line, followed,
// when a live check ran ([StatusLive]), by what each running member's
// ports serve and accept and a line for each member that is not ready,
// and by the step that is safe next.
func (s *RotationStatus) WriteText(w io.Writer) error {
	var b strings.Builder
	retired := filepath.Join(RetiredCADir(s.Dir), "ca.crt")
	if s.InProgress {
		fmt.Fprintf(&b, "CA rotation in progress in %s\n", s.Dir)
		switch {
		case s.Old != "":
			fmt.Fprintf(&b, "  old CA  %s  (%s)\n", shortFP(s.Old), filepath.Join(layout.CADir(s.Dir), "ca.crt"))
		case s.Retired != "":
			fmt.Fprintf(&b, "  old CA  %s  (%s)\n", shortFP(s.Retired), retired)
		}
		newPath := filepath.Join(NextCADir(s.Dir), "ca.crt")
		if s.Promoted {
			newPath = filepath.Join(layout.CADir(s.Dir), "ca.crt")
		}
		fmt.Fprintf(&b, "  new CA  %s  (%s)\n", shortFP(s.New), newPath)
	} else if s.Retired == "" {
		fmt.Fprintf(&b, "no CA rotation in progress in %s\n", s.Dir)
		fmt.Fprintf(&b, "  CA  %s  (%s)\n", shortFP(s.Old), filepath.Join(layout.CADir(s.Dir), "ca.crt"))
	} else {
		fmt.Fprintf(&b, "no CA rotation in progress in %s\n", s.Dir)
		fmt.Fprintf(&b, "  CA          %s  (%s)\n", shortFP(s.Old), filepath.Join(layout.CADir(s.Dir), "ca.crt"))
		fmt.Fprintf(&b, "  retired CA  %s  (%s), kept until 'rotate-ca status --live' sees every member refuse it\n", shortFP(s.Retired), retired)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTAGE\tTRUSTS\tLEAVES")
	for _, m := range s.Members {
		var trusts []string
		for _, who := range m.Trusts {
			trusts = append(trusts, s.fileName(who))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Stage, strings.Join(trusts, "+"), s.leafSummary(m))
	}
	tw.Flush()
	for _, m := range s.Members {
		if m.Problem != "" {
			fmt.Fprintf(&b, "%s: %s\n", m.Name, m.Problem)
		}
	}
	if s.Running != nil {
		b.WriteString("\nRUNNING (TLS handshakes just now)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tPORT\tURL\tSERVES\tACCEPTS CLIENTS OF")
		for _, m := range s.Running {
			for _, p := range []PortLive{m.Client, m.Peer} {
				if p.Error != "" {
					fmt.Fprintf(tw, "%s\t%s\t%s\tunreachable: %s\t\n", p.Member, p.Port, p.URL, p.Error)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s CA\t%s\n", p.Member, p.Port, p.URL, s.liveName(p.Served), s.accepts(p))
			}
		}
		tw.Flush()
		for _, m := range s.Running {
			if m.Problem != "" {
				fmt.Fprintf(&b, "%s: %s\n", m.Member, m.Problem)
			}
		}
		if s.ForgotRetired != "" {
			fmt.Fprintf(&b, "forgot the retired CA %s: every member refuses it (backup: %s)\n", shortFP(s.ForgotRetired), filepath.Join(s.Dir, s.Backup))
		}
	}
	fmt.Fprintf(&b, "\nnext: %s — %s\n", s.Next, s.Advice)
	_, err := io.WriteString(w, b.String())
	return err
}

// fileName is how the text calls a CA that a member's files are judged
// against (MemberStatus.Trusts and leaves): with no rotation in progress,
// "old" is the one CA there is, the current one.
func (s *RotationStatus) fileName(label string) string {
	if label == "old" && !s.InProgress {
		return "current"
	}
	return label
}

// liveName is how the text calls a CA of [PortLive] (see caWord).
func (s *RotationStatus) liveName(label string) string { return caWord(s.InProgress, label) }

// caWord is how the text calls a CA of [PortLive]: by its label during a
// rotation; after one, "new" is the current CA and "old" the retired one.
// An issuer's label stays as it is.
func caWord(inProgress bool, label string) string {
	switch {
	case inProgress:
		return label
	case label == "old":
		return "retired"
	case label == "new":
		return "current"
	}
	return label
}

// oldTested reports whether the live check tried a client certificate of
// an old CA (see [PortLive]).
func (s *RotationStatus) oldTested() bool {
	return (s.InProgress && !s.Promoted) || s.Retired != "" || s.ForgotRetired != ""
}

// leafSummary says whose the member's leaves are, e.g. "4 old" or
// "2 new (server, peer), 2 old" (see fileName).
func (s *RotationStatus) leafSummary(m MemberStatus) string {
	var parts []string
	mixed := (len(m.OldLeaves) > 0) && (len(m.NewLeaves) > 0 || len(m.OtherLeaves) > 0)
	for _, g := range []struct {
		who   string
		kinds []pki.Kind
	}{{"new", m.NewLeaves}, {"old", m.OldLeaves}, {"other", m.OtherLeaves}} {
		if len(g.kinds) == 0 {
			continue
		}
		s := fmt.Sprintf("%d %s", len(g.kinds), s.fileName(g.who))
		if mixed || g.who == "other" {
			s += " (" + joinKinds(g.kinds) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// accepts lists the CAs whose client certificates a port accepted.
func (s *RotationStatus) accepts(p PortLive) string {
	var who []string
	if p.AcceptsOld {
		who = append(who, s.liveName("old"))
	}
	if p.AcceptsNew {
		who = append(who, s.liveName("new"))
	}
	if len(who) == 0 {
		return "none"
	}
	out := strings.Join(who, ", ")
	if s.oldTested() && !p.AcceptsOld {
		out += " (refuses " + s.liveName("old") + ")"
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
