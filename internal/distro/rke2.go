package distro

// RKE2 runs k3s's server code with version.Program "rke2" and a static pod
// executor, so its etcd PKI and etcd config file are k3s's (k3s.go) under
// /var/lib/rancher/rke2, and etcd and kube-apiserver run as static pods
// the kubelet reads from /var/lib/rancher/rke2/agent/pod-manifests.
//
// Sources (rancher/rke2; stored copies, the newest found):
//
//   - pkg/executor/staticpod/staticpod.go@d27c316ca67b1dccb7566df6480281ae31c87612
//     ((*StaticPodConfig).ETCD, APIServer, CurrentETCDOptions,
//     writeTemplate, writeFile, etcdNameFile)
//   - pkg/podtemplate/podtemplate.go@01893d975f2b7898087d114b42d02e62d1911744
//     (Pod, addVolumes, ReadFiles, createProbe)
//   - pkg/podtemplate/spec.go@231cf15f9684d32f5d98f8a1ba11f5717d60404a
//     ((*Config).ETCD: probe, ports)
//   - pkg/rke2/rke2_linux.go@de8240abc4298ba6bb2b3c5e38a561926cdc57ff
//     (pod-manifests dir, default etcd requests, default probe settings)
//   - k3s-io/k3s pkg/daemons/control/server.go setupStorageBackend
//     (kube-apiserver's --etcd-* flags) and pkg/etcd/etcd.go startClient
//     (Datastore endpoint https://127.0.0.1:2379, CA server-ca.crt,
//     client.crt/client.key)

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"sigs.k8s.io/yaml"
)

func init() {
	All["rke2"] = RKE2
}

var rancherRKE2 = rancherFlavor{name: "rke2", program: "rke2"}

// RKE2 writes an RKE2 cluster: k3s's etcd PKI and etcd config file under
// /var/lib/rancher/rke2/server, the etcd static pod
// agent/pod-manifests/etcd.yaml that runs etcd with that config file, and
// kube-apiserver's static pod with its --etcd-* flags.
//
// There is no "restarted" RKE2 variant: on a restart RKE2 reads the
// initial options back from the etcd pod's etcd.k3s.io/initial annotation
// (staticpod.go CurrentETCDOptions) and writes them again, so a restarted
// member's files are the ones written here.
func RKE2(t testing.TB, dir string, opts Options) *Fixture {
	t.Helper()
	f, nodes := writeRancher(t, dir, opts, rancherRKE2, false)
	for _, n := range nodes {
		writeRKE2EtcdPod(t, n)
		writeRKE2APIServerPod(t, n)
	}
	return f
}

// rke2Manifests is the kubelet's static pod directory: <data-dir>/agent/
// pod-manifests (rke2_linux.go initExecutor, config.DefaultPodManifestPath).
const rke2Manifests = "/var/lib/rancher/rke2/agent/pod-manifests"

// Images the manifests name: an RKE2 v1.31.7 release's (rke2-images list);
// name.Reference.Name() spells Docker Hub as index.docker.io.
const (
	rke2EtcdImage       = "index.docker.io/rancher/hardened-etcd:v3.5.19-k3s1-build20250306"
	rke2KubernetesImage = "index.docker.io/rancher/hardened-kubernetes:v1.31.7-rke2r1-build20250312"
)

