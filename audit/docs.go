package audit

import (
	"bytes"
	"fmt"
	"strings"
)

// RulesMarkdown renders the catalogue as docs/rules.md. The file is
// generated so that the documentation cannot drift from the rules the
// checker fires (TestRulesDoc compares them; go test ./audit -update
// rewrites it).
func RulesMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString(`# etcdpki rules

Every finding of ` + "`etcdpki check`" + ` carries one of these rule IDs. IDs are stable.
Severity: **error** breaks the cluster or its clients (or leaves them open);
**warning** is a risk or a misleading setting; **info** is a note about the input.
` + "`etcdpki explain \"<error text>\"`" + ` maps the error texts below to their rules.

This file is generated from the rule catalogue (audit/rules.go) by
` + "`go test ./audit -update`" + `; edit the catalogue, not this file.

| ID | severity | condition | checks |
|---|---|---|---|
`)
	for _, r := range Catalogue {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s |\n", r.ID, anchor(r.ID), r.Severity, r.Condition, r.Title)
	}
	for _, r := range Catalogue {
		fmt.Fprintf(&b, "\n## %s\n\n", r.ID)
		cond := ""
		if r.Condition != "" {
			cond = ", condition " + r.Condition
		}
		fmt.Fprintf(&b, "*%s%s.* Checks that %s.\n\n", r.Severity, cond, r.Title)
		fmt.Fprintf(&b, "**Why it matters.** %s\n\n", r.Why)
		if len(r.Errors) > 0 {
			b.WriteString("**What etcd and clients print** (substrings that `etcdpki explain` matches):\n\n")
			for _, e := range r.Errors {
				fmt.Fprintf(&b, "- `%s`\n", e)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**Fix.** %s\n", r.Fix)
	}
	b.WriteString(reportSchemaDoc)
	return b.Bytes()
}

func anchor(id string) string { return strings.ToLower(id) }

const reportSchemaDoc = `
## Report schema (` + "`check -o json|yaml`" + `)

` + "`schemaVersion`" + ` is ` + "`" + SchemaVersion + "`" + `. Fields are only added within a version.

| field | type | meaning |
|---|---|---|
| ` + "`schemaVersion`" + ` | string | report format version |
| ` + "`checkedAt`" + ` | RFC 3339 time | the time validity was judged at |
| ` + "`members[]`" + ` | list | one entry per member checked |
| ` + "`members[].name`" + ` | string | the member's name |
| ` + "`members[].nameFrom`" + ` | string | where name and addresses came from: ` + "`manifest`, `config file`, `flags file`, `spec`, `certificate`, `directory`" + ` |
| ` + "`members[].dir`" + ` | string | the directory checked |
| ` + "`members[].settings`" + ` | string | the manifest, config or flags file read, if any |
| ` + "`members[].clientURLs`, `peerURLs`" + ` | list of strings | URLs the member listens on or advertises |
| ` + "`members[].ca`" + ` | string | SHA-256 fingerprint of the member's etcd CA |
| ` + "`members[].files`" + ` | list of strings | certificate files read |
| ` + "`findings[]`" + ` | list | sorted by member, severity (worst first), rule, file |
| ` + "`findings[].rule`" + ` | string | rule ID (above) |
| ` + "`findings[].severity`" + ` | string | ` + "`error`, `warning` or `info`" + ` |
| ` + "`findings[].member`" + ` | string | member name; empty for cluster-wide findings |
| ` + "`findings[].file`" + ` | string | the file at fault, if one is |
| ` + "`findings[].detail`" + ` | string | what exactly is wrong |
| ` + "`findings[].breaks`" + ` | string | ` + "`peers`, `clients`, `both`" + `, or absent when nothing breaks at runtime |
| ` + "`verdict.clusterForms`" + ` | bool | a quorum of members has no peer-breaking error |
| ` + "`verdict.clientsConnect`" + ` | bool | no finding breaks client connections |
| ` + "`verdict.summary`" + ` | string | the one-line verdict |
| ` + "`verdict.errors`, `warnings`, `infos`" + ` | int | counts by severity |

Exit status: 0 when no finding is at or above ` + "`--fail-on`" + ` (default ` + "`error`" + `), 1 when one is, 2 for usage errors.
`
