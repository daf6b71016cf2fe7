package render

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/release"
	"github.com/etcdpki/etcdpki/spec"
)

// ImageRepository is where kubeadm's etcd images come from.
const ImageRepository = "registry.k8s.io/etcd"

// securityConfig mirrors etcd's client-transport-security and
// peer-transport-security sections of its --config-file.
type securityConfig struct {
	CertFile       string `json:"cert-file,omitempty"`
	KeyFile        string `json:"key-file,omitempty"`
	ClientCertFile string `json:"client-cert-file,omitempty"`
	ClientKeyFile  string `json:"client-key-file,omitempty"`
	ClientCertAuth bool   `json:"client-cert-auth"`
	TrustedCAFile  string `json:"trusted-ca-file,omitempty"`
}

// configFile mirrors the keys of etcd's --config-file that we set.
type configFile struct {
	Name                     string         `json:"name"`
	DataDir                  string         `json:"data-dir"`
	ListenPeerURLs           string         `json:"listen-peer-urls"`
	ListenClientURLs         string         `json:"listen-client-urls"`
	InitialAdvertisePeerURLs string         `json:"initial-advertise-peer-urls"`
	AdvertiseClientURLs      string         `json:"advertise-client-urls"`
	ListenMetricsURLs        string         `json:"listen-metrics-urls,omitempty"`
	InitialCluster           string         `json:"initial-cluster"`
	InitialClusterToken      string         `json:"initial-cluster-token"`
	InitialClusterState      string         `json:"initial-cluster-state"`
	SnapshotCount            int            `json:"snapshot-count"`
	ClientTransportSecurity  securityConfig `json:"client-transport-security"`
	PeerTransportSecurity    securityConfig `json:"peer-transport-security"`

	// The version-dependent keys (see Config.InitialCorruptCheck). etcd
	// reads durations in its config file as nanoseconds: the file is YAML
	// turned into JSON for a time.Duration field.
	FeatureGates                       string        `json:"feature-gates,omitempty"`
	ExperimentalInitialCorruptCheck    bool          `json:"experimental-initial-corrupt-check,omitempty"`
	WatchProgressNotifyInterval        time.Duration `json:"watch-progress-notify-interval,omitempty"`
	ExperimentalWatchProgressNotifyInt time.Duration `json:"experimental-watch-progress-notify-interval,omitempty"`
}

// ConfigFile renders the configuration as an etcd --config-file.
func (c *Config) ConfigFile() ([]byte, error) {
	f := configFile{
		Name:                     c.Name,
		DataDir:                  c.DataDir,
		ListenPeerURLs:           strings.Join(c.ListenPeerURLs, ","),
		ListenClientURLs:         strings.Join(c.ListenClientURLs, ","),
		InitialAdvertisePeerURLs: strings.Join(c.InitialAdvertisePeerURLs, ","),
		AdvertiseClientURLs:      strings.Join(c.AdvertiseClientURLs, ","),
		ListenMetricsURLs:        strings.Join(c.ListenMetricsURLs, ","),
		InitialCluster:           c.InitialCluster,
		InitialClusterToken:      c.InitialClusterToken,
		InitialClusterState:      c.InitialClusterState,
		SnapshotCount:            c.SnapshotCount,
		ClientTransportSecurity: securityConfig{
			CertFile: c.CertFile, KeyFile: c.KeyFile,
			ClientCertFile: c.ClientCertFile, ClientKeyFile: c.ClientKeyFile,
			ClientCertAuth: c.ClientCertAuth, TrustedCAFile: c.TrustedCAFile,
		},
		PeerTransportSecurity: securityConfig{
			CertFile: c.PeerCertFile, KeyFile: c.PeerKeyFile,
			ClientCertFile: c.PeerClientCertFile, ClientKeyFile: c.PeerClientKeyFile,
			ClientCertAuth: c.PeerClientCertAuth, TrustedCAFile: c.PeerTrustedCAFile,
		},
	}
	kv := c.values()
	f.FeatureGates = kv["feature-gates"]
	f.ExperimentalInitialCorruptCheck = kv["experimental-initial-corrupt-check"] == "true"
	if _, ok := kv["watch-progress-notify-interval"]; ok {
		f.WatchProgressNotifyInterval = c.WatchProgressNotifyInterval
	} else if _, ok := kv["experimental-watch-progress-notify-interval"]; ok {
		f.ExperimentalWatchProgressNotifyInt = c.WatchProgressNotifyInterval
	}
	return yaml.Marshal(f)
}