// The subset of k8s.io/api/core/v1.Pod a static pod manifest of RKE2's
// uses, with the API's JSON names and omitempty choices; sigs.k8s.io/yaml
// (which RKE2 marshals with) sorts the keys.
type (
	rke2Pod struct {
		APIVersion string      `json:"apiVersion"`
		Kind       string      `json:"kind"`
		Metadata   rke2Meta    `json:"metadata"`
		Spec       rke2PodSpec `json:"spec"`
		Status     struct{}    `json:"status"`
	}
	rke2Meta struct {
		Annotations map[string]string `json:"annotations,omitempty"`
		// metav1.Time's zero value marshals as null.
		CreationTimestamp *string           `json:"creationTimestamp"`
		Labels            map[string]string `json:"labels,omitempty"`
		Name              string            `json:"name,omitempty"`
		Namespace         string            `json:"namespace,omitempty"`
		UID               string            `json:"uid,omitempty"`
	}
	rke2PodSpec struct {
		Containers        []rke2Container `json:"containers"`
		HostNetwork       bool            `json:"hostNetwork,omitempty"`
		PriorityClassName string          `json:"priorityClassName,omitempty"`
		Volumes           []rke2Volume    `json:"volumes,omitempty"`
	}
	rke2Container struct {
		Args            []string      `json:"args,omitempty"`
		Command         []string      `json:"command,omitempty"`
		Env             []rke2Env     `json:"env,omitempty"`
		Image           string        `json:"image,omitempty"`
		ImagePullPolicy string        `json:"imagePullPolicy,omitempty"`
		LivenessProbe   *rke2Probe    `json:"livenessProbe,omitempty"`
		Name            string        `json:"name"`
		Ports           []rke2Port    `json:"ports,omitempty"`
		Resources       rke2Resources `json:"resources"`
		SecurityContext *rke2SecCtx   `json:"securityContext,omitempty"`
		VolumeMounts    []rke2Mount   `json:"volumeMounts,omitempty"`
	}
	rke2Env struct {
		Name  string `json:"name"`
		Value string `json:"value,omitempty"`
	}
	rke2Probe struct {
		FailureThreshold    int32        `json:"failureThreshold,omitempty"`
		HTTPGet             *rke2HTTPGet `json:"httpGet,omitempty"`
		InitialDelaySeconds int32        `json:"initialDelaySeconds,omitempty"`
		PeriodSeconds       int32        `json:"periodSeconds,omitempty"`
		TimeoutSeconds      int32        `json:"timeoutSeconds,omitempty"`
	}
	rke2HTTPGet struct {
		Host   string `json:"host,omitempty"`
		Path   string `json:"path,omitempty"`
		Port   int32  `json:"port"`
		Scheme string `json:"scheme,omitempty"`
	}
	rke2Port struct {
		ContainerPort int32  `json:"containerPort"`
		Name          string `json:"name,omitempty"`
		Protocol      string `json:"protocol,omitempty"`
	}
	rke2Resources struct {
		Limits   map[string]string `json:"limits,omitempty"`
		Requests map[string]string `json:"requests,omitempty"`
	}
	rke2SecCtx struct {
		Privileged *bool `json:"privileged,omitempty"`
	}
	rke2Mount struct {
		MountPath string `json:"mountPath"`
		Name      string `json:"name"`
		ReadOnly  bool   `json:"readOnly,omitempty"`
	}
	rke2Volume struct {
		HostPath rke2HostPath `json:"hostPath"`
		Name     string       `json:"name"`
	}
	rke2HostPath struct {
		Path string `json:"path"`
		Type string `json:"type,omitempty"`
	}
)

// writeRKE2EtcdPod writes agent/pod-manifests/etcd.yaml as
// (*StaticPodConfig).ETCD does: command etcd --config-file=<config>, the
// etcd.k3s.io/initial annotation holding the InitialOptions as JSON, the
// data dir as a DirectoryOrCreate volume and the six TLS files (then the
// config file, which ReadFiles finds among the args) as read-only File
// volumes.
func writeRKE2EtcdPod(t testing.TB, n rancherNode) {
	t.Helper()
	r := rancherRKE2
	config := r.etcdDataDir() + "/config"
	initial, err := json.Marshal(n.Initial)
	if err != nil {
		t.Fatalf("distro: %v", err)
	}
	files := []string{
		r.etcdTLS(rancherServer), r.etcdTLS(rancherServerKey), r.etcdTLS(rancherServerCA),
		r.etcdTLS(rancherPeer), r.etcdTLS(rancherPeerKey), r.etcdTLS(rancherPeerCA),
		config,
	}
	c := rke2Container{
		Name:    "etcd",
		Image:   rke2EtcdImage,
		Command: []string{"etcd"},
		Args:    []string{"--config-file=" + config},
		// spec.go (*Config).ETCD; probe settings are rke2_linux.go's
		// liveness defaults; HostNetwork gives the probe host localhost.
		LivenessProbe: &rke2Probe{
			HTTPGet:             &rke2HTTPGet{Host: "localhost", Path: "/health?serializable=true", Port: 2381, Scheme: "HTTP"},
			InitialDelaySeconds: 10, TimeoutSeconds: 15, FailureThreshold: 8, PeriodSeconds: 10,
		},
		Ports: []rke2Port{
			{Name: "client", Protocol: "TCP", ContainerPort: 2379},
			{Name: "peer", Protocol: "TCP", ContainerPort: 2380},
			{Name: "metrics", Protocol: "TCP", ContainerPort: 2381},
		},
		// rke2_linux.go default etcd requests.
		Resources: rke2Resources{Requests: map[string]string{"cpu": "200m", "memory": "512Mi"}},
	}
	writeRKE2Pod(t, n.Root, "etcd", c, map[string]string{"etcd.k3s.io/initial": string(initial)},
		[]string{r.etcdDataDir()}, files)
}

