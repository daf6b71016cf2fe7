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

Rules marked *(explain)* are causes that live outside the member's files
(a client without the CA or a certificate, a client speaking plain HTTP, a
NAT between members, a file the process may not read): only
` + "`etcdpki explain`" + ` names them, from the messages they produce.
Rules marked *(live)* are fired only by ` + "`etcdpki probe`" + `; the
others by ` + "`etcdpki check`" + ` on the files, and, where the running cluster shows
them, by ` + "`probe`" + ` too. **Observed with real etcd** says what etcd 3.7 did when
` + "`etcdpki demo`" + ` broke the rule (docs/demo.md lists every fault; the demo
fault-matrix test reproduces each one against real etcd).

**Fix texts name the etcdpki command that repairs the rule**, where one
does, next to the distribution's own remedy. In them MEMBER_DIR is the
member's directory as given to ` + "`check`" + ` (` + "`--local`" + ` on the node itself,
` + "`--dir DIR --member NAME`" + ` for a member of init's output), NAME the member's
name, KIND the kind of the certificate at fault (` + "`server`, `peer`, `healthcheck-client`," + `
` + "`apiserver-etcd-client`, `server-client`, `peer-client`" + `),
HEALTHY_MEMBER_DIR the directory of another member that holds the cluster's CA
and its key, OUT_DIR a new directory, and MEMBER_DIRS every member's
directory (` + "`--dir DIR`" + ` for init's output). ` + "`check`" + ` fills them in for each
finding, names the member's own files (` + "`member-node2.pem`, `server-client.crt`" + `),
and adds the remedy of the member's distribution: ` + "`kubeadm certs renew`" + `
(which copies the old certificate's SANs and usages, so it repairs neither a missing name nor a missing usage),
` + "`k3s certificate rotate`, `rke2 certificate rotate`" + `, kubespray's playbook,
OpenShift's operator. A parenthesis that opens with a distribution's name,
"(kubeadm: …)", is for that distribution only. A command that changes a
trusted CA needs a restart of etcd (it reads its trusted CAs at start); a
renewed leaf is served from the next handshake.

**What a loopback demo can and cannot show.** ` + "`demo`" + ` runs three members on
127.0.0.1, 127.0.0.2 and 127.0.0.3 of one host. Linux routes all of 127.0.0.0/8
to lo, and a connection from one 127.0.0.x to another leaves from 127.0.0.1. So
(1) etcd's check of a connecting member's credential against its remote
address sees 127.0.0.1, which every kubeadm-style cert names: a peer cert
without the member's own IP is rejected by the members that dial it (the
serving side, which loopback shows), but not by those it dials (which it does
not); and (2) nothing dials a member other than etcd-1 at 127.0.0.1, so a
server cert without 127.0.0.1 breaks nothing there. Both need a member per
host: ` + "`etcdpki demo --hosts netns`" + ` runs each member as a separate etcd process in
its own network namespace, with its own address and its own 127.0.0.1, and
shows both (R4-PEER-SAN, R4-SERVER-LOOPBACK); each Observed text says what
each mode showed.

**Three CAs, two flags: R2 per port.** The seed names three logically
separate CAs on each member: (a) the CA it verifies the other members'
serving certificates with when it dials them on 2380, (b) the CA it
authenticates the members that dial it with, and (c) the CA port 2379
authenticates clients with. etcd folds (a) and (b) into
` + "`--peer-trusted-ca-file`" + ` and keeps (c) as ` + "`--trusted-ca-file`" + `; kubeadm points both
flags at one ` + "`etcd/ca.crt`" + `, k3s and RKE2 use ` + "`peer-ca.crt`" + ` and ` + "`server-ca.crt`" + `, kops
` + "`etcd-peers-ca`" + ` and ` + "`etcd-clients-ca`" + `. So "one CA" is judged per port:
**R2-PEER-TRUST** (every member's peer trusted CA must trust every other
member's peer certificate and credential, else the member cannot join),
**R2-CLIENT-TRUST** (each member's client trusted CA must trust the client
credentials, and the clients' CA files its serving certificate, else it joins
and those clients fail on it), and **R2-CA-MISMATCH** when one file is both
ports' trust and both break. Separate client and peer CAs are legal and clean
(CIS 2.7 is about the Kubernetes CA only).

| ID | severity | condition | checks |
|---|---|---|---|
`)
	for _, r := range catalogue {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s%s |\n", r.ID, anchor(r.ID), r.Severity, r.Condition, r.Title, explainMark(r))
	}
	for _, r := range catalogue {
		fmt.Fprintf(&b, "\n## %s\n\n", r.ID)
		cond := ""
		if r.Condition != "" {
			cond = ", condition " + r.Condition
		}
		if r.Explained {
			fmt.Fprintf(&b, "*%s%s, explain only.* The rule: %s. Nothing in the member's files shows whether it holds, so only `etcdpki explain` names it, from the messages a breach produces.\n\n", r.Severity, cond, r.Title)
		} else {
			fmt.Fprintf(&b, "*%s%s.* Checks that %s.\n\n", r.Severity, cond, r.Title)
		}
		fmt.Fprintf(&b, "**Why it matters.** %s\n\n", r.Why)
		if len(r.Errors) > 0 {
			b.WriteString("**What etcd and clients print** (substrings that `etcdpki explain` matches):\n\n")
			for _, e := range r.Errors {
				fmt.Fprintf(&b, "- `%s`\n", e)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**Fix.** %s\n", r.Fix)
		if r.FixCA != "" {
			fmt.Fprintf(&b, "\n**Fix, when the file at fault is a CA.** %s\n", r.FixCA)
		}
		if r.Observed != "" {
			fmt.Fprintf(&b, "\n**Observed with real etcd.** %s\n", r.Observed)
		}
		if r.APIServer != "" {
			fmt.Fprintf(&b, "\n**Observed with kube-apiserver v1.34.4** (interop/apiserver_test.go). %s\n", r.APIServer)
		}
	}
	b.WriteString(reportSchemaDoc)
	return b.Bytes()
}

func explainMark(r Rule) string {
	if r.Explained {
		return " *(explain)*"
	}
	return ""
}

func anchor(id RuleID) string { return strings.ToLower(string(id)) }

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
| ` + "`members[].layout`" + ` | string | the distribution the files follow: ` + "`kubeadm`, `etcdadm`, `kubespray`, `k3s`, `rke2`, `openshift`, `talos`, `kops`" + ` |
| ` + "`members[].sources`" + ` | map | per etcd setting (flag name), where its value came from: ` + "`file:line (--flag)`, `file:line (ETCD_VAR)`, `file:line (key)`" + ` |
| ` + "`members[].ca`" + ` | string | SHA-256 fingerprint of the member's client-port CA (the first of a bundle) |
| ` + "`members[].clientCA`, `peerCA`" + ` | object | the trusted CA file of the client port (2379) and of the peer port (2380): ` + "`file`, `subjects[]`, `fingerprints[]`" + ` |
| ` + "`members[].files`" + ` | list of strings | certificate files read |
| ` + "`findings[]`" + ` | list | sorted by member, severity (worst first), rule, file |
| ` + "`findings[].rule`" + ` | string | rule ID (above) |
| ` + "`findings[].severity`" + ` | string | ` + "`error`, `warning` or `info`" + ` |
| ` + "`findings[].member`" + ` | string | member name; empty for cluster-wide findings |
| ` + "`findings[].file`" + ` | string | the file at fault, if one is |
| ` + "`findings[].detail`" + ` | string | what exactly is wrong |
| ` + "`findings[].breaks`" + ` | string | ` + "`peers`, `clients`, `both`, `peers-one-way`" + ` (the member joins, but the others reject its connections in one direction), or absent when nothing breaks at runtime |
| ` + "`findings[].fix`" + ` | string | how to repair it: the rule's fix, or the remedy of the member's own distribution where that differs |
| ` + "`verdict.clusterForms`" + ` | bool | a quorum of members has no peer-breaking error |
| ` + "`verdict.clientsConnect`" + ` | bool | no finding breaks client connections, and every member can join |
| ` + "`verdict.summary`" + ` | string | the one-line verdict |
| ` + "`verdict.errors`, `warnings`, `infos`" + ` | int | counts by severity |

Exit status: 0 when no finding is at or above ` + "`--fail-on`" + ` (default ` + "`error`" + `), 1 when one is, 2 for usage errors.
`
