package render

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// DefaultImage is the etcd image the manifest names; kubeadm pins one per
// Kubernetes release, so users normally pass their own with --image.
const DefaultImage = "registry.k8s.io/etcd:3.6.4-0"

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
		Port   int    `json:"port"`
		Scheme string `json:"scheme"`
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

// Manifest renders a kubeadm-style etcd static pod (what kubeadm writes to
// /etc/kubernetes/manifests/etcd.yaml) for the configuration, which should
// normally be rendered without Options.Root: the pod sees the node's paths.
// With a root, the pod mounts the rooted paths, so it stays consistent.
func (c *Config) Manifest(cl *spec.Cluster, image string) ([]byte, error) {
	if image == "" {
		image = DefaultImage
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
	probe := func(p string, failures int) *probe {
		return &probe{
			FailureThreshold:    failures,
			HTTPGet:             httpGet{Host: probeHost, Path: p, Port: probePort, Scheme: "HTTP"},
			InitialDelaySeconds: 10, PeriodSeconds: 10, TimeoutSeconds: 15,
		}
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
				LivenessProbe:   probe("/livez", 8),
				Name:            "etcd",
				Resources:       map[string]any{"requests": map[string]string{"cpu": "100m", "memory": "100Mi"}},
				StartupProbe:    probe("/readyz", 24),
				VolumeMounts: []volumeMount{
					{MountPath: c.DataDir, Name: "etcd-data"},
					{MountPath: certDir, Name: "etcd-certs"},
				},
			}},
			HostNetwork:       true,
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
