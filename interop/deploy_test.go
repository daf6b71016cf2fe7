package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// deployDir is the main module's Kubernetes deployment (deploy/README.md).
const deployDir = "../deploy"

// deployNamespace is where every namespaced object of deploy/ goes.
const deployNamespace = "etcdpki"

// deployBuild is one kustomization under deploy/, built as `kubectl apply
// -k` builds it: kustomize's API at the version kubectl 1.34 links
// (sigs.k8s.io/kustomize/api v0.20.1, required by k8s.io/kubernetes@v1.34.4
// go.mod), with kubectl's defaults (krusty.MakeDefaultOptions: files only
// from inside the kustomization root, no plugins).
type deployBuild struct {
	name string // "base", "overlays/k3s", …
	objs []*unstructured.Unstructured
}

// deployBuilds builds deploy/base and every directory under
// deploy/overlays, failing t on any error.
func deployBuilds(t testing.TB) []*deployBuild {
	t.Helper()
	names := []string{"base"}
	entries, err := os.ReadDir(filepath.Join(deployDir, "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, "overlays/"+e.Name())
		}
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	fs := filesys.MakeFsOnDisk()
	var builds []*deployBuild
	for _, name := range names {
		m, err := k.Run(fs, filepath.Join(deployDir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatalf("kustomize build deploy/%s: %v", name, err)
		}
		b := &deployBuild{name: name}
		for _, r := range m.Resources() {
			y, err := r.AsYAML()
			if err != nil {
				t.Fatalf("deploy/%s: %v", name, err)
			}
			j, err := yaml.YAMLToJSON(y)
			if err != nil {
				t.Fatalf("deploy/%s: %v", name, err)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(j); err != nil {
				t.Fatalf("deploy/%s: %s: %v", name, r.CurId(), err)
			}
			b.objs = append(b.objs, u)
		}
		builds = append(builds, b)
	}
	return builds
}

// one returns the build's only object of kind, failing t if there is not
// exactly one.
func (b *deployBuild) one(t testing.TB, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range b.objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("deploy/%s has %d objects of kind %s, want 1", b.name, len(found), kind)
	}
	return found[0]
}

// daemonSet is the build's exporter DaemonSet as the typed API object.
func (b *deployBuild) daemonSet(t testing.TB) *appsv1.DaemonSet {
	t.Helper()
	ds := &appsv1.DaemonSet{}
	decodeInto(t, b.one(t, "DaemonSet"), ds)
	return ds
}

// decodeInto converts u into a typed object, failing t on fields the type
// lacks (a misspelt field would otherwise vanish silently).
func decodeInto(t testing.TB, u *unstructured.Unstructured, into any) {
	t.Helper()
	j, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// hostMount is a hostPath volume with where the exporter sees it.
type hostMount struct {
	volume    string
	hostPath  string // the node's path
	mountPath string // the container's path
	fileType  corev1.HostPathType
	readOnly  bool
}

// String names a mount in failures.
func (m hostMount) String() string {
	return fmt.Sprintf("%s (%s at %s)", m.volume, m.hostPath, m.mountPath)
}

// hostMounts lists the exporter container's mounts of hostPath volumes,
// failing t on a hostPath volume the container does not mount.
func hostMounts(t testing.TB, ds *appsv1.DaemonSet) []hostMount {
	t.Helper()
	spec := ds.Spec.Template.Spec
	var out []hostMount
	mounted := map[string]bool{}
	for _, vm := range spec.Containers[0].VolumeMounts {
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if i < 0 || spec.Volumes[i].HostPath == nil {
			continue
		}
		hp := spec.Volumes[i].HostPath
		m := hostMount{volume: vm.Name, hostPath: hp.Path, mountPath: vm.MountPath, readOnly: vm.ReadOnly}
		if hp.Type != nil {
			m.fileType = *hp.Type
		}
		out = append(out, m)
		mounted[vm.Name] = true
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil && !mounted[v.Name] {
			t.Errorf("hostPath volume %s (%s) is not mounted by the exporter", v.Name, v.HostPath.Path)
		}
	}
	return out
}

// deploySecrets are node paths that no hostPath volume may contain: the
// cluster-admin kubeconfigs, the Kubernetes CAs' and service-account keys,
// and etcd's data (every Secret of the cluster), which the exporter never
// reads.
var deploySecrets = []string{
	"/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf",
	"/etc/kubernetes/pki/ca.key", "/etc/kubernetes/pki/sa.key", "/etc/kubernetes/pki/front-proxy-ca.key",
	"/var/lib/etcd/member",
	"/var/lib/rancher/rke2/server/db/etcd/member", "/var/lib/rancher/k3s/server/db/etcd/member",
	"/var/lib/rancher/rke2/server/tls/server-ca.key", "/var/lib/rancher/k3s/server/tls/server-ca.key",
	"/var/lib/rancher/rke2/server/tls/client-ca.key", "/var/lib/rancher/k3s/server/tls/client-ca.key",
	"/var/lib/rancher/rke2/server/cred", "/var/lib/rancher/k3s/server/cred",
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// checkDeployBuild asserts what issue 17 asks of the deployment on one
// build: the exporter only on control-plane (etcd) nodes, tolerating their
// taints, reading the node read-only through hostPath volumes that hold
// nothing it does not need, with no privilege beyond uid 0, a read-only
// root filesystem and bounded resources; a Service, ServiceMonitor and
// PrometheusRule that fit together; the Grafana dashboard as the sidecar's
// ConfigMap.
func checkDeployBuild(t *testing.T, b *deployBuild) {
	for _, o := range b.objs {
		if o.GetKind() != "Namespace" && o.GetNamespace() != deployNamespace {
			t.Errorf("%s %s is in namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), deployNamespace)
		}
	}
	ds := b.daemonSet(t)
	spec := ds.Spec.Template.Spec

	// Scheduling: a node-role selector, and the taints control-plane
	// and etcd nodes carry. kubeadm's control-plane taint has no value
	// (k8s.io/kubernetes@v1.34.4 cmd/kubeadm/app/constants/constants.go
	// ControlPlaneTaint); Rancher's RKE2/k3s taints have none either
	// (rancher/rancher pkg/capr/taints.go DefaultTaints), RKE1's etcd
	// taint had "true"; k3s and RKE2 document CriticalAddonsOnly=true.
	if !slices.ContainsFunc([]string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/etcd"},
		func(k string) bool { _, ok := spec.NodeSelector[k]; return ok }) {
		t.Errorf("nodeSelector %v selects no node role (control-plane or etcd)", spec.NodeSelector)
	}
	for _, taint := range []corev1.Taint{
		{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node-role.kubernetes.io/control-plane", Value: "true", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node-role.kubernetes.io/master", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node-role.kubernetes.io/etcd", Effect: corev1.TaintEffectNoExecute},
		{Key: "node-role.kubernetes.io/etcd", Value: "true", Effect: corev1.TaintEffectNoExecute},
		{Key: "CriticalAddonsOnly", Value: "true", Effect: corev1.TaintEffectNoExecute},
	} {
		if !slices.ContainsFunc(spec.Tolerations, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(&taint) }) {
			t.Errorf("no toleration for the taint %s=%s:%s", taint.Key, taint.Value, taint.Effect)
		}
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Errorf("the pod shares the host's namespaces (hostNetwork %v, hostPID %v, hostIPC %v)", spec.HostNetwork, spec.HostPID, spec.HostIPC)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token; the exporter never calls the API")
	}
	if sc := spec.SecurityContext; sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("the pod's seccompProfile is not RuntimeDefault")
	}

	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
		t.Fatalf("want one container, got %d (and %d init containers)", len(spec.Containers), len(spec.InitContainers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("the exporter container has no securityContext")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("the container is privileged")
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities %+v: want drop [ALL] and nothing added", sc.Capabilities)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "metrics" {
			t.Errorf("%s probe %+v: want an HTTP GET on the metrics port", name, p)
		}
	}

	// The node, read-only, and only what check reads.
	mounts := hostMounts(t, ds)
	if len(mounts) == 0 {
		t.Fatal("the exporter mounts no hostPath volume")
	}
	for _, m := range mounts {
		if !m.readOnly {
			t.Errorf("hostPath %s is mounted read-write at %s", m.hostPath, m.mountPath)
		}
		if m.fileType != corev1.HostPathDirectory && m.fileType != corev1.HostPathFile {
			// DirectoryOrCreate and FileOrCreate would make the path on
			// a node that lacks it; "" checks nothing.
			t.Errorf("hostPath %s has type %q, want Directory or File", m.hostPath, m.fileType)
		}
		if m.mountPath != "/host"+m.hostPath {
			t.Errorf("hostPath %s is mounted at %s, not at /host%s: the exporter reads /host as the node's /", m.hostPath, m.mountPath, m.hostPath)
		}
		for _, s := range deploySecrets {
			if within(s, m.hostPath) {
				t.Errorf("hostPath %s exposes %s to the pod", m.hostPath, s)
			}
		}
	}
	args := c.Args
	if len(c.Command) != 1 || c.Command[0] != "etcdpki" || len(args) == 0 || args[0] != "exporter" || args[len(args)-1] != "/host" {
		t.Errorf("command %q args %q: want etcdpki exporter … /host", c.Command, args)
	}
	// The probe's credential files are under the mounts.
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || !slices.Contains([]string{"--cacert", "--cert", "--key"}, k) {
			continue
		}
		if !slices.ContainsFunc(mounts, func(m hostMount) bool { return within(v, m.mountPath) }) {
			t.Errorf("%s is not under any hostPath mount", a)
		}
	}

	// Service → pods, ServiceMonitor → Service.
	svc := &corev1.Service{}
	decodeInto(t, b.one(t, "Service"), svc)
	for k, v := range svc.Spec.Selector {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the exporter's pods lack", k, v)
		}
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" && p.Port == 9794 }) {
		t.Errorf("the Service has no port metrics=9794: %+v", svc.Spec.Ports)
	}
	// The exporters find each other through the Service's name
	// (--peers dns+http://NAME:PORT), which must resolve to pods not
	// ready yet too, or a peer missing would go unseen.
	if want := "--peers=dns+http://" + svc.Name + ":9794"; !slices.Contains(args, want) {
		t.Errorf("args %q lack %s: the exporters would each judge one member", args, want)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("the Service: clusterIP %q, publishNotReadyAddresses %v; want a headless Service that publishes pods not ready", svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses)
	}
	sm := b.one(t, "ServiceMonitor")
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the Service lacks", k, v)
		}
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 || eps[0].(map[string]any)["port"] != "metrics" {
		t.Errorf("ServiceMonitor endpoints %v: want the Service's metrics port", eps)
	}
	b.one(t, "PrometheusRule") // its content: TestAlertExpressions

	// The dashboard, byte for byte, where Grafana's sidecar finds it.
	cm := b.one(t, "ConfigMap")
	want, err := os.ReadFile(filepath.Join(deployDir, "grafana", "etcdpki-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if cm.GetLabels()["grafana_dashboard"] != "1" || data["etcdpki-dashboard.json"] != string(want) {
		t.Errorf("ConfigMap %s: labels %v, %d bytes of etcdpki-dashboard.json: want label grafana_dashboard=1 and the %d bytes of deploy/grafana/etcdpki-dashboard.json",
			cm.GetName(), cm.GetLabels(), len(data["etcdpki-dashboard.json"]), len(want))
	}
}

// containerArgs returns the exporter's arguments with the container's
// paths under root (a directory standing for the container's /), for a
// run of the exporter on this machine.
func containerArgs(args []string, root string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case ok && path.IsAbs(v):
			out[i] = k + "=" + filepath.Join(root, filepath.FromSlash(v))
		case !ok && path.IsAbs(a):
			out[i] = filepath.Join(root, filepath.FromSlash(a))
		}
	}
	return out
}
