package demo

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/etcdpki/etcdpki/audit"
)

// FaultsMarkdown renders the fault catalogue as docs/demo.md: what each
// fault breaks and what check, probe, etcd and clients were observed to do
// in each mode (the fault-matrix tests hold real etcd to these tables).
func FaultsMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString(`# etcdpki demo: faults and what real etcd does

` + "`etcdpki demo --violate FAULT`" + ` boots a 3-member mutual-TLS cluster with exactly one
fault, then shows what ` + "`check`" + ` reports on the files, what ` + "`probe`" + ` sees live, what
etcd logged, and whether the cluster formed and served clients (gRPC, and the
HTTP/JSON API through etcd's grpc-gateway). It runs in one of two modes:

- **loopback** (the default): in-process, etcd-1..3 on 127.0.0.1..3. All
  members share one lo, so every peer connection leaves from 127.0.0.1 and
  127.0.0.1 is etcd-1's address, not each member's.
- **hosts** (` + "`--hosts netns`" + `; Linux, root, iproute2): each member a separate
  etcd process in its own network namespace, on 198.18.0.1..3 with its own
  127.0.0.1, started with exactly the flags ` + "`etcdpki flags`" + ` prints. Clients and
  probe in the root namespace reach the members over a bridge; a client on
  each member's own host also writes and reads through https://127.0.0.1:2379,
  as kube-apiserver on a stacked control plane does. This is how real nodes
  see each other.

The fault-matrix tests (demo/demo_test.go: TestFaultMatrix and
TestFaultMatrixHosts) run every row against real etcd and fail when etcd,
check or probe behave otherwise. Generated from demo/faults.go by
` + "`go test ./demo -run TestFaultsDoc -update`" + `. Rule IDs are explained in
[rules.md](rules.md).

## Loopback

| fault | what is broken | check | probe | forms | serves gRPC | HTTP/JSON API | etcd says |
|---|---|---|---|---|---|---|---|
`)
	for _, f := range Faults {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", f.Name, f.Summary, ids(f.Check), ids(f.Probe),
			yesNo(f.Forms), yesNo(f.Serves), yesNo(!f.GatewayFails), quoted(f.Etcd))
	}
	b.WriteString(`
## Hosts mode

` + "`check`" + ` reads the files and says the same in both modes. Rows in bold differ from
loopback.

| fault | probe | forms | serves gRPC | HTTP/JSON API | 127.0.0.1 on each host | etcd says |
|---|---|---|---|---|---|---|
`)
	for _, f := range Faults {
		e := f.Expected(true)
		name := "`" + f.Name + "`"
		if f.Hosts != nil {
			name = "**" + name + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", name, ids(e.Probe),
			yesNo(e.Forms), yesNo(e.Serves), yesNo(!e.GatewayFails), yesNo(!e.LocalFails), quoted(e.Etcd))
	}
	b.WriteString("\nThe HTTP/JSON API and 127.0.0.1 are judged on the members that became ready; a member that is not ready serves nothing.\n")
	b.WriteString("\n## What each mode shows\n\nBeyond the tables; a fault not listed here shows in both modes what its rows say.\n\n")
	for _, f := range Faults {
		lo, ho := f.Expected(false).Note, f.Expected(true).Note
		if lo == "" && ho == "" {
			continue
		}
		fmt.Fprintf(&b, "- `%s`:\n", f.Name)
		if lo != "" {
			fmt.Fprintf(&b, "  - loopback: %s.\n", lo)
		}
		switch {
		case ho != "" && f.Hosts != nil:
			fmt.Fprintf(&b, "  - hosts: %s.\n", ho)
		default:
			b.WriteString("  - hosts: the same.\n")
		}
	}
	return b.Bytes()
}

func quoted(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + s + "`"
}

func ids(list []audit.RuleID) string {
	if len(list) == 0 {
		return "—"
	}
	s := make([]string, len(list))
	for i, id := range list {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}
