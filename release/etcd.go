// Package release holds what differs between the etcd versions and the
// kubeadm releases etcdpki renders for and checks: which etcd flags each
// etcd minor version knows, which health endpoints it serves, and what
// each kubeadm release writes into its etcd static pod (the etcd version
// it pins, the corrupt-check and watch-progress flags, the probes).
//
// The flag facts were read off the real binaries (`etcd --version
// --FLAG=…` parses every flag with that version's own flag set before it
// prints the version) and are proven against them by the interop tests;
// the kubeadm facts come from cmd/kubeadm/app of each k8s.io/kubernetes
// release named in [KubeadmReleases].
package release

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Etcd is an etcd version: a minor version line (3.5) or a patch
// release of one (3.5.21).
type Etcd struct {
	Minor int // 3.Minor: 4 … 7
	// Patch is the patch release, or -1 when only the minor version is
	// known (--etcd-version 3.5).
	Patch int
}

// The etcd versions etcdpki knows, oldest first. 3.7 is the version
// etcdpki links (go.etcd.io/etcd/server/v3@v3.7.3).
var (
	Etcd34 = Etcd{4, -1}
	Etcd35 = Etcd{5, -1}
	Etcd36 = Etcd{6, -1}
	Etcd37 = Etcd{7, -1}
)

// EtcdVersions lists the minor versions etcdpki renders for.
var EtcdVersions = []Etcd{Etcd34, Etcd35, Etcd36, Etcd37}

var etcdVersionRE = regexp.MustCompile(`^v?3\.(\d+)(?:\.(\d+))?(?:[-+].*)?$`)

// ParseEtcd reads an etcd version: "3.5", "v3.5", "3.5.21", or an image
// tag such as "3.6.5-0" (registry.k8s.io/etcd) or "v3.5.21-k3s1"
// (RKE2's hardened-etcd). The error says which versions are known.
func ParseEtcd(s string) (Etcd, error) {
	m := etcdVersionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Etcd{}, fmt.Errorf("etcd version %q: want 3.4, 3.5, 3.6 or 3.7 (or a patch release such as 3.5.21)", s)
	}
	minor, _ := strconv.Atoi(m[1])
	e := Etcd{Minor: minor, Patch: -1}
	if m[2] != "" {
		e.Patch, _ = strconv.Atoi(m[2])
	}
	if minor < Etcd34.Minor || minor > Etcd37.Minor {
		return Etcd{}, fmt.Errorf("etcd version %q: etcdpki knows etcd 3.4 to 3.7", s)
	}
	return e, nil
}

// EtcdFromImage reads the etcd version from a container image reference
// (registry.k8s.io/etcd:3.6.5-0, quay.io/coreos/etcd:v3.5.9,
// rancher/hardened-etcd:v3.5.21-k3s1-build20250411). It reports false for
// an image without a version tag (a digest only, "latest", or not etcd).
func EtcdFromImage(image string) (Etcd, bool) {
	image, _, _ = strings.Cut(image, "@")
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") || !strings.Contains(image[:i], "etcd") {
		return Etcd{}, false
	}
	e, err := ParseEtcd(image[i+1:])
	return e, err == nil
}

// String is "3.5" or "3.5.21".
func (e Etcd) String() string {
	if e.Patch < 0 {
		return fmt.Sprintf("3.%d", e.Minor)
	}
	return fmt.Sprintf("3.%d.%d", e.Minor, e.Patch)
}

// Line is the version's minor line (3.5 for 3.5.21).
func (e Etcd) Line() Etcd { return Etcd{e.Minor, -1} }

// atLeast reports whether e is minor.patch or later. A version known only
// by its minor line counts as that line's newest release.
func (e Etcd) atLeast(minor, patch int) bool {
	if e.Minor != minor {
		return e.Minor > minor
	}
	return e.Patch < 0 || e.Patch >= patch
}

// KnowsFlag reports whether etcd e defines the command-line flag name
// (without dashes); the same names are its ETCD_* variables and config
// file keys. Flags no version defines are unknown to all.
func (e Etcd) KnowsFlag(name string) bool {
	if e.Minor < 4 || e.Minor > 7 {
		return false
	}
	if v, ok := versionedFlags[name]; ok {
		return v.knownBy(e)
	}
	return commonFlags[name]
}

// SplitCredentials reports whether etcd e takes separate client
// credentials (--client-cert-file, --peer-client-cert-file): 3.5 and later.
func (e Etcd) SplitCredentials() bool { return e.KnowsFlag("client-cert-file") }

// The /health probes kubeadm up to 1.30 wrote (util/staticpod/utils.go
// at v1.30.14): liveness excludes the NOSPACE alarm and reads locally,
// startup asks for a linearizable read.
const (
	HealthLiveness = "/health?exclude=NOSPACE&serializable=true"
	HealthStartup  = "/health?serializable=false"
)

// HealthProbes reports the paths kubeadm probes for liveness and
// readiness on etcd e: /livez and /readyz, which etcd serves since 3.5.11
// (go.etcd.io/etcd/server/v3@v3.5.11 etcdserver/api/etcdhttp/health.go),
// or, before, /health as kubeadm up to 1.30 probed it.
func (e Etcd) HealthProbes() (liveness, readiness string) {
	if e.HasLivez() {
		return "/livez", "/readyz"
	}
	return HealthLiveness, HealthStartup
}

// HasLivez reports whether etcd e serves /livez and /readyz.
func (e Etcd) HasLivez() bool { return e.atLeast(5, 11) }

// FeatureGates reports whether etcd e configures InitialCorruptCheck
// with --feature-gates (3.6+) rather than
// --experimental-initial-corrupt-check (3.4, 3.5; removed in 3.7).
func (e Etcd) FeatureGates() bool { return e.KnowsFlag("feature-gates") }

// DefaultImageTag is the registry.k8s.io/etcd tag etcdpki writes for e
// when no kubeadm release decides it: the newest tag a kubeadm release
// pins for that minor version (3.4.13-0 was kubeadm 1.19–1.21's).
func (e Etcd) DefaultImageTag() string {
	switch e.Minor {
	case 4:
		return "3.4.13-0"
	case 5:
		return "3.5.24-0"
	case 6:
		return "3.6.5-0"
	}
	return "3.7.0-0"
}

// FlagAdvice says what to use instead of flag name on etcd e, which does
// not know it, or "" when etcd e has no equivalent.
func (e Etcd) FlagAdvice(name string) string {
	v, ok := versionedFlags[name]
	if !ok {
		return ""
	}
	for _, alt := range v.alternatives {
		if e.KnowsFlag(strings.TrimPrefix(strings.SplitN(alt, "=", 2)[0], "--")) {
			return alt
		}
	}
	return ""
}

// UnknownFlags returns the names in names (flag names without dashes, as
// a member's settings hold them) that etcd e does not define; etcd exits
// on each ("flag provided but not defined").
func (e Etcd) UnknownFlags(names []string) []string {
	var out []string
	for _, n := range names {
		if !e.KnowsFlag(n) {
			out = append(out, n)
		}
	}
	return out
}
