package render

import (
	"fmt"
	"net"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/release"
	"github.com/etcdpki/etcdpki/spec"
)

// Options adjust a rendered configuration.
type Options struct {
	// Root is prefixed to every file path: the directory that stands for
	// the node's "/", e.g. a member tree from init (out/cp1). Empty means
	// the node's own paths (/etc/kubernetes/pki/…).
	Root string
	// DataDir overrides the layout's --data-dir. It is used as given, not
	// prefixed with Root.
	DataDir string
	// Existing renders --initial-cluster-state=existing, for a member that
	// joins a running cluster.
	Existing bool
	// EtcdVersion is the etcd version to render for (3.4 … 3.7, or a
	// patch release such as 3.5.21); empty means the version the kubeadm
	// release pins.
	EtcdVersion string
	// KubernetesVersion is the kubeadm release whose etcd static pod is
	// rendered (1.29 … 1.37); empty means release.DefaultKubernetesMinor,
	// or, when EtcdVersion is older than that release accepts, the newest
	// release that accepts it.
	KubernetesVersion string
}

// Target is what a configuration is rendered for: an etcd version and
// the kubeadm release whose static pod it follows.
type Target struct {
	Etcd    release.Etcd
	Kubeadm release.Kubeadm
	// ImageTag is the registry.k8s.io/etcd tag of the manifest.
	ImageTag string
}

// VersionError is a version etcdpki does not know, or a PKI or kubeadm
// release that the asked-for etcd version cannot run.
type VersionError struct{ Detail string }

func (e *VersionError) Error() string { return e.Detail }

// ResolveTargetFor is ResolveTarget for cluster c's PKI: it also refuses
// an etcd version that cannot run it (split credentials need etcd 3.5+).
// The error is a *[VersionError].
func ResolveTargetFor(c *spec.Cluster, opts Options) (Target, error) {
	target, err := ResolveTarget(opts)
	if err != nil {
		return Target{}, err
	}
	if c.SplitCredentials && !target.Etcd.SplitCredentials() {
		return Target{}, &VersionError{fmt.Sprintf("--etcd-version %s: etcd %s has no --client-cert-file or --peer-client-cert-file, which this PKI's split credentials need (made with --split-credentials): give --etcd-version 3.5 or later, or re-run init without --split-credentials", opts.EtcdVersion, target.Etcd)}
	}
	return target, nil
}

// ResolveTarget turns Options' version strings into a Target. The error,
// a *[VersionError], names a version etcdpki does not know, or an etcd
// version the given kubeadm release does not accept (kubeadm 1.31+ needs
// etcd 3.5.24).
func ResolveTarget(opts Options) (Target, error) {
	k := release.DefaultKubeadm()
	if opts.KubernetesVersion != "" {
		var err error
		if k, err = release.ParseKubernetes(opts.KubernetesVersion); err != nil {
			return Target{}, &VersionError{"--kubernetes-version: " + err.Error()}
		}
	}
	if opts.EtcdVersion == "" {
		return Target{Etcd: k.Etcd(), Kubeadm: k, ImageTag: k.EtcdImageTag}, nil
	}
	e, err := release.ParseEtcd(opts.EtcdVersion)
	if err != nil {
		return Target{}, &VersionError{"--etcd-version: " + err.Error()}
	}
	if err := k.Supports(e); err != nil {
		if opts.KubernetesVersion != "" {
			return Target{}, &VersionError{fmt.Sprintf("--etcd-version %s with --kubernetes-version %s: %v; give a newer --etcd-version, or leave out --kubernetes-version to render for the newest kubeadm release that accepts etcd %s", opts.EtcdVersion, opts.KubernetesVersion, err, e)}
		}
		// No release asked for: the newest one that runs this etcd
		// (kubeadm 1.30 for etcd 3.4).
		for i := len(release.KubeadmReleases) - 1; i >= 0; i-- {
			if r := release.KubeadmReleases[i]; r.Supports(e) == nil {
				k = r
				break
			}
		}
	}
	tag := e.DefaultImageTag()
	switch {
	case e.Patch >= 0:
		tag = e.String() + "-0"
	case k.Etcd().Line() == e:
		tag = k.EtcdImageTag
	}
	return Target{Etcd: e, Kubeadm: k, ImageTag: tag}, nil
}

