package member

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/pkg/v3/flags"
	"go.etcd.io/etcd/server/v3/embed"
	"sigs.k8s.io/yaml"
)

// Settings are the TLS- and membership-relevant etcd settings of one
// member, read the way etcd reads them: its flag set, its ETCD_*
// environment variables, or its --config-file. File paths are the node's
// (as etcd sees them), not yet mapped into the copied directory.
type Settings struct {
	// Source is the file the settings were read from (the manifest, unit,
	// environment file or config file).
	Source string `json:"source"`
	// Sources says, per etcd flag name, where its value came from:
	// "file:line (--flag)", "file:line (ETCD_VAR)" or "file:line (key)".
	Sources map[string]string `json:"sources,omitempty"`
	Name    string            `json:"name,omitempty"`

	ListenClientURLs    []string `json:"listenClientURLs,omitempty"`
	AdvertiseClientURLs []string `json:"advertiseClientURLs,omitempty"`
	ListenPeerURLs      []string `json:"listenPeerURLs,omitempty"`
	AdvertisePeerURLs   []string `json:"advertisePeerURLs,omitempty"`

	InitialCluster      string `json:"initialCluster,omitempty"`
	InitialClusterToken string `json:"initialClusterToken,omitempty"`
	InitialClusterState string `json:"initialClusterState,omitempty"`

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

	// ConfigFile is --config-file (or ETCD_CONFIG_FILE) when the command
	// line names one: etcd then ignores its other flags and environment
	// (etcdmain's config.parse), and so does Load, which follows it.
	ConfigFile string `json:"configFile,omitempty"`
	// Unknown lists flags or ETCD_* variables that etcd 3.7's flag set
	// does not define (an older etcd's experimental flags, a typo); they
	// are tolerated, as the member's own etcd version may know them.
	Unknown []string `json:"unknown,omitempty"`
	// Flags are the names of the flags on the command line, as written
	// (without dashes, old names kept): what the member's own etcd
	// version must define, or it exits ("flag provided but not defined").
	Flags []string `json:"flags,omitempty"`
	// EtcdVersion is the etcd version the settings run with, where they
	// say (a static pod's image tag, e.g. 3.6.5), and where it was read.
	EtcdVersion       string `json:"etcdVersion,omitempty"`
	EtcdVersionSource string `json:"etcdVersionSource,omitempty"`
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

// SettingsError is a value etcd itself would refuse (a bad URL, a
// non-boolean --client-cert-auth, an argument that is not a flag). The
// rest of the settings are still read.
type SettingsError struct {
	Source string
	Detail string
}

func (e *SettingsError) Error() string { return e.Source + ": " + e.Detail }

// legacyFlags maps flags of older etcd versions that matter to TLS onto
// their 3.7 names (3.5 had --experimental-peer-skip-client-san-verification).
var legacyFlags = map[string]string{
	"experimental-peer-skip-client-san-verification": "peer-skip-client-san-verification",
}

// etcdFlagSet is etcd's own flag set: embed.Config.AddFlags plus the
// flags etcdmain adds around it (go.etcd.io/etcd/server/v3@v3.7.3
// etcdmain/config.go newConfig).
func etcdFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// AddFlags binds --raft-read-timeout and --raft-write-timeout to
	// package variables of rafthttp (embed/config.go@v3.7.3 AddFlags),
	// writing their defaults there: one at a time, and then bound to
	// values of this flag set's own, so that reading a member's settings
	// never sets the timeouts of an etcd running in this process.
	addFlagsMu.Lock()
	embed.NewConfig().AddFlags(fs)
	addFlagsMu.Unlock()
	for _, name := range []string{"raft-read-timeout", "raft-write-timeout"} {
		if f := fs.Lookup(name); f != nil {
			d, _ := time.ParseDuration(f.DefValue)
			f.Value = (*durationValue)(&d)
		}
	}
	fs.String("config-file", "", "")
	fs.String("initial-cluster-state", embed.ClusterStateFlagNew, "")
	fs.String("discovery-fallback", "proxy", "")
	fs.String("v2-deprecation", "", "")
	fs.Bool("version", false, "")
	return fs
}

// addFlagsMu serialises embed.Config.AddFlags, which writes package
// variables.
var addFlagsMu sync.Mutex

// durationValue is a flag.Value of a time.Duration of its own.
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

