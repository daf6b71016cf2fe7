package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"
)

// LogOptions configure ExplainLog.
type LogOptions struct {
	// Members maps an address (IP or host name, no port) to the name of
	// the member that has it, so that a remote address is told as
	// "etcd-2 (10.0.0.12)". MemberAddresses builds it from members.
	Members map[string]string
	// Logger names the member whose log it is; empty means the journal's
	// host name where it names a member, else "this member".
	Logger string
	// MaxGroups bounds the groups kept (default 10,000): a log with more
	// distinct (address, cause) pairs counts the rest in Overflow, so
	// memory does not grow with the log.
	MaxGroups int
}

// LogGroup is one kind of TLS failure from one remote address.
type LogGroup struct {
	// Remote is the other side's address without its port (the
	// rejected client or member, or the server a client dialed); empty
	// when the lines do not say.
	Remote string `json:"remote,omitempty"`
	// Member is the member Remote belongs to, when LogOptions.Members
	// knows it.
	Member string `json:"member,omitempty"`
	// Logger is the member (or host) that logged the lines.
	Logger string `json:"logger,omitempty"`
	// Rule is the primary cause of the group's lines.
	Rule  RuleID    `json:"rule"`
	Count int       `json:"count"`
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	// Summary says in one line what the group is.
	Summary string `json:"summary"`
	// Example is the explanation of the group's first line.
	Example *Explanation `json:"example"`
}

// LogReport is what ExplainLog found in a log.
type LogReport struct {
	// Lines is the number of lines read; Failures those that are TLS
	// failures (grouped); NotTLS those that name a connection or a
	// symptom but no TLS cause (EOF, context deadline exceeded);
	// TooLong lines over the line limit, skipped.
	Lines    int `json:"lines"`
	Failures int `json:"failures"`
	NotTLS   int `json:"notTLS"`
	TooLong  int `json:"tooLong,omitempty"`
	// Overflow counts failures not grouped because MaxGroups was reached.
	Overflow int `json:"overflow,omitempty"`
	// Groups are ranked: most lines first, then the earliest.
	Groups []*LogGroup `json:"groups"`

	year int
}

// maxLogLine is the longest log line ExplainLog reads; longer lines are
// counted in TooLong and skipped. etcd's longest TLS lines (checkSAN with
// every SAN) are a few KiB.
const maxLogLine = 256 << 10

// explainCacheSize bounds the explanations ExplainLog reuses for lines
// that differ only in their time stamp and port.
const explainCacheSize = 4096

// ExplainLog reads a log (journalctl, kubectl logs, crictl logs, an etcd
// log file, or several formats mixed), explains every line that is a TLS
// failure, and groups them by remote address and cause, with counts and
// first and last time. Lines that are not TLS failures are skipped. It
// reads line by line, keeping only the groups, and returns an error only
// when reading fails.
func ExplainLog(r io.Reader, opts LogOptions) (*LogReport, error) {
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = 10000
	}
	br := bufio.NewReaderSize(r, 64<<10)
	rep := &LogReport{}
	groups := map[groupKey]*LogGroup{}
	cache := map[string]*Explanation{}
	for {
		line, tooLong, err := readLine(br)
		if len(line) > 0 || tooLong {
			rep.Lines++
		}
		if tooLong {
			rep.TooLong++
		} else if len(line) > 0 && mayBeTLS(line) {
			rep.add(string(line), opts, groups, cache)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the log: %w", err)
		}
	}
	for _, g := range groups {
		rep.Groups = append(rep.Groups, g)
	}
	sort.Slice(rep.Groups, func(i, j int) bool {
		a, b := rep.Groups[i], rep.Groups[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if !a.First.Equal(b.First) {
			return a.First.Before(b.First)
		}
		if a.Remote != b.Remote {
			return a.Remote < b.Remote
		}
		return a.Rule < b.Rule
	})
	for _, g := range rep.Groups {
		g.Summary = groupSummary(g)
	}
	return rep, nil
}

type groupKey struct {
	remote, logger string
	rule           RuleID
}

