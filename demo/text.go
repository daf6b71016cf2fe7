package demo

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/etcdpki/etcdpki/audit"
)

// Verdict compares a result with its fault's expectations; each entry is
// one aspect with whether it matched.
type Verdict struct {
	Aspect string
	Want   string
	Got    string
	OK     bool
}

// Compare checks a result against the fault's expectations in the
// result's mode (the healthy cluster expects nothing to be reported and
// everything to work).
func (r *Result) Compare() []Verdict {
	want, wantCheck := Expect{Forms: true, Serves: true}, []audit.RuleID(nil)
	if r.Fault != nil {
		want, wantCheck = r.Fault.Expected(r.Hosts()), r.Fault.Check
	}
	check, probe := RuleIDs(r.Check), RuleIDs(&r.Probe.Report)
	v := []Verdict{
		{"check", joinIDs(wantCheck), joinIDs(check), joinIDs(wantCheck) == joinIDs(check)},
		{"probe", joinIDs(want.Probe), joinIDs(probe), joinIDs(want.Probe) == joinIDs(probe)},
		{"forms", yesNo(want.Forms), yesNo(r.Formed), want.Forms == r.Formed},
		{"serves", yesNo(want.Serves), yesNo(r.Served), want.Serves == r.Served},
		{"gateway", yesNo(!want.GatewayFails), yesNo(r.GatewayServes), !want.GatewayFails == r.GatewayServes},
	}
	if r.Hosts() {
		v = append(v, Verdict{"127.0.0.1", yesNo(!want.LocalFails), yesNo(r.LocalServes), !want.LocalFails == r.LocalServes})
	}
	if want.Etcd != "" {
		got := "not seen"
		if r.etcdSaid(want.Etcd) {
			got = "seen"
		}
		v = append(v, Verdict{"etcd says", fmt.Sprintf("%q", want.Etcd), got, got == "seen"})
		if r.Fault != nil {
			bad := r.explainMisses(want.Etcd, wantCheck)
			v = append(v, Verdict{"explain", "fault's rule first", orNone(bad), len(bad) == 0})
		}
	}
	return v
}

// explainMisses holds explain to what etcd and the clients said under the
// fault: every message with the fault's text must rank one of the fault's
// rules first, and every other message explain finds a cause in must
// list one of them among its causes. It returns the messages that do
// not, with what explain ranked.
func (r *Result) explainMisses(text string, rules []audit.RuleID) []string {
	var bad []string
	for _, msg := range r.messages() {
		e := audit.Explain(msg)
		if len(e.Causes) == 0 {
			continue
		}
		ranked := make([]string, 0, len(e.Causes))
		listed := false
		for _, c := range e.Causes {
			ranked = append(ranked, string(c.Rule.ID))
			listed = listed || slices.Contains(rules, c.Rule.ID)
		}
		first := slices.Contains(rules, e.Causes[0].Rule.ID)
		if (strings.Contains(msg, text) && !first) || !listed {
			bad = append(bad, fmt.Sprintf("%q ranks %s", msg, strings.Join(ranked, " ")))
		}
	}
	return bad
}

// messages is every text etcd logged and the clients got back.
func (r *Result) messages() []string {
	out := append([]string(nil), r.Etcd...)
	for _, m := range []map[string]string{r.Clients, r.Gateway, r.Local} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, m[k])
		}
	}
	return out
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "all"
	}
	return strings.Join(l, "; ")
}

// etcdSaid reports whether etcd logged text, or a client got it back.
func (r *Result) etcdSaid(text string) bool {
	for _, l := range r.Etcd {
		if strings.Contains(l, text) {
			return true
		}
	}
	for _, m := range []map[string]string{r.Clients, r.Gateway, r.Local} {
		for _, e := range m {
			if strings.Contains(e, text) {
				return true
			}
		}
	}
	return false
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// maxLogLines bounds the etcd lines the text shows.
const maxLogLines = 12

// WriteText prints the result side by side: the fault, what check
// predicted from the files, what probe saw live, what etcd logged, and
// whether the cluster formed and served.
func (r *Result) WriteText(w io.Writer) error {
	where := fmt.Sprintf("%d members on 127.0.0.1-%d, in-process", Members, Members)
	if r.Hosts() {
		where = fmt.Sprintf("%d members, each a separate etcd process in its own network namespace (hosts mode)", Members)
	}
	if r.Fault != nil {
		fmt.Fprintf(w, "fault %s: %s\n%s\n\n", r.Fault.Name, r.Fault.Summary, where)
	} else {
		fmt.Fprintf(w, "healthy cluster: %s, mutual TLS on both ports\n\n", where)
	}
	section := func(title string, fs []audit.Finding) {
		fmt.Fprintf(w, "%s\n", title)
		n := 0
		for _, f := range fs {
			if f.Severity == audit.Info {
				continue
			}
			n++
			fmt.Fprintf(w, "  %-7s %-22s %s %s\n          %s\n", f.Severity, f.Rule, f.Member, f.File, f.Detail)
		}
		if n == 0 {
			fmt.Fprintf(w, "  nothing\n")
		}
	}
	section("check (the files, before etcd starts):", r.Check.Findings)
	if r.Probe != nil {
		section("probe (the running cluster, from outside):", r.Probe.Findings)
	}
	fmt.Fprintf(w, "etcd (what it logged as going wrong):\n")
	if len(r.Etcd) == 0 {
		fmt.Fprintf(w, "  nothing\n")
	}
	for i, l := range r.Etcd {
		if i == maxLogLines {
			fmt.Fprintf(w, "  … %d more (-o json has them all)\n", len(r.Etcd)-maxLogLines)
			break
		}
		fmt.Fprintf(w, "  %s\n", l)
	}
	formed := "formed"
	if !r.Formed {
		formed = "did NOT form"
	}
	if len(r.NotReady) > 0 {
		formed += fmt.Sprintf(" (not ready: %s)", strings.Join(r.NotReady, ", "))
	}
	fmt.Fprintf(w, "cluster: %s\n", formed)
	r.writeOutcomes(w, "clients (write and read through each member with its apiserver-etcd-client cert):", r.Clients)
	r.writeOutcomes(w, "HTTP/JSON API (POST /v3/kv/range through each member's grpc-gateway):", r.Gateway)
	if r.Hosts() {
		r.writeOutcomes(w, "on each member's own host (write and read through https://127.0.0.1:2379, as kube-apiserver there):", r.Local)
	}
	if r.Fault != nil {
		if note := r.Fault.Expected(r.Hosts()).Note; note != "" {
			fmt.Fprintf(w, "\n%s: %s\n", r.Mode, note)
		}
	}
	fmt.Fprintf(w, "\nexpected vs observed:\n")
	for _, v := range r.Compare() {
		mark := "ok"
		if !v.OK {
			mark = "DIFFERS"
		}
		fmt.Fprintf(w, "  %-9s want %-40s got %-40s %s\n", v.Aspect, v.Want, v.Got, mark)
	}
	return nil
}

// writeOutcomes prints one line per member: ok, not ready, or the error.
func (r *Result) writeOutcomes(w io.Writer, title string, errs map[string]string) {
	var names []string
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%s\n", title)
	for _, n := range names {
		res := "ok"
		if errs[n] != "" {
			res = "FAILED: " + errs[n]
		}
		for _, nr := range r.NotReady {
			if nr == n && errs[n] == "" {
				res = "not ready"
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", n, res)
	}
}