// Get returns the time.Duration, as flag's own duration values do.
func (d *durationValue) Get() any { return time.Duration(*d) }

// parsed is a flag set after parsing, with where each value came from.
type parsed struct {
	fs      *flag.FlagSet
	set     map[string]bool
	sources map[string]string
	unknown []string
	written []string // command-line flag names as written
	errs    []string
}

// parseEtcd reads etcd's command-line args and, for flags the args leave
// unset, env (ETCD_* variables), with etcd's own flag set and its env
// mapping (go.etcd.io/etcd/pkg/v3@v3.7.3 flags.SetFlagsFromEnv: flag
// some-flag is ETCD_SOME_FLAG; a flag given on the command line wins).
// argSource and envSource name where an arg or a variable came from.
func parseEtcd(args []string, argSource func(name string) string, env []envVar) *parsed {
	p := &parsed{fs: etcdFlagSet(), set: map[string]bool{}, sources: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			// etcd refuses stray arguments ("%q is not a valid flag").
			p.errs = append(p.errs, fmt.Sprintf("%q is not a valid flag", a))
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		p.written = append(p.written, name)
		if n, ok := legacyFlags[name]; ok {
			name = n
		}
		f := p.fs.Lookup(name)
		if f == nil {
			p.unknown = append(p.unknown, "--"+name)
			if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++ // its value
			}
			continue
		}
		if !hasValue {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				p.errs = append(p.errs, fmt.Sprintf("flag needs an argument: --%s", name))
				continue
			}
		}
		if err := p.fs.Set(name, value); err != nil {
			p.errs = append(p.errs, fmt.Sprintf("invalid value %q for flag --%s: %v", value, name, err))
			continue
		}
		p.set[name] = true
		p.sources[name] = argSource(name)
	}
	// As flags.SetFlagsFromEnv: every flag of the set looks up its own
	// variable; the last assignment in the file wins, as in systemd.
	byKey := map[string]envVar{}
	for _, v := range env {
		byKey[v.key] = v
	}
	used := map[string]bool{}
	p.fs.VisitAll(func(f *flag.Flag) {
		key := flags.FlagToEnv("ETCD", f.Name)
		v, ok := byKey[key]
		if !ok {
			return
		}
		used[key] = true
		switch {
		case p.set[f.Name]:
			// etcd refuses to start on a variable shadowed by a flag
			// (flags.verifyEnv, a fatal log).
			p.errs = append(p.errs, fmt.Sprintf("%s is shadowed by --%s on the command line; etcd refuses to start on that", key, f.Name))
			return
		case v.value == "":
			return // SetFlagsFromEnv skips empty values
		}
		if err := p.fs.Set(f.Name, v.value); err != nil {
			p.errs = append(p.errs, fmt.Sprintf("invalid value %q for %s: %v", v.value, key, err))
			return
		}
		p.set[f.Name] = true
		p.sources[f.Name] = v.source
	})
	for _, v := range env {
		if !strings.HasPrefix(v.key, "ETCD_") || used[v.key] {
			continue
		}
		if n, ok := legacyFlags[envToFlag(v.key)]; ok && !p.set[n] {
			if err := p.fs.Set(n, v.value); err == nil {
				p.set[n], p.sources[n] = true, v.source
				continue
			}
		}
		p.unknown = append(p.unknown, v.key)
		used[v.key] = true
	}
	return p
}

// envToFlag inverts flags.FlagToEnv for the ETCD prefix.
func envToFlag(key string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(key, "ETCD_")), "_", "-")
}

func (p *parsed) str(name string) string {
	if !p.set[name] {
		return ""
	}
	return p.fs.Lookup(name).Value.String()
}

func (p *parsed) list(name string) []string { return splitList(p.str(name)) }

func (p *parsed) bool(name string) bool {
	v, _ := strconv.ParseBool(p.str(name))
	return v
}

