package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/readfile"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/spec"
)

func newExplainCmd() *cobra.Command {
	var (
		out    outputFlag
		mf     memberFlags
		log    string
		dir    string
		logger string
	)
	cmd := &cobra.Command{
		Use:   `explain "ERROR TEXT" | explain --log FILE [MEMBER-DIR...]`,
		Short: "Rank the causes of an etcd or TLS error message, or of every TLS failure in a log",
		Long: `Explain one error message: the rule most likely broken first, with the
words of the message that decided it and who rejected whom, then the
alternatives, and the etcdpki command that tells them apart. It reads
etcd's log lines (3.3's text, 3.4+ JSON), kube-apiserver's, etcdctl's,
kubeadm's and the kubelet's errors, journalctl and CRI (crictl, kubectl
logs) prefixes and k3s/RKE2 lines; a pasted message may be wrapped. A
message that is no TLS failure (context deadline exceeded, a connection
closed before its handshake) ranks nothing and says what it is.

With --log FILE (- for stdin) explain reads a whole log instead: every TLS
failure, grouped by remote address and cause, with counts and first and
last time, most frequent first. Member directories (as check takes them,
or --dir for init's output, or -c with the cluster spec) name the member
each remote address belongs to. Other lines are skipped.`,
		Example: `  etcdpki explain "remote error: tls: bad certificate"
  etcdpki explain 'x509: certificate is valid for 10.0.0.11, 127.0.0.1, ::1, not 10.0.0.12'
  journalctl -u etcd | grep -m1 'rejected connection' | etcdpki explain -
  journalctl -u etcd --since -1h | etcdpki explain --log - cp1/ cp2/ cp3/
  kubectl -n kube-system logs etcd-cp1 | etcdpki explain --log - --member cp1 -c cluster.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if log != "" {
				if cmd.Flags().Changed("dir") {
					args = append(args, dir)
				}
				return explainLog(cmd, &out, &mf, log, logger, args)
			}
			if len(args) == 0 {
				return withHint(usagef("no message given"), `paste the error in quotes, use - to read it from stdin, or --log FILE for a whole log`)
			}
			if cmd.Flags().Changed("member") || cmd.Flags().Changed("dir") {
				return usagef("--member and --dir name the members of a log: use them with --log")
			}
			msg := strings.Join(args, " ")
			if msg == "-" {
				b, err := readAllLimited(cmd.InOrStdin(), 1<<20)
				if err != nil {
					return err
				}
				msg = string(b)
			}
			e := audit.Explain(msg)
			if err := out.write(cmd.OutOrStdout(), explanationDoc(e), func(w io.Writer) error { return writeExplanation(w, e) }); err != nil {
				return err
			}
			if len(e.Causes) == 0 && e.NotTLS == "" {
				return withHint(errors.New("no rule matches this message"), "paste the whole error line from etcd's log or the client; 'etcdpki check' finds file problems without one")
			}
			return nil
		},
	}
	out.register(cmd)
	mf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&log, "log", "", "read a whole log `FILE` (- for stdin): journalctl, kubectl logs, crictl logs, etcd's log file")
	f.StringVar(&logger, "member", "", "the `NAME` of the member whose log it is (default: the journal's host name)")
	f.StringVarP(&dir, "dir", "d", defaultDir, "init's output `DIR`, whose members the log's addresses are matched to (with --log)")
	return cmd
}

// causeDoc is one ranked cause as -o json|yaml print it.
type causeDoc struct {
	Rank      int      `json:"rank"`
	Rule      string   `json:"rule"`
	Score     int      `json:"score"`
	Severity  string   `json:"severity"`
	Condition string   `json:"condition,omitempty"`
	Title     string   `json:"title"`
	Evidence  []string `json:"evidence"`
	Why       string   `json:"why"`
	Fix       string   `json:"fix"`
}

type explanationDocT struct {
	Summary   string        `json:"summary,omitempty"`
	Direction string        `json:"direction,omitempty"`
	Seen      string        `json:"seen,omitempty"`
	NotTLS    string        `json:"notTLS,omitempty"`
	Next      string        `json:"next,omitempty"`
	Causes    []causeDoc    `json:"causes"`
	Message   audit.Message `json:"message"`
}

func explanationDoc(e *audit.Explanation) explanationDocT {
	doc := explanationDocT{Summary: e.Summary, Direction: e.Direction, Seen: e.Seen, NotTLS: e.NotTLS, Next: e.Next, Message: e.Message, Causes: []causeDoc{}}
	for _, c := range e.Causes {
		r := c.Rule
		doc.Causes = append(doc.Causes, causeDoc{c.Rank, string(r.ID), c.Score, r.Severity.String(), r.Condition, r.Title, c.Evidence, r.Why, r.Fix})
	}
	return doc
}

// writeExplanation prints the primary cause in full, the alternatives a
// line each, and the next step.
func writeExplanation(w io.Writer, e *audit.Explanation) error {
	if e.NotTLS != "" {
		fmt.Fprintf(w, "no TLS cause: %s\n", e.NotTLS)
		if e.Next != "" {
			fmt.Fprintf(w, "next:  %s\n", e.Next)
		}
		return nil
	}
	p := e.Primary()
	if p == nil {
		return nil
	}
	r := p.Rule
	cond := ""
	if r.Condition != "" {
		cond = " [" + r.Condition + "]"
	}
	fmt.Fprintf(w, "%s%s: %s\n", r.ID, cond, r.Title)
	if e.Summary != "" && e.Summary != r.Title {
		fmt.Fprintf(w, "  cause:     %s\n", e.Summary)
	}
	for i, ev := range p.Evidence {
		label := "  because:  "
		if i > 0 {
			label = "            "
		}
		fmt.Fprintf(w, "%s %s\n", label, ev)
	}
	if e.Direction != "" {
		fmt.Fprintf(w, "  direction: %s\n", e.Direction)
	}
	if e.Seen != "" {
		fmt.Fprintf(w, "  seen:      %s\n", e.Seen)
	}
	fmt.Fprintf(w, "  why:       %s\n  fix:       %s\n", r.Why, r.Fix)
	var alts, also []string
	for _, c := range e.Causes[1:] {
		if c.Score >= 50 {
			ev := ""
			if len(c.Evidence) > 0 {
				ev = " — " + c.Evidence[0]
			}
			alts = append(alts, fmt.Sprintf("  %d. %s: %s%s", c.Rank, c.Rule.ID, c.Rule.Title, ev))
		} else {
			also = append(also, string(c.Rule.ID))
		}
	}
	if len(alts) > 0 {
		fmt.Fprintln(w, "\nalternatives, less likely:")
		for _, a := range alts {
			fmt.Fprintln(w, a)
		}
	}
	if len(also) > 0 {
		fmt.Fprintf(w, "\nthe same text is also printed for: %s\n", strings.Join(also, ", "))
	}
	if e.Next != "" {
		fmt.Fprintf(w, "\nnext: %s\n", e.Next)
	}
	return nil
}

// explainLog is explain --log: read the log, group, attribute.
func explainLog(cmd *cobra.Command, out *outputFlag, mf *memberFlags, path, logger string, dirs []string) error {
	opts := audit.LogOptions{Logger: logger}
	addrs, err := logMembers(mf, dirs)
	if err != nil {
		return err
	}
	if addrs != nil {
		opts.Members = audit.MemberAddresses(addrs)
	}
	var r io.Reader = cmd.InOrStdin()
	if path != "-" {
		f, err := readfile.OpenStream(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rep, err := audit.ExplainLog(r, opts)
	if err != nil {
		return err
	}
	return out.write(cmd.OutOrStdout(), rep, func(w io.Writer) error {
		if len(rep.Groups) == 0 {
			fmt.Fprintf(w, "no TLS failures in %s lines\n", audit.FormatCount(rep.Lines))
			return nil
		}
		for i, g := range rep.Groups {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%d. %s\n   %s: %s\n", i+1, g.Summary, g.Rule, ruleTitle(g.Rule))
			if p := g.Example.Primary(); p != nil && len(p.Evidence) > 0 {
				fmt.Fprintf(w, "   because: %s\n", p.Evidence[0])
			}
			if r, ok := audit.LookupRule(g.Rule); ok {
				fmt.Fprintf(w, "   fix:     %s\n", r.Fix)
			}
			if g.Example.Next != "" {
				fmt.Fprintf(w, "   next:    %s\n", g.Example.Next)
			}
		}
		fmt.Fprintf(w, "\n%s lines read, %s TLS failures in %d groups", audit.FormatCount(rep.Lines), audit.FormatCount(rep.Failures), len(rep.Groups))
		if rep.Overflow > 0 {
			fmt.Fprintf(w, ", %s more beyond the group limit", audit.FormatCount(rep.Overflow))
		}
		if rep.TooLong > 0 {
			fmt.Fprintf(w, ", %s lines too long to read", audit.FormatCount(rep.TooLong))
		}
		fmt.Fprintln(w)
		return nil
	})
}

func ruleTitle(id audit.RuleID) string {
	if r, ok := audit.LookupRule(id); ok {
		return r.Title
	}
	return ""
}

// logMembers reads the members a log's addresses are matched to: their
// directories, or the cluster spec alone; nil when neither is given.
func logMembers(mf *memberFlags, dirs []string) ([]audit.MemberAddress, error) {
	if len(dirs) == 0 {
		if mf.config == "" {
			return nil, nil
		}
		c, err := spec.Load(mf.config)
		if err != nil {
			return nil, err
		}
		var out []audit.MemberAddress
		for _, m := range c.Members {
			out = append(out, audit.MemberAddress{Name: m.Name, Addresses: append(append([]string{}, m.IPs...), m.DNSNames...)})
		}
		return out, nil
	}
	ms, err := mf.load(dirs)
	if err != nil {
		return nil, err
	}
	return memberAddresses(ms), nil
}

func memberAddresses(ms []*member.Member) []audit.MemberAddress {
	var out []audit.MemberAddress
	for _, m := range ms {
		a := audit.MemberAddress{Name: m.Name}
		for _, u := range append(append([]string{}, m.ClientURLs...), m.PeerURLs...) {
			if pu, err := url.Parse(u); err == nil && pu.Hostname() != "" {
				a.Addresses = append(a.Addresses, pu.Hostname())
			}
		}
		out = append(out, a)
	}
	return out
}
