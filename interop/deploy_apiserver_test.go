package interop

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// The Prometheus Operator release whose CRDs the ServiceMonitor and
// PrometheusRule are checked against: its module zip on the Go module
// proxy carries the CRDs as the release ships them
// (example/prometheus-operator-crd/). The sum pins the zip.
const (
	promOperatorModule = "github.com/prometheus-operator/prometheus-operator"
	promOperatorVer    = "v0.90.1"
	promOperatorSum    = "h1:n/+FkLB6WpftBxJC8IEHrWXSA6uzNTocFmwU/ACkfeg="
)

// TestDeployManifests proves that deploy/ is what issue 17 asks for and
// that a real cluster takes it as it is:
//
//   - every kustomization (deploy/base and each deploy/overlays/*) builds
//     with kustomize's own API, and each build meets checkDeployBuild's
//     demands (node selection and tolerations, read-only hostPath volumes
//     of only what the exporter needs, no capabilities, read-only root,
//     resources, probes, the objects wired to each other);
//   - a real kube-apiserver v1.34.4 on a real etcd, with the Prometheus
//     Operator's own CRDs installed and Established, accepts every object
//     of every build by server-side apply with dryRun=All and strict field
//     validation (a misspelt or misplaced field is an error, not dropped);
//   - under Pod Security Admission defaulting every namespace to
//     "restricted" (a hardened cluster), the exporter's Pod is admitted in
//     the Namespace deploy/ makes, whose label allows "privileged", and
//     violates "restricted" only by its hostPath volumes and uid 0: the
//     pod is otherwise as restricted as PSA can tell.
func TestDeployManifests(t *testing.T) {
	builds := deployBuilds(t)
	for _, b := range builds {
		t.Run(strings.ReplaceAll(b.name, "/", "-"), func(t *testing.T) { checkDeployBuild(t, b) })
	}
	if t.Failed() {
		return
	}

	bin := binary(t, "kube-apiserver")
	kc := newKubeCreds(t)
	crds := promOperatorCRDs(t)
	p := initPKI(t, pkiOptions{members: 1})
	c := startCluster(t, p, "3.6")
	c.waitHealthy(t, 60*time.Second)
	a := startKubeAPIServer(t, bin, kc, apiserverOptions{
		etcdFlags: apiserverFlags(t, p, "cp1", p.tree("cp1")), prefix: etcdPrefix("deploy"),
		extraArgs: []string{"--admission-control-config-file=" + podSecurityDefaults(t, "restricted")},
	})
	a.waitReady(t, kc, 3*time.Minute)
	k := newKubeClient(t, a, kc)

	for _, crd := range crds {
		k.apply(t, crd, false)
	}
	for _, crd := range crds {
		k.waitEstablished(t, crd.GetName(), 60*time.Second)
	}
	k.mapper.Reset()

	// The Namespace and ServiceAccount for real: every namespaced object
	// needs its namespace (the NamespaceLifecycle admission plugin), and
	// a Pod its service account (the ServiceAccount plugin).
	base := builds[0]
	k.apply(t, base.one(t, "Namespace"), false)
	k.apply(t, base.one(t, "ServiceAccount"), false)

	for _, b := range builds {
		t.Run("apply-"+strings.ReplaceAll(b.name, "/", "-"), func(t *testing.T) {
			for _, o := range b.objs {
				warnings := k.apply(t, o, true)
				if o.GetKind() == "DaemonSet" {
					// PSA checks a controller's pod template against the
					// warn level and says so in warnings (k8s.io/pod-security-admission@v0.34.4
					// admission/admission.go ValidatePodController).
					wantPodSecurity(t, "DaemonSet "+o.GetName(), warnings)
				} else if len(warnings) > 0 {
					t.Errorf("%s %s: warnings %q", o.GetKind(), o.GetName(), warnings)
				}
			}
			// The pod the DaemonSet controller would create, under the
			// enforce level the Namespace's label sets.
			ds := b.daemonSet(t)
			pod := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": "etcdpki-exporter-dry-run", "namespace": deployNamespace, "labels": ds.Spec.Template.Labels},
			}}
			spec, err := json.Marshal(ds.Spec.Template.Spec)
			if err != nil {
				t.Fatal(err)
			}
			var specMap map[string]any
			if err := json.Unmarshal(spec, &specMap); err != nil {
				t.Fatal(err)
			}
			pod.Object["spec"] = specMap
			wantPodSecurity(t, "Pod", k.apply(t, pod, true))
		})
	}
}