// The static pod is written from these few types rather than k8s.io/api,
// which would pull in most of Kubernetes for one YAML document.
type (
	pod struct {
		APIVersion string      `json:"apiVersion"`
		Kind       string      `json:"kind"`
		Metadata   podMetadata `json:"metadata"`
		Spec       podSpec     `json:"spec"`
	}
	podMetadata struct {
		Annotations map[string]string `json:"annotations,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
	}
	podSpec struct {
		Containers        []container `json:"containers"`
		HostNetwork       bool        `json:"hostNetwork"`
		Priority          int         `json:"priority"`
		PriorityClassName string      `json:"priorityClassName"`
		SecurityContext   any         `json:"securityContext,omitempty"`
		Volumes           []volume    `json:"volumes"`
	}
	container struct {
		Command         []string      `json:"command"`
		Image           string        `json:"image"`
		ImagePullPolicy string        `json:"imagePullPolicy"`
		LivenessProbe   *probe        `json:"livenessProbe,omitempty"`
		Name            string        `json:"name"`
		Ports           []port        `json:"ports,omitempty"`
		ReadinessProbe  *probe        `json:"readinessProbe,omitempty"`
		Resources       any           `json:"resources,omitempty"`
		StartupProbe    *probe        `json:"startupProbe,omitempty"`
		VolumeMounts    []volumeMount `json:"volumeMounts"`
	}
	probe struct {
		FailureThreshold    int     `json:"failureThreshold"`
		HTTPGet             httpGet `json:"httpGet"`
		InitialDelaySeconds int     `json:"initialDelaySeconds"`
		PeriodSeconds       int     `json:"periodSeconds"`
		TimeoutSeconds      int     `json:"timeoutSeconds"`
	}
	httpGet struct {
		Host   string `json:"host"`
		Path   string `json:"path"`
		Port   any    `json:"port"` // a number, or a named container port
		Scheme string `json:"scheme"`
	}
	port struct {
		ContainerPort int    `json:"containerPort"`
		Name          string `json:"name"`
		Protocol      string `json:"protocol"`
	}
	volumeMount struct {
		MountPath string `json:"mountPath"`
		Name      string `json:"name"`
	}
	volume struct {
		HostPath hostPath `json:"hostPath"`
		Name     string   `json:"name"`
	}
	hostPath struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
)

// Manifest renders the etcd static pod that the target kubeadm release
// writes to /etc/kubernetes/manifests/etcd.yaml (cmd/kubeadm/app/phases/
// etcd/local.go GetEtcdPodSpec, util/staticpod/utils.go ComponentPod and
// the probes, at the release's version) for the configuration, which
// should normally be rendered without Options.Root: the pod sees the
// node's paths. With a root, the pod mounts the rooted paths, so it stays
// consistent. An empty image is registry.k8s.io/etcd with the target's tag.
func (c *Config) Manifest(cl *spec.Cluster, image string) ([]byte, error) {
	if image == "" {
		image = c.Image()
	}
	// kubeadm mounts only the etcd part of the PKI into the pod: the
	// directory of the files the flags name (server, peer, CA and, split,
	// the credentials all live there in both layouts).
	certDir := filepath.Dir(c.CertFile)
	// The kubelet probes the plain-HTTP metrics listener: 127.0.0.1 as
	// kubeadm has it, or a loopback member's own 127.0.0.x.
	probeHost, probePort := "127.0.0.1", cl.MetricsPort
	if len(c.ListenMetricsURLs) > 0 {
		u, err := url.Parse(c.ListenMetricsURLs[0])
		if err != nil {
			return nil, fmt.Errorf("listen-metrics-urls: %w", err)
		}
		probeHost = u.Hostname()
		if probePort, err = strconv.Atoi(u.Port()); err != nil {
			return nil, fmt.Errorf("listen-metrics-urls %s: no port", u)
		}
	}
	k, e := c.Target.Kubeadm, c.etcd()
	// kubeadm 1.34+ declares the metrics port as "probe-port" and probes
	// it by name; earlier releases probe the number.
	var ports []port
	var portRef any = probePort
	if k.NamedProbePort {
		ports = []port{{ContainerPort: probePort, Name: "probe-port", Protocol: "TCP"}}
		portRef = "probe-port"
	}
	newProbe := func(p string, initialDelay, failures, period int) *probe {
		return &probe{
			FailureThreshold:    failures,
			HTTPGet:             httpGet{Host: probeHost, Path: p, Port: portRef, Scheme: "HTTP"},
			InitialDelaySeconds: initialDelay, PeriodSeconds: period, TimeoutSeconds: 15,
		}
	}
	// kubeadm 1.31+ probes /livez and /readyz, and adds a readiness probe
	// (kubernetes/kubeadm#3039); up to 1.30 it probed /health, which is
	// also all etcd before 3.5.11 serves. The startup probe's failure
	// threshold covers ControlPlaneComponentHealthCheckTimeout (4m) at a
	// 10 s period.
	var liveness, readiness, startup *probe
	if k.ReadinessProbe && e.HasLivez() {
		liveness = newProbe("/livez", 10, 8, 10)
		readiness = newProbe("/readyz", 0, 3, 1)
		startup = newProbe("/readyz", 10, 24, 10)
	} else {
		liveness = newProbe(release.HealthLiveness, 10, 8, 10)
		startup = newProbe(release.HealthStartup, 10, 24, 10)
	}
	p := pod{
		APIVersion: "v1",
		Kind:       "Pod",
		Metadata: podMetadata{
			// kubeadm reads the member's client URL back from this annotation.
			Annotations: map[string]string{"kubeadm.kubernetes.io/etcd.advertise-client-urls": strings.Join(c.AdvertiseClientURLs, ",")},
			Labels:      map[string]string{"component": "etcd", "tier": "control-plane"},
			Name:        "etcd",
			Namespace:   "kube-system",
		},
		Spec: podSpec{
			Containers: []container{{
				Command:         append([]string{"etcd"}, c.Flags()...),
				Image:           image,
				ImagePullPolicy: "IfNotPresent",
				LivenessProbe:   liveness,
				Name:            "etcd",
				Ports:           ports,
				ReadinessProbe:  readiness,
				Resources:       map[string]any{"requests": map[string]string{"cpu": "100m", "memory": "100Mi"}},
				StartupProbe:    startup,
				VolumeMounts: []volumeMount{
					{MountPath: c.DataDir, Name: "etcd-data"},
					{MountPath: certDir, Name: "etcd-certs"},
				},
			}},
			HostNetwork: true,
			// The system-node-critical class's value, which kubeadm
			// writes next to its name (ComponentPod).
			Priority:          2000001000,
			PriorityClassName: "system-node-critical",
			SecurityContext:   map[string]any{"seccompProfile": map[string]string{"type": "RuntimeDefault"}},
			Volumes: []volume{
				{HostPath: hostPath{Path: certDir, Type: "DirectoryOrCreate"}, Name: "etcd-certs"},
				{HostPath: hostPath{Path: c.DataDir, Type: "DirectoryOrCreate"}, Name: "etcd-data"},
			},
		},
	}
	return yaml.Marshal(p)
}

// Image is the etcd image of the manifest: registry.k8s.io/etcd with the
// tag the target kubeadm release pins (or the target etcd version's).
func (c *Config) Image() string {
	tag := c.Target.ImageTag
	if tag == "" {
		tag = release.DefaultKubeadm().EtcdImageTag
	}
	return ImageRepository + ":" + tag
}

// APIServerFlags returns kube-apiserver's --etcd-* flags for a control
// plane next to member name. In the kubeadm layout the apiserver dials the
// local member at https://127.0.0.1:2379, as kubeadm's stacked etcd does;
// in the etcd layout (external etcd) it lists every member.
func APIServerFlags(c *spec.Cluster, name string, opts Options) ([]string, error) {
	m, err := c.Member(name)
	if err != nil {
		return nil, err
	}
	l, err := layout.ForName(c.Layout)
	if err != nil {
		return nil, err
	}
	var servers []string
	if c.Layout == spec.LayoutKubeadm && !m.OnLoopback() {
		servers = []string{c.LocalClientURL()}
	} else {
		for i := range c.Members {
			servers = append(servers, c.ClientURL(&c.Members[i]))
		}
	}
	return []string{
		"--etcd-cafile=" + onRoot(opts.Root, l.CertPath(pki.KindCA)),
		"--etcd-certfile=" + onRoot(opts.Root, l.CertPath(pki.KindAPIServerClient)),
		"--etcd-keyfile=" + onRoot(opts.Root, l.KeyPath(pki.KindAPIServerClient)),
		"--etcd-servers=" + strings.Join(servers, ","),
	}, nil
}

// EtcdctlEnv returns etcdctl's environment for member name's node: every
// member's client URL and the healthcheck-client credential, the one
// kubeadm's documentation uses with etcdctl.
func EtcdctlEnv(c *spec.Cluster, name string, opts Options) ([]string, error) {
	if _, err := c.Member(name); err != nil {
		return nil, err
	}
	l, err := layout.ForName(c.Layout)
	if err != nil {
		return nil, err
	}
	var endpoints []string
	for i := range c.Members {
		endpoints = append(endpoints, c.ClientURL(&c.Members[i]))
	}
	return []string{
		"ETCDCTL_API=3",
		"ETCDCTL_ENDPOINTS=" + strings.Join(endpoints, ","),
		"ETCDCTL_CACERT=" + onRoot(opts.Root, l.CertPath(pki.KindCA)),
		"ETCDCTL_CERT=" + onRoot(opts.Root, l.CertPath(pki.KindHealthcheckClient)),
		"ETCDCTL_KEY=" + onRoot(opts.Root, l.KeyPath(pki.KindHealthcheckClient)),
	}, nil
}

// ExportLines renders environment assignments as shell export lines.
func ExportLines(env []string) string {
	var b strings.Builder
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	return b.String()
}