// settings turns a parsed flag set into Settings.
func (p *parsed) settings(source string) (*Settings, error) {
	s := &Settings{
		Source:                  source,
		Sources:                 p.sources,
		Name:                    p.str("name"),
		ListenClientURLs:        p.list("listen-client-urls"),
		AdvertiseClientURLs:     p.list("advertise-client-urls"),
		ListenPeerURLs:          p.list("listen-peer-urls"),
		AdvertisePeerURLs:       p.list("initial-advertise-peer-urls"),
		InitialCluster:          p.str("initial-cluster"),
		InitialClusterToken:     p.str("initial-cluster-token"),
		InitialClusterState:     p.str("initial-cluster-state"),
		CertFile:                p.str("cert-file"),
		KeyFile:                 p.str("key-file"),
		ClientCertFile:          p.str("client-cert-file"),
		ClientKeyFile:           p.str("client-key-file"),
		TrustedCAFile:           p.str("trusted-ca-file"),
		ClientCertAuth:          p.bool("client-cert-auth"),
		AutoTLS:                 p.bool("auto-tls"),
		PeerCertFile:            p.str("peer-cert-file"),
		PeerKeyFile:             p.str("peer-key-file"),
		PeerClientCertFile:      p.str("peer-client-cert-file"),
		PeerClientKeyFile:       p.str("peer-client-key-file"),
		PeerTrustedCAFile:       p.str("peer-trusted-ca-file"),
		PeerClientCertAuth:      p.bool("peer-client-cert-auth"),
		PeerAutoTLS:             p.bool("peer-auto-tls"),
		PeerSkipClientSANVerify: p.bool("peer-skip-client-san-verification"),
		ConfigFile:              p.str("config-file"),
		Unknown:                 p.unknown,
		Flags:                   uniqueSorted(p.written),
	}
	if len(p.errs) > 0 {
		return s, &SettingsError{Source: source, Detail: strings.Join(p.errs, "; ")}
	}
	return s, nil
}

// hasAny reports whether the settings say anything about etcd at all.
func (s *Settings) hasAny() bool {
	return s.Name != "" || s.CertFile != "" || s.PeerCertFile != "" || len(s.ListenClientURLs) > 0 ||
		len(s.ListenPeerURLs) > 0 || s.TrustedCAFile != "" || s.ConfigFile != "" || s.InitialCluster != ""
}

// uniqueSorted returns ss sorted without repeats (nil for none).
func uniqueSorted(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return slices.Compact(out)
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

// envVar is one ETCD_* (or other) variable with where it was set.
type envVar struct{ key, value, source string }

// ParseFlags reads an etcd command line (the program name, if first, is
// skipped) with etcd's flag set. The error, a *[SettingsError], lists
// values etcd would refuse; the settings are returned with it.
func ParseFlags(source string, args []string) (*Settings, error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	p := parseEtcd(args, func(name string) string { return fmt.Sprintf("%s (--%s)", source, name) }, nil)
	return p.settings(source)
}

// ParseEnvFile reads a systemd EnvironmentFile of ETCD_* variables
// (etcdadm's /etc/etcd/etcd.env, kubespray's /etc/etcd.env): KEY=VALUE
// lines, optional quotes, "export " and comments, as systemd reads them.
// Variables become etcd flags as etcd maps them (ETCD_CERT_FILE is
// --cert-file). A file without any ETCD_* setting is an error.
func ParseEnvFile(source string, data []byte) (*Settings, error) {
	vars, err := parseEnv(source, data)
	if err != nil {
		return nil, err
	}
	return settingsFromEnv(source, nil, nil, vars)
}

func settingsFromEnv(source string, args []string, argSource func(string) string, vars []envVar) (*Settings, error) {
	if argSource == nil {
		argSource = func(name string) string { return fmt.Sprintf("%s (--%s)", source, name) }
	}
	p := parseEtcd(args, argSource, vars)
	s, err := p.settings(source)
	if !s.hasAny() {
		return nil, errors.New("no etcd settings found (no ETCD_* variables or etcd flags)")
	}
	return s, err
}

// parseEnv reads KEY=VALUE lines as systemd's EnvironmentFile does.
func parseEnv(source string, data []byte) ([]envVar, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, errors.New("is not a text file")
	}
	var vars []envVar
	lines := strings.Split(strings.ReplaceAll(string(data), "\\\n", ""), "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue // systemd ignores such lines with a warning
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars = append(vars, envVar{key: k, value: v, source: fmt.Sprintf("%s:%d (%s)", source, i+1, k)})
	}
	return vars, nil
}