// podSecurityDefaults writes kube-apiserver's admission configuration
// with PodSecurity's defaults (for namespaces without pod-security labels)
// at level for enforce, audit and warn
// (k8s.io/pod-security-admission@v0.34.4 admission/api/v1 PodSecurityConfiguration).
func podSecurityDefaults(t *testing.T, level string) string {
	t.Helper()
	conf := `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: ` + level + `
      enforce-version: latest
      audit: ` + level + `
      audit-version: latest
      warn: ` + level + `
      warn-version: latest
`
	path := filepath.Join(t.TempDir(), "admission.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// podSecurityRe splits PSA's warning "would violate PodSecurity
// "restricted:latest": REASON (DETAIL), REASON (DETAIL)" (admission.go;
// reasons and details from policy/check_*.go, which put no parentheses in
// a detail).
var (
	podSecurityRe = regexp.MustCompile(`^would violate PodSecurity "([^"]+)": (.*)$`)
	psaReasonRe   = regexp.MustCompile(`([^,(][^(]*?) \([^)]*\)(?:, |$)`)
)

// wantPodSecurity fails t unless warnings are exactly one PSA warning at
// "restricted" whose reasons are the two the exporter needs: its hostPath
// volumes (check_restrictedVolumes.go "restricted volume types") and uid 0
// (check_runAsNonRoot.go "runAsNonRoot != true", check_runAsUser.go
// "runAsUser=0"). Anything else (capabilities, privilege escalation,
// seccomp, host namespaces, …) is a privilege the pod need not have.
func wantPodSecurity(t *testing.T, what string, warnings []string) {
	t.Helper()
	want := []string{"restricted volume types", "runAsNonRoot != true", "runAsUser=0"}
	var got []string
	for _, w := range warnings {
		m := podSecurityRe.FindStringSubmatch(w)
		if m == nil || !strings.HasPrefix(m[1], "restricted:") {
			t.Errorf("%s: unexpected warning %q", what, w)
			continue
		}
		rest := m[2]
		for _, r := range psaReasonRe.FindAllStringSubmatch(rest, -1) {
			got = append(got, r[1])
		}
		if strings.Count(rest, "(") != len(got) {
			t.Errorf("%s: cannot read PSA's reasons in %q", what, w)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: PodSecurity \"restricted\" violations %q, want exactly %q:\n%s", what, got, want, strings.Join(warnings, "\n"))
		return
	}
	t.Logf("%s: %s", what, strings.Join(warnings, "; "))
}

// kubeClient is client-go's dynamic client for one kube-apiserver, with
// the RESTMapper that discovery feeds, and the warnings each response
// carried.
type kubeClient struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	warn   *warnRecorder
}

// warnRecorder keeps the Warning headers of responses (rest.WarningHandler).
type warnRecorder struct {
	mu   sync.Mutex
	list []string
}

func (w *warnRecorder) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// take returns the warnings recorded since the last take.
func (w *warnRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

func newKubeClient(t *testing.T, a *kubeAPIServer, kc *kubeCreds) *kubeClient {
	t.Helper()
	k := &kubeClient{warn: &warnRecorder{}}
	cfg := &rest.Config{
		Host:            a.url,
		TLSClientConfig: rest.TLSClientConfig{CAFile: kc.caFile, CertFile: kc.clientCertFile, KeyFile: kc.clientKeyFile},
		WarningHandler:  k.warn,
		Timeout:         30 * time.Second,
	}
	var err error
	if k.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	return k
}

// resource is o's resource client, namespaced where its kind is.
func (k *kubeClient) resource(t *testing.T, o *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	gvk := o.GroupVersionKind()
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s %s: the API server does not serve it: %v", gvk, o.GetName(), err)
	}
	if m.Scope.Name() == "namespace" {
		return k.dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	return k.dyn.Resource(m.Resource)
}

// apply sends o as a server-side apply (kubectl apply --server-side) with
// strict field validation, with dryRun=All when dryRun, and returns the
// response's warnings; a refusal fails t.
func (k *kubeClient) apply(t *testing.T, o *unstructured.Unstructured, dryRun bool) []string {
	t.Helper()
	data, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	opts := metav1.PatchOptions{FieldManager: "etcdpki-interop", Force: new(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	k.warn.take()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := k.resource(t, o).Patch(ctx, o.GetName(), types.ApplyPatchType, data, opts); err != nil {
		t.Errorf("kube-apiserver refuses %s %s/%s (dry run %v): %v", o.GroupVersionKind(), o.GetNamespace(), o.GetName(), dryRun, err)
	}
	return k.warn.take()
}

// waitEstablished waits until the CRD name has the Established condition
// (k8s.io/apiextensions-apiserver@v0.34.4 pkg/controller/establish): only
// then does kube-apiserver serve its resource.
func (k *kubeClient) waitEstablished(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	crds := k.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	deadline := time.Now().Add(timeout)
	for {
		u, err := crds.Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s is not Established after %s (%v)", name, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promOperatorCRDs returns the ServiceMonitor and PrometheusRule CRDs of
// the Prometheus Operator release promOperatorVer, read from its module
// as the Go module proxy serves it (go mod download, outside this module
// so that go.mod and go.sum stay as they are).
func promOperatorCRDs(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", promOperatorModule+"@"+promOperatorVer)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	var mod struct{ Dir, Sum, Error string }
	if jerr := json.Unmarshal(out, &mod); err != nil || jerr != nil || mod.Error != "" {
		msg := "go mod download " + promOperatorModule + "@" + promOperatorVer + " (needs the Go module proxy on a new machine): "
		if inCI {
			t.Fatalf("%s%v %s %s", msg, err, mod.Error, out)
		}
		t.Skipf("%s%v %s", msg, err, mod.Error)
	}
	if mod.Sum != promOperatorSum {
		t.Fatalf("%s@%s has sum %s, want %s", promOperatorModule, promOperatorVer, mod.Sum, promOperatorSum)
	}
	var crds []*unstructured.Unstructured
	for _, f := range []string{"monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_prometheusrules.yaml"} {
		y, err := os.ReadFile(filepath.Join(mod.Dir, "example", "prometheus-operator-crd", f))
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds = append(crds, u)
	}
	return crds
}
