package audit

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Settings are the TLS-relevant etcd settings of one member, as its
// manifest, config file or flags file gives them. File paths are the
// node's (as etcd sees them), not yet mapped into the copied directory.
type Settings struct {
	// Source is the file the settings were read from.
	Source string `json:"source"`
	Name   string `json:"name,omitempty"`

	ListenClientURLs    []string `json:"listenClientURLs,omitempty"`
	AdvertiseClientURLs []string `json:"advertiseClientURLs,omitempty"`
	ListenPeerURLs      []string `json:"listenPeerURLs,omitempty"`
	AdvertisePeerURLs   []string `json:"advertisePeerURLs,omitempty"`

	CertFile       string `json:"certFile,omitempty"`
	KeyFile        string `json:"keyFile,omitempty"`
	ClientCertFile string `json:"clientCertFile,omitempty"`
	ClientKeyFile  string `json:"clientKeyFile,omitempty"`
	TrustedCAFile  string `json:"trustedCAFile,omitempty"`
	ClientCertAuth bool   `json:"clientCertAuth"`
	AutoTLS        bool   `json:"autoTLS,omitempty"`

	PeerCertFile            string `json:"peerCertFile,omitempty"`
	PeerKeyFile             string `json:"peerKeyFile,omitempty"`
	PeerClientCertFile      string `json:"peerClientCertFile,omitempty"`
	PeerClientKeyFile       string `json:"peerClientKeyFile,omitempty"`
	PeerTrustedCAFile       string `json:"peerTrustedCAFile,omitempty"`
	PeerClientCertAuth      bool   `json:"peerClientCertAuth"`
	PeerAutoTLS             bool   `json:"peerAutoTLS,omitempty"`
	PeerSkipClientSANVerify bool   `json:"peerSkipClientSANVerification,omitempty"`
}

// APIServerSettings are kube-apiserver's etcd client settings, from its
// static pod manifest.
type APIServerSettings struct {
	Source   string   `json:"source"`
	Servers  []string `json:"servers,omitempty"`
	CAFile   string   `json:"caFile,omitempty"`
	CertFile string   `json:"certFile,omitempty"`
	KeyFile  string   `json:"keyFile,omitempty"`
}

// etcdBoolFlags are etcd's boolean flags that matter here; a bare
// "--client-cert-auth" means true, as with Go's flag package.
var etcdBoolFlags = map[string]bool{
	"client-cert-auth": true, "peer-client-cert-auth": true, "auto-tls": true, "peer-auto-tls": true,
	"peer-skip-client-san-verification": true, "experimental-peer-skip-client-san-verification": true,
}

// parseFlagArgs reads Go-style flags ("--k=v", "-k=v", "--k v", bare bool
// flags) into a map. Arguments that are not flags are ignored.
func parseFlagArgs(args []string, isBool map[string]bool) map[string]string {
	kv := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimLeft(a, "-")
		if k, v, ok := strings.Cut(a, "="); ok {
			kv[k] = v
			continue
		}
		if isBool[a] {
			kv[a] = "true"
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			kv[a] = args[i+1]
			i++
			continue
		}
		kv[a] = ""
	}
	return kv
}

