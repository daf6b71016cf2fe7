package demo

import (
	"fmt"
	"io"
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

// Compare checks a result against the fault's expectations (the healthy
// cluster expects nothing to be reported and everything to work).
func (r *Result) Compare() []Verdict {
	f := r.Fault
	if f == nil {
		f = &Fault{Forms: true, Serves: true}
	}
	check, probe := RuleIDs(r.Check), RuleIDs(&r.Probe.Report)
	v := []Verdict{
		{"check", joinIDs(f.Check), joinIDs(check), joinIDs(f.Check) == joinIDs(check)},
		{"probe", joinIDs(f.Probe), joinIDs(probe), joinIDs(f.Probe) == joinIDs(probe)},
		{"forms", yesNo(f.Forms), yesNo(r.Formed), f.Forms == r.Formed},
		{"serves", yesNo(f.Serves), yesNo(r.Served), f.Serves == r.Served},
		{"gateway", yesNo(!f.GatewayFails), yesNo(r.GatewayServes), !f.GatewayFails == r.GatewayServes},
	}
	if f.Etcd != "" {
		got := "not seen"
		if r.etcdSaid(f.Etcd) {
			got = "seen"
		}
		v = append(v, Verdict{"etcd says", fmt.Sprintf("%q", f.Etcd), got, got == "seen"})
	}
	return v
}

// etcdSaid reports whether etcd logged text, or a client got it back.
func (r *Result) etcdSaid(text string) bool {
	for _, l := range r.Etcd {
		if strings.Contains(l, text) {
			return true
		}
	}
	for _, m := range []map[string]string{r.Clients, r.Gateway} {
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
	if r.Fault != nil {
		fmt.Fprintf(w, "fault %s: %s\n\n", r.Fault.Name, r.Fault.Summary)
	} else {
		fmt.Fprintf(w, "healthy cluster: %d members on 127.0.0.1-%d, mutual TLS on both ports\n\n", Members, Members)
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
	if r.Fault != nil && r.Fault.Loopback != "" {
		fmt.Fprintf(w, "\nloopback: %s\n", r.Fault.Loopback)
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
