package release

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kubeadm is what one kubeadm release writes into its etcd static pod
// (cmd/kubeadm/app/phases/etcd/local.go GetEtcdPodSpec and getEtcdCommand,
// cmd/kubeadm/app/util/staticpod/utils.go for the probes,
// cmd/kubeadm/app/constants/constants.go SupportedEtcdVersion).
type Kubeadm struct {
	Minor int // Kubernetes 1.Minor
	// Source is the patch release the facts were read from.
	Source string
	// EtcdImageTag is the registry.k8s.io/etcd tag the release pins for
	// its own Kubernetes version (SupportedEtcdVersion).
	EtcdImageTag string
	// MinEtcd is the oldest etcd the release accepts
	// (MinExternalEtcdVersion).
	MinEtcd string
	// ReadinessProbe: the release adds a /readyz readinessProbe (1.31+);
	// before, only liveness and startup probes on /health.
	ReadinessProbe bool
	// NamedProbePort: the probes use the container port "probe-port"
	// (2381) that the pod declares (1.34+), rather than the number.
	NamedProbePort bool
}

// KubeadmReleases are the kubeadm releases etcdpki renders for, oldest
// first; each read from the k8s.io/kubernetes module of that release.
var KubeadmReleases = []Kubeadm{
	{Minor: 29, Source: "v1.29.6", EtcdImageTag: "3.5.12-0", MinEtcd: "3.4.13-4"},
	{Minor: 30, Source: "v1.30.14", EtcdImageTag: "3.5.15-0", MinEtcd: "3.4.13-4"},
	{Minor: 31, Source: "v1.31.14", EtcdImageTag: "3.5.24-0", MinEtcd: "3.5.24-0", ReadinessProbe: true},
	{Minor: 32, Source: "v1.32.13", EtcdImageTag: "3.5.24-0", MinEtcd: "3.5.24-0", ReadinessProbe: true},
	{Minor: 33, Source: "v1.33.13", EtcdImageTag: "3.5.24-0", MinEtcd: "3.5.24-0", ReadinessProbe: true},
	{Minor: 34, Source: "v1.34.4", EtcdImageTag: "3.6.5-0", MinEtcd: "3.5.24-0", ReadinessProbe: true, NamedProbePort: true},
	{Minor: 35, Source: "v1.35.4", EtcdImageTag: "3.6.6-0", MinEtcd: "3.5.24-0", ReadinessProbe: true, NamedProbePort: true},
	{Minor: 36, Source: "v1.36.3", EtcdImageTag: "3.6.8-0", MinEtcd: "3.5.24-0", ReadinessProbe: true, NamedProbePort: true},
	{Minor: 37, Source: "v1.37.2", EtcdImageTag: "3.7.0-0", MinEtcd: "3.5.24-0", ReadinessProbe: true, NamedProbePort: true},
}

// DefaultKubernetesMinor is the kubeadm release rendered when none is
// given: 1.34, the release the interop tests run as the oracle
// (k8s.io/kubernetes@v1.34.4: kubeadm's own manifest and certificate
// checks, kube-apiserver as the client).
const DefaultKubernetesMinor = 34

var kubeVersionRE = regexp.MustCompile(`^v?1\.(\d+)(?:\.\d+)?(?:[-+].*)?$`)

// ParseKubernetes reads a Kubernetes version ("1.34", "v1.34.4") and
// returns the kubeadm release facts for its minor version. The error
// lists the releases known.
func ParseKubernetes(s string) (Kubeadm, error) {
	m := kubeVersionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Kubeadm{}, fmt.Errorf("kubernetes version %q: want 1.%d to 1.%d, e.g. 1.%d or v1.%d.4", s,
			KubeadmReleases[0].Minor, KubeadmReleases[len(KubeadmReleases)-1].Minor, DefaultKubernetesMinor, DefaultKubernetesMinor)
	}
	minor, _ := strconv.Atoi(m[1])
	for _, k := range KubeadmReleases {
		if k.Minor == minor {
			return k, nil
		}
	}
	return Kubeadm{}, fmt.Errorf("kubernetes version %q: etcdpki knows kubeadm 1.%d to 1.%d", s,
		KubeadmReleases[0].Minor, KubeadmReleases[len(KubeadmReleases)-1].Minor)
}

// DefaultKubeadm is the release rendered when none is given.
func DefaultKubeadm() Kubeadm {
	k, _ := ParseKubernetes("1." + strconv.Itoa(DefaultKubernetesMinor))
	return k
}

// String is "1.34".
func (k Kubeadm) String() string { return "1." + strconv.Itoa(k.Minor) }

// Etcd is the etcd version the release pins.
func (k Kubeadm) Etcd() Etcd {
	e, _ := ParseEtcd(k.EtcdImageTag)
	return e
}

// Supports reports whether the release accepts etcd e (at least
// MinExternalEtcdVersion); a minor line counts as its newest release.
func (k Kubeadm) Supports(e Etcd) error {
	min, _ := ParseEtcd(k.MinEtcd)
	if p := min.Patch; e.atLeast(min.Minor, p) {
		return nil
	}
	return fmt.Errorf("kubeadm %s needs etcd %d.%d.%d or later (MinExternalEtcdVersion %s), not %s", k, 3, min.Minor, min.Patch, k.MinEtcd, e)
}