// settingsFromFlags builds Settings from etcd flags.
func settingsFromFlags(source string, args []string) *Settings {
	kv := parseFlagArgs(args, etcdBoolFlags)
	b := func(k string) bool { v, _ := strconv.ParseBool(kv[k]); return v }
	list := func(k string) []string { return splitList(kv[k]) }
	return &Settings{
		Source:                  source,
		Name:                    kv["name"],
		ListenClientURLs:        list("listen-client-urls"),
		AdvertiseClientURLs:     list("advertise-client-urls"),
		ListenPeerURLs:          list("listen-peer-urls"),
		AdvertisePeerURLs:       list("initial-advertise-peer-urls"),
		CertFile:                kv["cert-file"],
		KeyFile:                 kv["key-file"],
		ClientCertFile:          kv["client-cert-file"],
		ClientKeyFile:           kv["client-key-file"],
		TrustedCAFile:           kv["trusted-ca-file"],
		ClientCertAuth:          b("client-cert-auth"),
		AutoTLS:                 b("auto-tls"),
		PeerCertFile:            kv["peer-cert-file"],
		PeerKeyFile:             kv["peer-key-file"],
		PeerClientCertFile:      kv["peer-client-cert-file"],
		PeerClientKeyFile:       kv["peer-client-key-file"],
		PeerTrustedCAFile:       kv["peer-trusted-ca-file"],
		PeerClientCertAuth:      b("peer-client-cert-auth"),
		PeerAutoTLS:             b("peer-auto-tls"),
		PeerSkipClientSANVerify: b("peer-skip-client-san-verification") || b("experimental-peer-skip-client-san-verification"),
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// staticPod is the part of a Kubernetes static pod manifest we read.
type staticPod struct {
	Kind string `json:"kind"`
	Spec struct {
		Containers []struct {
			Name    string   `json:"name"`
			Command []string `json:"command"`
			Args    []string `json:"args"`
		} `json:"containers"`
	} `json:"spec"`
}

// parseManifest returns the command line (command then args) of the
// container called container (or the first one) in a static pod manifest.
func parseManifest(data []byte, container string) ([]string, error) {
	var p staticPod
	if err := yaml.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not a valid manifest: %v", err)
	}
	if p.Kind != "Pod" {
		return nil, fmt.Errorf("not a static pod manifest (kind %q)", p.Kind)
	}
	if len(p.Spec.Containers) == 0 {
		return nil, fmt.Errorf("static pod has no containers")
	}
	c := p.Spec.Containers[0]
	for _, cc := range p.Spec.Containers {
		if cc.Name == container {
			c = cc
		}
	}
	return append(append([]string{}, c.Command...), c.Args...), nil
}

// ParseEtcdManifest reads an etcd static pod manifest (kubeadm's
// /etc/kubernetes/manifests/etcd.yaml).
func ParseEtcdManifest(source string, data []byte) (*Settings, error) {
	args, err := parseManifest(data, "etcd")
	if err != nil {
		return nil, err
	}
	return settingsFromFlags(source, args), nil
}

// ParseAPIServerManifest reads kube-apiserver's static pod manifest.
func ParseAPIServerManifest(source string, data []byte) (*APIServerSettings, error) {
	args, err := parseManifest(data, "kube-apiserver")
	if err != nil {
		return nil, err
	}
	kv := parseFlagArgs(args, nil)
	return &APIServerSettings{
		Source:   source,
		Servers:  splitList(kv["etcd-servers"]),
		CAFile:   kv["etcd-cafile"],
		CertFile: kv["etcd-certfile"],
		KeyFile:  kv["etcd-keyfile"],
	}, nil
}

// ParseFlagsFile reads etcd flags from a text file: a command line (with
// backslash continuations, as etcdpki flags prints it), a systemd
// ExecStart line, or one flag per line. Comments (#) are ignored.
func ParseFlagsFile(source string, data []byte) (*Settings, error) {
	var args []string
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		if i := strings.Index(line, "#"); i >= 0 && (i == 0 || line[i-1] == ' ') {
			line = line[:i]
		}
		line = strings.TrimPrefix(strings.TrimSpace(line), "ExecStart=")
		for _, f := range strings.Fields(line) {
			args = append(args, strings.Trim(f, `'"`))
		}
	}
	s := settingsFromFlags(source, args)
	if s.CertFile == "" && s.PeerCertFile == "" && s.Name == "" && len(s.ListenClientURLs) == 0 {
		return nil, fmt.Errorf("no etcd flags found")
	}
	return s, nil
}

// etcdConfigFile mirrors the keys of etcd's --config-file we read.
type etcdConfigFile struct {
	Name                     string             `json:"name"`
	ListenPeerURLs           string             `json:"listen-peer-urls"`
	ListenClientURLs         string             `json:"listen-client-urls"`
	InitialAdvertisePeerURLs string             `json:"initial-advertise-peer-urls"`
	AdvertiseClientURLs      string             `json:"advertise-client-urls"`
	Client                   etcdSecurityConfig `json:"client-transport-security"`
	Peer                     etcdSecurityConfig `json:"peer-transport-security"`
}

type etcdSecurityConfig struct {
	CertFile            string `json:"cert-file"`
	KeyFile             string `json:"key-file"`
	ClientCertFile      string `json:"client-cert-file"`
	ClientKeyFile       string `json:"client-key-file"`
	ClientCertAuth      bool   `json:"client-cert-auth"`
	TrustedCAFile       string `json:"trusted-ca-file"`
	AutoTLS             bool   `json:"auto-tls"`
	SkipClientSANVerify bool   `json:"skip-client-san-verification"`
}

// ParseConfigFile reads an etcd --config-file (YAML).
func ParseConfigFile(source string, data []byte) (*Settings, error) {
	var f etcdConfigFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a valid etcd config file: %v", err)
	}
	return &Settings{
		Source:                  source,
		Name:                    f.Name,
		ListenClientURLs:        splitList(f.ListenClientURLs),
		AdvertiseClientURLs:     splitList(f.AdvertiseClientURLs),
		ListenPeerURLs:          splitList(f.ListenPeerURLs),
		AdvertisePeerURLs:       splitList(f.InitialAdvertisePeerURLs),
		CertFile:                f.Client.CertFile,
		KeyFile:                 f.Client.KeyFile,
		ClientCertFile:          f.Client.ClientCertFile,
		ClientKeyFile:           f.Client.ClientKeyFile,
		TrustedCAFile:           f.Client.TrustedCAFile,
		ClientCertAuth:          f.Client.ClientCertAuth,
		AutoTLS:                 f.Client.AutoTLS,
		PeerCertFile:            f.Peer.CertFile,
		PeerKeyFile:             f.Peer.KeyFile,
		PeerClientCertFile:      f.Peer.ClientCertFile,
		PeerClientKeyFile:       f.Peer.ClientKeyFile,
		PeerTrustedCAFile:       f.Peer.TrustedCAFile,
		PeerClientCertAuth:      f.Peer.ClientCertAuth,
		PeerAutoTLS:             f.Peer.AutoTLS,
		PeerSkipClientSANVerify: f.Peer.SkipClientSANVerify,
	}, nil
}