func (rep *LogReport) add(line string, opts LogOptions, groups map[groupKey]*LogGroup, cache map[string]*Explanation) {
	var pre Message
	rest := line
	for range 4 {
		var ok bool
		if rest, ok = pre.cutPrefix(rest); !ok {
			break
		}
	}
	key := pre.Program + "\x00" + pre.Format + "\x00" + maskVolatile(rest)
	e, ok := cache[key]
	if !ok {
		e = Explain(line)
		if len(cache) < explainCacheSize {
			cache[key] = e
		}
	}
	if len(e.Causes) == 0 {
		if e.NotTLS != "" {
			rep.NotTLS++
		}
		return
	}
	rep.Failures++
	t := pre.Time
	if ts := jsonTime(rest); !ts.IsZero() {
		t = ts
	}
	// journalctl's and klog's stamps have no year: take the year of the
	// log's last full stamp, else this year's.
	if t.Year() == 0 && !t.IsZero() {
		y := rep.year
		if y == 0 {
			y = time.Now().Year()
		}
		t = t.AddDate(y, 0, 0)
	} else if !t.IsZero() {
		rep.year = t.Year()
	}
	remote := e.Message.RemoteIP()
	if remote == "" {
		remote = e.Message.dialedHost()
	}
	logger := opts.Logger
	if logger == "" && pre.Host != "" {
		logger = pre.Host
		if n := opts.Members[pre.Host]; n != "" {
			logger = n
		}
	}
	k := groupKey{remote, logger, e.Causes[0].Rule.ID}
	g := groups[k]
	if g == nil {
		if len(groups) >= opts.MaxGroups {
			rep.Overflow++
			return
		}
		g = &LogGroup{Remote: remote, Member: opts.Members[remote], Logger: logger, Rule: k.rule, Example: e, First: t}
		groups[k] = g
	}
	g.Count++
	if !t.IsZero() && (g.First.IsZero() || t.Before(g.First)) {
		g.First = t
	}
	if t.After(g.Last) {
		g.Last = t
	}
}

// readLine reads one line, without its newline; a line longer than
// maxLogLine is drained and reported as tooLong, so memory stays bounded.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) && (len(buf) > 0 || tooLong) {
				return buf, tooLong, nil
			}
			return buf, tooLong, err
		}
		if !tooLong {
			if len(buf)+len(chunk) > maxLogLine {
				tooLong, buf = true, nil
			} else if isPrefix || buf != nil {
				buf = append(buf, chunk...)
			} else {
				buf = chunk
			}
		}
		if !isPrefix {
			return buf, tooLong, nil
		}
	}
}

// tlsWords are words one of which every line explain can explain has:
// lines without any are skipped unparsed.
var tlsWords = [][]byte{[]byte("tls"), []byte("TLS"), []byte("x509"), []byte("certificate"), []byte("rejected connection"),
	[]byte("handshake"), []byte("permission denied"), []byte("no such file"), []byte("malformed HTTP"), []byte("deadline"), []byte("storage backend")}

func mayBeTLS(line []byte) bool {
	for _, w := range tlsWords {
		if bytes.Contains(line, w) {
			return true
		}
	}
	return false
}

// maskVolatile replaces what differs between repeats of one failure, the
// time stamp of a JSON line and port numbers, so that they share one
// explanation. Addresses stay: the cause may depend on them.
func maskVolatile(s string) string {
	if i := strings.Index(s, `"ts":`); i >= 0 {
		if j := strings.IndexAny(s[i+5:], ",}"); j >= 0 {
			s = s[:i] + s[i+5+j:]
		}
	}
	b := []byte(s)
	out := b[:0:0]
	for i := 0; i < len(b); i++ {
		c := b[i]
		out = append(out, c)
		if c == ':' && i > 0 && (isDigit(b[i-1]) || b[i-1] == ']') {
			j := i + 1
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			if j > i+1 {
				out = append(out, '0')
				i = j - 1
			}
		}
	}
	return string(out)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// jsonTime reads the "ts" of an etcd JSON line cheaply, or zero.
func jsonTime(s string) time.Time {
	i := strings.Index(s, `"ts":"`)
	if i < 0 {
		return time.Time{}
	}
	s = s[i+6:]
	j := strings.IndexByte(s, '"')
	if j < 0 {
		return time.Time{}
	}
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999-0700"} {
		if t, err := time.Parse(l, s[:j]); err == nil {
			return t
		}
	}
	return time.Time{}
}

