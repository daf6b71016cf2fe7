package release

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Markdown renders docs/versions.md: what etcdpki renders per kubeadm
// release and etcd version, and every etcd flag that only some of etcd
// 3.4–3.7 define. The interop tests read the flag tables back and start
// each version's binary with every flag in them.
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString(`# etcd versions and kubeadm releases

Generated from the release package (` + "`go test ./release -run TestVersionsDoc -update`" + `).
` + "`etcdpki flags --etcd-version V`" + ` prints only flags etcd V defines, and
` + "`--kubernetes-version 1.N`" + ` renders the etcd static pod kubeadm 1.N writes
(the default is 1.` + fmt.Sprint(DefaultKubernetesMinor) + `). ` + "`etcdpki check`" + ` holds every member's command
line to its etcd version (the static pod's image tag, or ` + "`check --etcd-version`" + `):
FLAG-ETCD-VERSION.

## kubeadm releases

Read from ` + "`cmd/kubeadm/app`" + ` of each k8s.io/kubernetes release
(` + "`phases/etcd/local.go`" + `, ` + "`util/staticpod/utils.go`" + `, ` + "`constants/constants.go`" + `).
Every release writes the corruption check and a 5 s watch-progress
interval. kubeadm 1.29–1.33 always spell them
` + "`--experimental-initial-corrupt-check=true --experimental-watch-progress-notify-interval=5s`" + `,
1.36–1.37 always ` + "`--feature-gates=InitialCorruptCheck=true --watch-progress-notify-interval=5s`" + `,
and 1.34–1.35 choose by the etcd image tag (3.6.0+ gets the latter). etcdpki
always spells them for the target etcd (--etcd-version, else the release's
pinned one), so for each release's own etcd the output is kubeadm's, and an
overridden etcd (kubeadm 1.33 with etcd 3.7, say) gets flags it knows where
kubeadm would write ones it exits on.

| kubeadm | read from | etcd image | oldest etcd accepted | probes | probe port |
|---|---|---|---|---|---|
`)
	for _, k := range KubeadmReleases {
		probes := "liveness `/health?exclude=NOSPACE&serializable=true`, startup `/health?serializable=false`"
		if k.ReadinessProbe {
			probes = "liveness `/livez`, readiness and startup `/readyz`"
		}
		port := "2381"
		if k.NamedProbePort {
			port = "`probe-port` (2381)"
		}
		fmt.Fprintf(&b, "| 1.%d | %s | `registry.k8s.io/etcd:%s` | %s | %s | %s |\n", k.Minor, k.Source, k.EtcdImageTag, k.MinEtcd, probes, port)
	}
	b.WriteString(`
With ` + "`--etcd-version`" + ` alone the default release is used if it accepts that etcd
(else the newest that does: kubeadm 1.30 for etcd 3.4), and the image is
the tag kubeadm pins for that etcd line (` + "`3.4.13-0`, `3.5.24-0`, `3.6.5-0`, `3.7.0-0`" + `),
or ` + "`V-0`" + ` for a patch release. Both flags together must be a pair kubeadm
accepts (kubeadm 1.31+ refuses etcd older than 3.5.24). etcd before 3.5.11
serves no ` + "`/livez`" + ` or ` + "`/readyz`" + `, so its manifest probes ` + "`/health`" + `. A PKI made with
` + "`--split-credentials`" + ` is refused for etcd 3.4, which has no
` + "`--client-cert-file`" + ` or ` + "`--peer-client-cert-file`" + `.

## etcd flags that differ between versions

Read off each version's own binary: ` + "`etcd --version --FLAG=1`" + ` parses every flag
with that version's flag set and exits with ` + "`flag provided but not defined`" + ` on
one it does not know (Debian's etcd-server 3.4.23; go.etcd.io/etcd/server/v3
v3.5.21, v3.6.5 and v3.7.3). The interop tests repeat it for every flag on
this page (` + "`interop/flagsets_test.go`" + `).

| flag | 3.4 | 3.5 | 3.6 | 3.7 | elsewhere spelled |
|---|---|---|---|---|---|
`)
	names := make([]string, 0, len(versionedFlags))
	for n := range versionedFlags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := versionedFlags[n]
		cells := make([]string, len(EtcdVersions))
		for i, e := range EtcdVersions {
			cells[i] = "no"
			if v.knownBy(e) {
				cells[i] = "yes"
			}
		}
		alts := make([]string, len(v.alternatives))
		for i, a := range v.alternatives {
			alts[i] = "`" + a + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", n, strings.Join(cells, " | "), strings.Join(alts, ", "))
	}
	b.WriteString("\n## etcd flags every version defines\n\n")
	common := make([]string, 0, len(commonFlags))
	for n := range commonFlags {
		common = append(common, "`"+n+"`")
	}
	sort.Strings(common)
	b.WriteString(strings.Join(common, ", ") + "\n")
	return b.Bytes()
}
