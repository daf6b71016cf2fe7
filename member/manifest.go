package member

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/release"
)

// staticPod is the part of a Kubernetes static pod manifest read here.
type staticPod struct {
	Kind string `json:"kind"`
	Spec struct {
		Containers []container `json:"containers"`
		Volumes    []struct {
			Name     string `json:"name"`
			HostPath *struct {
				Path string `json:"path"`
			} `json:"hostPath"`
		} `json:"volumes"`
	} `json:"spec"`
}

type container struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Env     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
}

// Pod is a static pod's etcd (or kube-apiserver) container as the node
// runs it: its command line, with a `sh -c` script unwrapped and its
// variables expanded from the container's env, and the mapping of in-pod
// paths to the node's (from the pod's hostPath volumes).
type Pod struct {
	// Image is the container's image reference.
	Image string
	Args  []string
	Env   []envVar
	// mounts maps a mount path in the container to its host path,
	// longest first.
	mounts [][2]string
}

// HostPath maps a path as the container sees it to the node's path,
// through the pod's hostPath volumes. A path under no mount is returned
// unchanged (kubeadm mounts its PKI directory at the same path).
func (p *Pod) HostPath(inPod string) string {
	if p == nil || !path.IsAbs(inPod) {
		return inPod
	}
	clean := path.Clean(inPod)
	for _, m := range p.mounts {
		if clean == m[0] || strings.HasPrefix(clean, strings.TrimSuffix(m[0], "/")+"/") {
			return path.Join(m[1], strings.TrimPrefix(clean, m[0]))
		}
	}
	return inPod
}

// parsePod reads the container called name (or the first) of a static
// pod manifest.
func parsePod(data []byte, name string) (*Pod, error) {
	var sp staticPod
	if err := yaml.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("not a valid manifest: %v", err)
	}
	if sp.Kind != "Pod" {
		return nil, fmt.Errorf("not a static pod manifest (kind %q)", sp.Kind)
	}
	if len(sp.Spec.Containers) == 0 {
		return nil, errors.New("static pod has no containers")
	}
	c := sp.Spec.Containers[0]
	for _, cc := range sp.Spec.Containers {
		if cc.Name == name {
			c = cc
			break
		}
	}
	p := &Pod{Image: c.Image}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		p.Env = append(p.Env, envVar{key: e.Name, value: e.Value, source: "env " + e.Name})
	}
	hostPaths := map[string]string{}
	for _, v := range sp.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	for _, m := range c.VolumeMounts {
		if hp, ok := hostPaths[m.Name]; ok && path.IsAbs(m.MountPath) {
			p.mounts = append(p.mounts, [2]string{path.Clean(m.MountPath), path.Clean(hp)})
		}
	}
	sort.Slice(p.mounts, func(i, j int) bool { return len(p.mounts[i][0]) > len(p.mounts[j][0]) })
	cmd := append(append([]string{}, c.Command...), c.Args...)
	var exported []envVar
	p.Args, exported = unwrapShell(cmd, name, env)
	p.Env = append(p.Env, exported...)
	return p, nil
}

// unwrapShell turns `sh -c 'script'` into the command line of the
// program called prog inside the script (OpenShift's etcd pod runs etcd
// with `exec etcd --flags…` at the end of a shell script), expanding
// $VAR and ${VAR} from env. Other command lines are returned as they are.
func unwrapShell(cmd []string, prog string, env map[string]string) ([]string, []envVar) {
	if len(cmd) < 3 || !isShell(cmd[0]) {
		return cmd, nil
	}
	script := ""
	for i := 1; i < len(cmd); i++ {
		if strings.HasPrefix(cmd[i], "-") && strings.Contains(cmd[i], "c") {
			if i+1 < len(cmd) {
				script = cmd[i+1]
			}
			break
		}
	}
	if script == "" {
		return cmd, nil
	}
	var exported []envVar
	for _, stmt := range shellStatements(script) {
		words := make([]string, len(stmt))
		for i, w := range stmt {
			words[i] = expandVars(w, env)
		}
		if len(words) >= 1 {
			assign := words
			if words[0] == "export" {
				assign = words[1:]
			}
			for _, w := range assign {
				k, v, ok := strings.Cut(w, "=")
				if !ok || !strings.HasPrefix(k, "ETCD_") || strings.Contains(v, "$(") {
					break
				}
				exported = append(exported, envVar{key: k, value: v, source: "export " + k})
			}
		}
		for i, w := range words {
			if path.Base(w) == prog && !strings.HasPrefix(w, "-") && !strings.Contains(w, "=") && (i+1 == len(words) || strings.HasPrefix(words[i+1], "-")) {
				return words[i:], exported
			}
		}
	}
	return cmd, nil
}