// MemberAddresses maps every host of the members' client and peer URLs,
// and the IPs their serving certificates name, to the member's name, for
// LogOptions.Members. Loopback addresses and addresses two members share
// are left out: they name no one member.
func MemberAddresses(members []MemberAddress) map[string]string {
	out := map[string]string{}
	shared := map[string]bool{}
	for _, m := range members {
		for _, a := range m.Addresses {
			if ip := net.ParseIP(a); (ip != nil && (ip.IsLoopback() || ip.IsUnspecified())) || a == "localhost" || a == "" {
				continue
			}
			if n, ok := out[a]; ok && n != m.Name {
				shared[a] = true
			}
			out[a] = m.Name
		}
		out[m.Name] = m.Name
	}
	for a := range shared {
		delete(out, a)
	}
	return out
}

// MemberAddress is a member's name and the addresses it has.
type MemberAddress struct {
	Name      string
	Addresses []string
}

// groupSummary says in one line what a group is, in the words of its
// cause: who presents what to whom, how often, since when.
func groupSummary(g *LogGroup) string {
	who := g.Remote
	if who == "" {
		who = "a client"
	}
	if g.Member != "" {
		who = g.Member + " (" + g.Remote + ")"
	}
	logger := g.Logger
	if logger == "" {
		logger = "this member"
	}
	e := g.Example
	var s string
	switch g.Rule {
	case RulePeerCA, RuleCAMismatch, RulePeerTrust:
		if e.rejectedRemote {
			s = who + " presents a peer certificate that " + logger + "'s CA does not trust"
		} else {
			s = logger + " does not trust the peer certificate " + who + " serves"
		}
	case RuleClientCA, RuleClientTrust:
		s = who + " presents a client certificate that " + logger + "'s CA does not trust"
	case RulePeerSAN:
		if e.rejectedRemote {
			s = who + " presents a peer certificate that does not name " + g.Remote + ", the address it connects from"
		} else {
			s = who + "'s peer certificate does not name the address " + logger + " dials"
		}
	case RulePeerNAT:
		s = "peer connections reach " + logger + " from " + g.Remote + ", which is no member's address: a NAT or gateway"
		if g.Member != "" {
			s = "peer connections reach " + logger + " from " + who + " through a NAT or gateway"
		}
	case RuleClientNoCert:
		s = who + " connects to " + logger + " without a client certificate"
	case RuleClientPlaintext:
		s = who + " speaks plain text to " + logger + "'s TLS port"
	case RuleEKUServerGateway:
		s = logger + "'s own grpc-gateway is refused: its server certificate lacks clientAuth"
	case RuleEKUPeerClient:
		s = who + " presents a peer certificate without clientAuth"
	case RuleEKUClient:
		s = who + " presents a client certificate without clientAuth"
	case RuleExpired:
		s = who + ": an expired certificate"
	case RuleNotYetValid:
		s = who + ": a certificate not valid yet (a clock is off)"
	default:
		s = who + ": " + e.Summary
	}
	return fmt.Sprintf("%s — %s %s%s", s, FormatCount(g.Count), countNoun(g.Count, "rejection", "rejections"), sinceText(g.First, g.Last))
}

// FormatCount writes n with thousands separators ("5,000"), as
// operators read counts.
func FormatCount(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func countNoun(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// sinceText is " since 10:00" (with the date when the log spans days or
// the year is known and not this one), or " at 10:00" for a single time.
func sinceText(first, last time.Time) string {
	if first.IsZero() {
		return ""
	}
	layout := "15:04"
	if first.YearDay() != last.YearDay() || first.Year() != last.Year() {
		layout = "Jan 2 15:04"
	}
	if first.Equal(last) {
		return " at " + first.Format(layout)
	}
	return " since " + first.Format(layout) + ", last " + last.Format(layout)
}
