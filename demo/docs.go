package demo

import (
	"bytes"
	"fmt"
	"strings"
)

// FaultsMarkdown renders the fault catalogue as docs/demo.md: what each
// fault breaks and what check, probe, etcd and clients were observed to do
// (the fault-matrix test holds real etcd to this table).
func FaultsMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString(`# etcdpki demo: faults and what real etcd does

` + "`etcdpki demo --violate FAULT`" + ` boots a 3-member mutual-TLS cluster in-process
(etcd-1..3 on 127.0.0.1..3) with exactly one fault, then shows what ` + "`check`" + `
reports on the files, what ` + "`probe`" + ` sees live, what etcd logged, and whether the
cluster formed and served clients (gRPC, and the HTTP/JSON API through etcd's
grpc-gateway). The demo fault-matrix test (demo/demo_test.go) runs every row
against real etcd and fails when etcd, check or probe behave otherwise.

Generated from demo/faults.go by ` + "`go test ./demo -run TestFaultsDoc -update`" + `.
Rule IDs are explained in [rules.md](rules.md).

| fault | what is broken | check | probe | forms | serves gRPC | HTTP/JSON API | etcd says |
|---|---|---|---|---|---|---|---|
`)
	for _, f := range Faults {
		etcd := "—"
		if f.Etcd != "" {
			etcd = "`" + f.Etcd + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", f.Name, f.Summary, ids(f.Check), ids(f.Probe),
			yesNo(f.Forms), yesNo(f.Serves), yesNo(!f.GatewayFails), etcd)
	}
	b.WriteString("\nHTTP/JSON API is judged on the members that became ready; a member that is not ready serves nothing.\n")
	b.WriteString("\n## What loopback cannot show\n\n")
	for _, f := range Faults {
		if f.Loopback != "" {
			fmt.Fprintf(&b, "- `%s`: %s.\n", f.Name, f.Loopback)
		}
	}
	return b.Bytes()
}

func ids(list []string) string {
	if len(list) == 0 {
		return "—"
	}
	return strings.Join(list, ", ")
}