func isShell(p string) bool {
	switch path.Base(p) {
	case "sh", "bash", "ash", "dash":
		return true
	}
	return false
}

// shellStatements splits a script into simple commands of words: quotes
// and backslash-newline continuations handled, statements ending at
// newlines, ';', '&&', '||' and '|'. It is not a shell, only enough to
// find one command line in a script.
func shellStatements(script string) [][]string {
	var stmts [][]string
	var words []string
	var cur strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	flushStmt := func() {
		flushWord()
		if len(words) > 0 {
			stmts = append(stmts, words)
			words = nil
		}
	}
	for i := 0; i < len(script); i++ {
		ch := script[i]
		switch {
		case ch == '\\' && i+1 < len(script):
			i++
			if script[i] != '\n' {
				cur.WriteByte(script[i])
				inWord = true
			}
		case ch == '\'':
			j := strings.IndexByte(script[i+1:], '\'')
			if j < 0 {
				j = len(script) - i - 1
			}
			cur.WriteString(script[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case ch == '"':
			i++
			for ; i < len(script) && script[i] != '"'; i++ {
				if script[i] == '\\' && i+1 < len(script) {
					i++
				}
				cur.WriteByte(script[i])
			}
			inWord = true
		case ch == '#' && !inWord:
			for i < len(script) && script[i] != '\n' {
				i++
			}
			flushStmt()
		case ch == '\n' || ch == ';' || ch == '|' || ch == '&':
			flushStmt()
		case ch == ' ' || ch == '\t' || ch == '\r':
			flushWord()
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	flushStmt()
	return stmts
}

// expandVars replaces $NAME and ${NAME} with their values in env
// (unknown names are left as written, so a finding shows them).
func expandVars(w string, env map[string]string) string {
	if !strings.Contains(w, "$") {
		return w
	}
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] != '$' || i+1 == len(w) {
			b.WriteByte(w[i])
			continue
		}
		name, end := "", i+1
		if w[i+1] == '{' {
			j := strings.IndexByte(w[i+2:], '}')
			if j < 0 {
				b.WriteByte(w[i])
				continue
			}
			name, end = w[i+2:i+2+j], i+2+j+1
		} else {
			j := i + 1
			for j < len(w) && (w[j] == '_' || w[j] >= 'A' && w[j] <= 'Z' || w[j] >= 'a' && w[j] <= 'z' || w[j] >= '0' && w[j] <= '9') {
				j++
			}
			name, end = w[i+1:j], j
		}
		if v, ok := env[name]; ok && name != "" {
			b.WriteString(v)
		} else {
			b.WriteString(w[i:end])
		}
		i = end - 1
	}
	return b.String()
}

// ParseEtcdManifest reads an etcd static pod manifest: kubeadm's
// manifests/etcd.yaml, OpenShift's etcd-pod.yaml (etcd inside `sh -c`,
// ${NODE_…_IP} from the pod's env, paths through its hostPath volumes),
// RKE2's pod-manifests/etcd.yaml (--config-file). The container's ETCD_*
// env variables are settings too, as etcd reads them. File paths in the
// result are mapped to the node's through the pod's volumes; a
// --config-file is returned in ConfigFile for the caller to follow.
func ParseEtcdManifest(source string, data []byte) (*Settings, error) {
	pod, err := parsePod(data, "etcd")
	if err != nil {
		return nil, err
	}
	args := pod.Args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	text := string(data)
	argSource := func(name string) string {
		return fmt.Sprintf("%s:%d (--%s)", source, lineOf(text, "-"+name, 0), name)
	}
	vars := make([]envVar, len(pod.Env))
	for i, v := range pod.Env {
		v.source = fmt.Sprintf("%s:%d (env %s)", source, lineOf(text, v.key, 0), v.key)
		vars[i] = v
	}
	p := parseEtcd(args, argSource, vars)
	s, err := p.settings(source)
	if !s.hasAny() {
		return nil, errors.New("no etcd flags found in the etcd container's command")
	}
	s.mapPaths(pod.HostPath)
	// The image tag says which etcd runs the flags (registry.k8s.io/etcd:
	// 3.6.5-0, RKE2's rancher/hardened-etcd:v3.5.21-k3s1-…); a digest
	// alone says nothing.
	if e, ok := release.EtcdFromImage(pod.Image); ok {
		s.EtcdVersion = e.String()
		s.EtcdVersionSource = fmt.Sprintf("%s:%d (image %s)", source, lineOf(text, "image:", 0), pod.Image)
	}
	return s, err
}

// mapPaths rewrites every file setting through f.
func (s *Settings) mapPaths(f func(string) string) {
	for _, p := range []*string{&s.CertFile, &s.KeyFile, &s.ClientCertFile, &s.ClientKeyFile, &s.TrustedCAFile,
		&s.PeerCertFile, &s.PeerKeyFile, &s.PeerClientCertFile, &s.PeerClientKeyFile, &s.PeerTrustedCAFile, &s.ConfigFile} {
		if *p != "" {
			*p = f(*p)
		}
	}
}

// ParseAPIServerManifest reads kube-apiserver's static pod manifest for
// its --etcd-* flags, mapped to node paths through the pod's volumes.
func ParseAPIServerManifest(source string, data []byte) (*APIServerSettings, error) {
	pod, err := parsePod(data, "kube-apiserver")
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	args := pod.Args
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--etcd-") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok && i+1 < len(args) {
			i++
			v = args[i]
		}
		kv[k] = v
	}
	a := &APIServerSettings{
		Source:   source,
		Servers:  splitList(kv["etcd-servers"]),
		CAFile:   pod.HostPath(kv["etcd-cafile"]),
		CertFile: pod.HostPath(kv["etcd-certfile"]),
		KeyFile:  pod.HostPath(kv["etcd-keyfile"]),
	}
	if a.CAFile == "" && a.CertFile == "" && len(a.Servers) == 0 {
		return nil, nil // no etcd flags: kube-apiserver uses a config file or another store
	}
	return a, nil
}