// writeRKE2APIServerPod writes agent/pod-manifests/kube-apiserver.yaml,
// abridged to what reaches etcd: the storage flags k3s's
// setupStorageBackend sets from the Datastore that etcd.go startClient
// fills (endpoint https://127.0.0.1:2379, CA server-ca.crt, client.crt and
// client.key), in k3s's sorted argument order. Its volumes are those
// (*StaticPodConfig).APIServer gives: the server directory, the etcd name
// file, and the files named in the args (ReadFiles, sorted).
func writeRKE2APIServerPod(t testing.TB, n rancherNode) {
	t.Helper()
	r := rancherRKE2
	args := []string{
		"--etcd-cafile=" + r.etcdTLS(rancherServerCA),
		"--etcd-certfile=" + r.etcdTLS(rancherClient),
		"--etcd-keyfile=" + r.etcdTLS(rancherClientKey),
		"--etcd-servers=https://127.0.0.1:2379",
		"--storage-backend=etcd3",
	}
	files := []string{
		r.etcdDataDir() + "/name",
		r.etcdTLS(rancherClient), r.etcdTLS(rancherClientKey), r.etcdTLS(rancherServerCA),
	}
	c := rke2Container{
		Name:      "kube-apiserver",
		Image:     rke2KubernetesImage,
		Command:   []string{"kube-apiserver"},
		Args:      args,
		Ports:     []rke2Port{{Name: "apiserver", Protocol: "TCP", ContainerPort: 6443}},
		Resources: rke2Resources{Requests: map[string]string{"cpu": "250m", "memory": "1024Mi"}},
	}
	writeRKE2Pod(t, n.Root, "kube-apiserver", c, nil, []string{r.serverDir()}, files)
}

// writeRKE2Pod completes a pod as podtemplate.Pod and writeTemplate do and
// writes it to pod-manifests/<command>.yaml, mode 0644 (0600 only in a
// CIS profile), in a directory writeFile makes 0700.
func writeRKE2Pod(t testing.TB, root, command string, c rke2Container, annotations map[string]string, dirs, files []string) {
	t.Helper()
	fs := nodeFS{t: t, root: root}
	// FILE_HASH is the SHA-256 of the Files' contents, in order.
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(fs.path(f))
		if err != nil {
			t.Fatalf("distro: %v", err)
		}
		h.Write(data)
	}
	c.Env = append([]rke2Env{{Name: "FILE_HASH", Value: hex.EncodeToString(h.Sum(nil))}}, c.Env...)
	c.ImagePullPolicy = "IfNotPresent"
	privileged := false
	c.SecurityContext = &rke2SecCtx{Privileged: &privileged}
	p := rke2Pod{
		APIVersion: "v1",
		Kind:       "Pod",
		Metadata: rke2Meta{
			Name:        command,
			Namespace:   "kube-system",
			Labels:      map[string]string{"component": command, "tier": "control-plane"},
			Annotations: annotations,
		},
		Spec: rke2PodSpec{HostNetwork: true, PriorityClassName: "system-cluster-critical"},
	}
	// addVolumes: dirs as dir<i> (DirectoryOrCreate, read-write), then
	// files as file<i> (File, read-only), mounted at their host paths.
	add := func(prefix, kind string, readOnly bool, paths []string) {
		for i, src := range paths {
			name := prefix + strconv.Itoa(i)
			p.Spec.Volumes = append(p.Spec.Volumes, rke2Volume{Name: name, HostPath: rke2HostPath{Path: src, Type: kind}})
			c.VolumeMounts = append(c.VolumeMounts, rke2Mount{Name: name, MountPath: src, ReadOnly: readOnly})
		}
	}
	add("dir", "DirectoryOrCreate", false, dirs)
	add("file", "File", true, files)
	p.Spec.Containers = []rke2Container{c}

	manifest := rke2Manifests + "/" + command + ".yaml"
	// writeTemplate sets the UID to an MD5 of the pod (DeepHashObject)
	// and "file:<path>"; an MD5 of the pod's YAML stands in for it.
	b, err := yaml.Marshal(&p)
	if err != nil {
		t.Fatalf("distro: %v", err)
	}
	sum := md5.Sum(append(b, []byte("file:"+manifest)...))
	p.Metadata.UID = hex.EncodeToString(sum[:])
	if b, err = yaml.Marshal(&p); err != nil {
		t.Fatalf("distro: %v", err)
	}
	fs.file(manifest, 0o644, b)
	fs.chmod(0o700, rke2Manifests)
}