// Config is one member's etcd configuration: the settings kubeadm writes
// into its etcd static pod, in etcd's own terms.
type Config struct {
	Name                     string
	DataDir                  string
	ListenClientURLs         []string
	AdvertiseClientURLs      []string
	ListenPeerURLs           []string
	InitialAdvertisePeerURLs []string
	ListenMetricsURLs        []string
	InitialCluster           string
	InitialClusterState      string
	InitialClusterToken      string
	SnapshotCount            int

	// Client port TLS (2379).
	CertFile       string
	KeyFile        string
	TrustedCAFile  string
	ClientCertAuth bool
	ClientCertFile string // split credentials only
	ClientKeyFile  string

	// Peer port TLS (2380).
	PeerCertFile       string
	PeerKeyFile        string
	PeerTrustedCAFile  string
	PeerClientCertAuth bool
	PeerClientCertFile string // split credentials only
	PeerClientKeyFile  string

	// Target is the etcd version and kubeadm release rendered for.
	Target Target
	// InitialCorruptCheck and WatchProgressNotifyInterval are the two
	// settings kubeadm adds (cmd/kubeadm/app/phases/etcd/local.go
	// getEtcdCommand@v1.34.4): a member checks its data against the
	// others' before serving, and watchers get progress notifications,
	// which kube-apiserver's watch cache relies on. etcd 3.6+ spells them
	// --feature-gates=InitialCorruptCheck=true and
	// --watch-progress-notify-interval, 3.4 and 3.5 (and kubeadm for
	// them) --experimental-initial-corrupt-check and
	// --experimental-watch-progress-notify-interval; 3.7 knows only the
	// former.
	InitialCorruptCheck         bool
	WatchProgressNotifyInterval time.Duration
}