// ParseFlagsFile reads etcd flags from a text file: a command line (with
// backslash continuations, as etcdpki flags prints it), or one flag per
// line. Comments (#) are ignored.
func ParseFlagsFile(source string, data []byte) (*Settings, error) {
	var args []string
	for _, stmt := range shellStatements(string(data)) {
		args = append(args, stmt...)
	}
	s, err := ParseFlags(source, args)
	if !s.hasAny() {
		return nil, errors.New("no etcd flags found")
	}
	return s, err
}

// ParseSystemdUnit reads an etcd systemd unit: the flags of its
// ExecStart line and the EnvironmentFile= it loads (returned for the
// caller to read, as node paths; a leading '-' marks an optional file).
func ParseSystemdUnit(source string, data []byte) (args []string, envFiles []string, env []envVar, err error) {
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	found := false
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "ExecStart":
			v = strings.TrimLeft(strings.TrimSpace(v), "-@:+!")
			for _, stmt := range shellStatements(v) {
				args = stmt
				break
			}
			found = true
		case "EnvironmentFile":
			envFiles = append(envFiles, strings.TrimSpace(v))
		case "Environment":
			for _, stmt := range shellStatements(v) {
				for _, w := range stmt {
					if ek, ev, ok := strings.Cut(w, "="); ok {
						env = append(env, envVar{key: ek, value: ev, source: fmt.Sprintf("%s:%d (%s)", source, i+1, ek)})
					}
				}
			}
		}
	}
	if !found {
		return nil, nil, nil, errors.New("no ExecStart line")
	}
	return args, envFiles, env, nil
}