// etcdConfig mirrors the keys of etcd's --config-file that matter here,
// with etcd's own YAML names (go.etcd.io/etcd/server/v3@v3.7.3
// embed/config.go: Config, configJSON, securityConfig). etcd reads the
// file with sigs.k8s.io/yaml, as this does; TestConfigFileAgreesWithEtcd
// holds the two to the same result.
type etcdConfig struct {
	Name                     string         `json:"name"`
	InitialCluster           string         `json:"initial-cluster"`
	InitialClusterToken      string         `json:"initial-cluster-token"`
	InitialClusterState      string         `json:"initial-cluster-state"`
	ListenPeerURLs           string         `json:"listen-peer-urls"`
	ListenClientURLs         string         `json:"listen-client-urls"`
	InitialAdvertisePeerURLs string         `json:"initial-advertise-peer-urls"`
	AdvertiseClientURLs      string         `json:"advertise-client-urls"`
	Client                   securityConfig `json:"client-transport-security"`
	Peer                     securityConfig `json:"peer-transport-security"`
}

type securityConfig struct {
	CertFile            string `json:"cert-file"`
	KeyFile             string `json:"key-file"`
	ClientCertFile      string `json:"client-cert-file"`
	ClientKeyFile       string `json:"client-key-file"`
	ClientCertAuth      bool   `json:"client-cert-auth"`
	TrustedCAFile       string `json:"trusted-ca-file"`
	AutoTLS             bool   `json:"auto-tls"`
	SkipClientSANVerify bool   `json:"skip-client-san-verification"`
}

// ParseConfigFile reads an etcd --config-file (YAML), as k3s and RKE2
// write it (server/db/etcd/config) and etcd's own etcd.conf.yml. URLs
// etcd would refuse are reported in the *[SettingsError]; etcd 3.7 exits
// the process on them (embed.ConfigFromFile), so Load never calls it on
// a member's file.
func ParseConfigFile(source string, data []byte) (*Settings, error) {
	var f etcdConfig
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a valid etcd config file: %v", err)
	}
	var raw map[string]any
	_ = yaml.Unmarshal(data, &raw)
	if raw == nil {
		return nil, errors.New("not a valid etcd config file: no settings")
	}
	s := &Settings{
		Source:                  source,
		Sources:                 map[string]string{},
		Name:                    f.Name,
		ListenClientURLs:        splitList(f.ListenClientURLs),
		AdvertiseClientURLs:     splitList(f.AdvertiseClientURLs),
		ListenPeerURLs:          splitList(f.ListenPeerURLs),
		AdvertisePeerURLs:       splitList(f.InitialAdvertisePeerURLs),
		InitialCluster:          f.InitialCluster,
		InitialClusterToken:     f.InitialClusterToken,
		InitialClusterState:     f.InitialClusterState,
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
	}
	// Where each key is: its line in the file. Nested transport keys are
	// named as the flag etcd maps them to (peer-transport-security's
	// cert-file is --peer-cert-file).
	text := string(data)
	for _, k := range sortedKeys(raw) {
		s.Sources[k] = fmt.Sprintf("%s:%d (%s)", source, lineOf(text, k+":", 0), k)
	}
	for section, prefix := range map[string]string{"client-transport-security": "", "peer-transport-security": "peer-"} {
		sub, _ := raw[section].(map[string]any)
		start := strings.Index(text, section+":")
		for _, k := range sortedKeys(sub) {
			flagName := prefix + k
			if k == "skip-client-san-verification" {
				flagName = "peer-skip-client-san-verification"
			}
			s.Sources[flagName] = fmt.Sprintf("%s:%d (%s.%s)", source, lineOf(text, k+":", max(start, 0)), section, k)
		}
	}
	var bad []string
	for key, urls := range map[string][]string{"listen-client-urls": s.ListenClientURLs, "advertise-client-urls": s.AdvertiseClientURLs,
		"listen-peer-urls": s.ListenPeerURLs, "initial-advertise-peer-urls": s.AdvertisePeerURLs} {
		for _, u := range urls {
			if _, err := url.Parse(u); err != nil || !strings.Contains(u, "://") {
				bad = append(bad, fmt.Sprintf("%s: %q is not a URL", key, u))
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return s, &SettingsError{Source: source, Detail: strings.Join(bad, "; ")}
	}
	return s, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lineOf is the 1-based line of the first occurrence of needle at or
// after byte offset from, or 0.
func lineOf(text, needle string, from int) int {
	if from > len(text) {
		return 0
	}
	i := strings.Index(text[from:], needle)
	if i < 0 {
		return 0
	}
	return strings.Count(text[:from+i], "\n") + 1
}