// ForMember builds the configuration of the member called name.
func ForMember(c *spec.Cluster, name string, opts Options) (*Config, error) {
	m, err := c.Member(name)
	if err != nil {
		return nil, err
	}
	l, err := layout.ForName(c.Layout)
	if err != nil {
		return nil, err
	}
	target, err := ResolveTargetFor(c, opts)
	if err != nil {
		return nil, err
	}
	file := func(p string) string { return onRoot(opts.Root, p) }
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = file(l.DataDir)
	}

	listenClient := []string{c.ClientURL(m)}
	listenPeer := []string{c.PeerURL(m)}
	metricsHost := "127.0.0.1"
	if len(m.IPs) == 0 {
		// etcd binds IP addresses only ("expected IP in URL for binding"),
		// so a member known by a DNS name alone listens on every address,
		// 127.0.0.1 included, and advertises its name.
		listenClient = []string{hostURL("https", "0.0.0.0", c.ClientPort)}
		listenPeer = []string{hostURL("https", "0.0.0.0", c.PeerPort)}
	} else if m.OnLoopback() {
		// Members sharing one host's lo (up, tests) cannot all bind
		// 127.0.0.1; each listens on its own 127.0.0.x only.
		metricsHost = m.AdvertiseHost()
	} else if c.LocalClientURL() != c.ClientURL(m) {
		// kubeadm listens on 127.0.0.1 too: kube-apiserver on a stacked
		// control plane dials https://127.0.0.1:2379.
		listenClient = []string{c.LocalClientURL(), c.ClientURL(m)}
	}
	var initial []string
	for i := range c.Members {
		initial = append(initial, c.Members[i].Name+"="+c.PeerURL(&c.Members[i]))
	}
	state := "new"
	if opts.Existing {
		state = "existing"
	}
	cfg := &Config{
		Name:                     m.Name,
		DataDir:                  dataDir,
		ListenClientURLs:         listenClient,
		AdvertiseClientURLs:      []string{c.ClientURL(m)},
		ListenPeerURLs:           listenPeer,
		InitialAdvertisePeerURLs: []string{c.PeerURL(m)},
		// Plain HTTP on loopback only, for the kubelet's probes (/livez,
		// /readyz), as kubeadm does.
		ListenMetricsURLs:   []string{hostURL("http", metricsHost, c.MetricsPort)},
		InitialCluster:      strings.Join(initial, ","),
		InitialClusterState: state,
		InitialClusterToken: c.Name,
		SnapshotCount:       10000,

		CertFile:      file(l.CertPath(pki.KindServer)),
		KeyFile:       file(l.KeyPath(pki.KindServer)),
		TrustedCAFile: file(l.CertPath(pki.KindCA)),
		// Without it etcd accepts any client that reaches the port
		// (unless a trusted CA file is set, which implies it); kubeadm
		// sets it explicitly and so do we.
		ClientCertAuth: true,

		// peer.crt is both the serving cert of 2380 and the credential a
		// member presents when it dials another member.
		PeerCertFile:       file(l.CertPath(pki.KindPeer)),
		PeerKeyFile:        file(l.KeyPath(pki.KindPeer)),
		PeerTrustedCAFile:  file(l.CertPath(pki.KindCA)),
		PeerClientCertAuth: true,

		Target:                      target,
		InitialCorruptCheck:         true,
		WatchProgressNotifyInterval: 5 * time.Second,
	}
	if c.SplitCredentials {
		// etcd 3.5+: separate client credentials, so the serving certs can
		// be serverAuth only. --client-cert-file is what the grpc-gateway
		// presents when it dials the member's own client port.
		cfg.ClientCertFile = file(l.CertPath(pki.KindServerClient))
		cfg.ClientKeyFile = file(l.KeyPath(pki.KindServerClient))
		cfg.PeerClientCertFile = file(l.CertPath(pki.KindPeerClient))
		cfg.PeerClientKeyFile = file(l.KeyPath(pki.KindPeerClient))
	}
	if err := cfg.CheckFlags(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// hostURL is scheme://host:port, with IPv6 hosts in brackets.
func hostURL(scheme, host string, port int) string {
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// onRoot maps a node path under root.
func onRoot(root, p string) string {
	if root == "" {
		return p
	}
	return layout.OnDisk(root, p)
}

// Flags returns the etcd command-line flags, sorted by name as kubeadm
// writes them into its static pod manifest.
func (c *Config) Flags() []string {
	kv := c.values()
	names := make([]string, 0, len(kv))
	for k := range kv {
		names = append(names, k)
	}
	sort.Strings(names)
	flags := make([]string, 0, len(names))
	for _, k := range names {
		flags = append(flags, "--"+k+"="+kv[k])
	}
	return flags
}

// values maps etcd flag names to values; empty settings are left out.
func (c *Config) values() map[string]string {
	kv := map[string]string{
		"name":                        c.Name,
		"data-dir":                    c.DataDir,
		"listen-client-urls":          strings.Join(c.ListenClientURLs, ","),
		"advertise-client-urls":       strings.Join(c.AdvertiseClientURLs, ","),
		"listen-peer-urls":            strings.Join(c.ListenPeerURLs, ","),
		"initial-advertise-peer-urls": strings.Join(c.InitialAdvertisePeerURLs, ","),
		"listen-metrics-urls":         strings.Join(c.ListenMetricsURLs, ","),
		"initial-cluster":             c.InitialCluster,
		"initial-cluster-state":       c.InitialClusterState,
		"initial-cluster-token":       c.InitialClusterToken,
		"snapshot-count":              strconv.Itoa(c.SnapshotCount),
		"cert-file":                   c.CertFile,
		"key-file":                    c.KeyFile,
		"trusted-ca-file":             c.TrustedCAFile,
		"client-cert-auth":            strconv.FormatBool(c.ClientCertAuth),
		"client-cert-file":            c.ClientCertFile,
		"client-key-file":             c.ClientKeyFile,
		"peer-cert-file":              c.PeerCertFile,
		"peer-key-file":               c.PeerKeyFile,
		"peer-trusted-ca-file":        c.PeerTrustedCAFile,
		"peer-client-cert-auth":       strconv.FormatBool(c.PeerClientCertAuth),
		"peer-client-cert-file":       c.PeerClientCertFile,
		"peer-client-key-file":        c.PeerClientKeyFile,
	}
	e := c.etcd()
	if c.WatchProgressNotifyInterval > 0 {
		name := "watch-progress-notify-interval"
		if !e.KnowsFlag(name) {
			name = "experimental-" + name
		}
		kv[name] = c.WatchProgressNotifyInterval.String()
	}
	if c.InitialCorruptCheck {
		if e.FeatureGates() {
			kv["feature-gates"] = "InitialCorruptCheck=true"
		} else {
			kv["experimental-initial-corrupt-check"] = "true"
		}
	}
	for k, v := range kv {
		if v == "" {
			delete(kv, k)
		}
	}
	return kv
}

// etcd is the target etcd version; a Config built by hand, without
// ForMember's target, renders for the default kubeadm release's etcd.
func (c *Config) etcd() release.Etcd {
	if c.Target.Etcd.Minor == 0 {
		return release.DefaultKubeadm().Etcd()
	}
	return c.Target.Etcd
}

// CheckFlags returns an error naming every flag of Flags that the target
// etcd version does not define; rendering never prints one, and the
// tests hold it to that.
func (c *Config) CheckFlags() error {
	var unknown []string
	e := c.etcd()
	for k := range c.values() {
		if !e.KnowsFlag(k) {
			unknown = append(unknown, "--"+k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("etcd %s does not define %s", e, strings.Join(unknown, ", "))
	}
	return nil
}

// CommandLine renders the etcd invocation as a shell command, one flag per
// line, ready to paste.
func (c *Config) CommandLine() string {
	var b strings.Builder
	b.WriteString("etcd")
	for _, f := range c.Flags() {
		b.WriteString(" \\\n  ")
		b.WriteString(shellQuote(f))
	}
	b.WriteString("\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it is empty or holds anything
// but safe characters.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=.,/:@%+", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ParseCommandLine is the inverse of CommandLine for its own output: it
// returns the flags (without the leading "etcd"). Used by tests and by
// tools that read a saved command line back.
func ParseCommandLine(s string) ([]string, error) {
	fields, err := splitShell(s)
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 || path.Base(filepath.ToSlash(fields[0])) != "etcd" {
		return nil, fmt.Errorf("not an etcd command line")
	}
	return fields[1:], nil
}

// splitShell splits on blanks, honouring single quotes and, outside them,
// backslash escapes and line continuations: all that CommandLine emits
// (shellQuote closes the quote, escapes a value's own single quote with a
// backslash and reopens the quote).
func splitShell(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inField, inQuote, escaped := false, false, false
	// Bytes, not runes: every special character is ASCII, and a value
	// that is not UTF-8 must come back byte for byte.
	for i := 0; i < len(s); i++ {
		r := s[i]
		switch {
		case escaped:
			escaped = false
			if r == '\n' {
				continue // line continuation
			}
			cur.WriteByte(r)
			inField = true
		case inQuote && r == '\'':
			inQuote = false
		case inQuote:
			cur.WriteByte(r)
		case r == '\\':
			escaped = true
		case r == '\'':
			inQuote, inField = true, true
		case r == ' ' || r == '\t' || r == '\n':
			if inField {
				out = append(out, cur.String())
				cur.Reset()
				inField = false
			}
		default:
			cur.WriteByte(r)
			inField = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if escaped {
		return nil, fmt.Errorf("trailing backslash")
	}
	if inField {
		out = append(out, cur.String())
	}
	return out, nil
}
