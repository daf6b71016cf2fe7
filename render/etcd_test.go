package render

import (
	"errors"
	"flag"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	etcdflags "go.etcd.io/etcd/pkg/v3/flags"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/etcdpki/etcdpki/release"
)

// etcdView is the part of etcd's own configuration (embed.Config) that a
// rendered Config sets. The tests build it three ways, from the Config
// itself, from etcd parsing Flags() with its own flag set, and from etcd
// loading ConfigFile() with embed.ConfigFromFile, and require all three to
// agree: the flags and the file are etcd's, not look-alikes.
type etcdView struct {
	Name, DataDir                        string
	ListenClientURLs, AdvertiseClientURL []string
	ListenPeerURLs, AdvertisePeerURLs    []string
	ListenMetricsURLs                    []string
	InitialCluster, State, Token         string
	SnapshotCount                        uint64
	Client, Peer                         tlsView
	ClientAutoTLS, PeerAutoTLS           bool
}

type tlsView struct {
	CertFile, KeyFile, ClientCertFile, ClientKeyFile, TrustedCAFile string
	ClientCertAuth, SkipClientSANVerify                             bool
}

func viewOfEtcd(ec *embed.Config) etcdView {
	tv := func(ti transport.TLSInfo) tlsView {
		return tlsView{ti.CertFile, ti.KeyFile, ti.ClientCertFile, ti.ClientKeyFile, ti.TrustedCAFile, ti.ClientCertAuth, ti.SkipClientSANVerify}
	}
	return etcdView{
		Name: ec.Name, DataDir: ec.Dir,
		ListenClientURLs: urlStrings(ec.ListenClientUrls), AdvertiseClientURL: urlStrings(ec.AdvertiseClientUrls),
		ListenPeerURLs: urlStrings(ec.ListenPeerUrls), AdvertisePeerURLs: urlStrings(ec.AdvertisePeerUrls),
		ListenMetricsURLs: urlStrings(ec.ListenMetricsUrls),
		InitialCluster:    ec.InitialCluster, State: ec.ClusterState, Token: ec.InitialClusterToken,
		SnapshotCount: ec.SnapshotCount,
		Client:        tv(ec.ClientTLSInfo), Peer: tv(ec.PeerTLSInfo),
		ClientAutoTLS: ec.ClientAutoTLS, PeerAutoTLS: ec.PeerAutoTLS,
	}
}

func viewOfConfig(c *Config) etcdView {
	return etcdView{
		Name: c.Name, DataDir: c.DataDir,
		ListenClientURLs: sorted(c.ListenClientURLs), AdvertiseClientURL: sorted(c.AdvertiseClientURLs),
		ListenPeerURLs: sorted(c.ListenPeerURLs), AdvertisePeerURLs: sorted(c.InitialAdvertisePeerURLs),
		ListenMetricsURLs: sorted(c.ListenMetricsURLs),
		InitialCluster:    c.InitialCluster, State: c.InitialClusterState, Token: c.InitialClusterToken,
		SnapshotCount: uint64(c.SnapshotCount),
		Client:        tlsView{c.CertFile, c.KeyFile, c.ClientCertFile, c.ClientKeyFile, c.TrustedCAFile, c.ClientCertAuth, false},
		Peer:          tlsView{c.PeerCertFile, c.PeerKeyFile, c.PeerClientCertFile, c.PeerClientKeyFile, c.PeerTrustedCAFile, c.PeerClientCertAuth, false},
	}
}

// urlStrings sorts as etcd's types.NewURLs does.
func urlStrings(us []url.URL) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.String())
	}
	return sorted(out)
}

func sorted(ss []string) []string {
	ss = slices.Clone(ss)
	slices.Sort(ss)
	return ss
}

// parseEtcdFlags parses args as the etcd binary does: etcd's own flag set
// (embed.Config.AddFlags), the flags etcdmain adds itself, and etcdmain's
// reading of the URL flags; then etcd's validation.
func parseEtcdFlags(t *testing.T, args []string) *embed.Config {
	t.Helper()
	ec := embed.NewConfig()
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ec.AddFlags(fs)
	// etcdmain registers these two next to AddFlags.
	state := fs.String("initial-cluster-state", embed.ClusterStateFlagNew, "")
	fs.String("config-file", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("etcd rejects the flags: %v", err)
	}
	if fs.NArg() != 0 {
		t.Fatalf("etcd takes no arguments, got %q", fs.Args())
	}
	ec.ListenPeerUrls = etcdflags.UniqueURLsFromFlag(fs, "listen-peer-urls")
	ec.AdvertisePeerUrls = etcdflags.UniqueURLsFromFlag(fs, "initial-advertise-peer-urls")
	ec.ListenClientUrls = etcdflags.UniqueURLsFromFlag(fs, "listen-client-urls")
	ec.AdvertiseClientUrls = etcdflags.UniqueURLsFromFlag(fs, "advertise-client-urls")
	ec.ListenMetricsUrls = etcdflags.UniqueURLsFromFlag(fs, "listen-metrics-urls")
	ec.ClusterState = *state
	ec.LogLevel = "error"
	if err := ec.Validate(); err != nil {
		t.Fatalf("etcd's validation rejects the flags: %v", err)
	}
	return ec
}

// TestEtcdReadsFlags parses every case's Flags() with etcd's flag set.
func TestEtcdReadsFlags(t *testing.T) {
	for _, rc := range renderCases {
		t.Run(rc.name, func(t *testing.T) {
			_, cfg := rc.config(t)
			got := viewOfEtcd(parseEtcdFlags(t, cfg.Flags()))
			if want := viewOfConfig(cfg); !reflect.DeepEqual(got, want) {
				t.Errorf("etcd reads the flags as\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// loadConfigFile writes cfg's ConfigFile() and loads it with etcd's
// embed.ConfigFromFile, which also validates it.
func loadConfigFile(t *testing.T, cfg *Config) (*embed.Config, []byte) {
	t.Helper()
	data, err := cfg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "etcd.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ec, err := embed.ConfigFromFile(path)
	if err != nil {
		t.Fatalf("etcd rejects the config file: %v\n%s", err, data)
	}
	return ec, data
}

// TestEtcdReadsConfigFile writes every case's ConfigFile() and loads it
// with etcd's embed.ConfigFromFile, which also validates it.
func TestEtcdReadsConfigFile(t *testing.T) {
	for _, rc := range renderCases {
		t.Run(rc.name, func(t *testing.T) {
			_, cfg := rc.config(t)
			ec, data := loadConfigFile(t, cfg)
			got := viewOfEtcd(ec)
			if want := viewOfConfig(cfg); !reflect.DeepEqual(got, want) {
				t.Errorf("etcd reads the config file as\n%+v\nwant\n%+v\nfile:\n%s", got, want, data)
			}
			// The file and the command line configure the same server.
			if fromFlags := viewOfEtcd(parseEtcdFlags(t, cfg.Flags())); !reflect.DeepEqual(got, fromFlags) {
				t.Errorf("config file and flags differ:\nfile  %+v\nflags %+v", got, fromFlags)
			}
		})
	}
}

// TestEveryTargetRenders renders every golden case for every etcd version
// and kubeadm release: nothing printed is a flag the target etcd does not
// know (the interop tests start each version's own binary with the
// output), and what etcd 3.7, the version linked here, is given parses
// with its own flag set and config loader.
func TestEveryTargetRenders(t *testing.T) {
	var targets []Options
	for _, e := range release.EtcdVersions {
		targets = append(targets, Options{EtcdVersion: e.String()})
	}
	for _, k := range release.KubeadmReleases {
		targets = append(targets, Options{KubernetesVersion: k.String()})
	}
	for _, opts := range targets {
		for _, rc := range renderCases {
			t.Run(rc.name+"/"+opts.EtcdVersion+opts.KubernetesVersion, func(t *testing.T) {
				c := rc.cluster(t)
				o := rc.opts
				o.EtcdVersion, o.KubernetesVersion = opts.EtcdVersion, opts.KubernetesVersion
				cfg, err := ForMember(c, rc.member, o)
				if c.SplitCredentials && opts.EtcdVersion == "3.4" {
					var ve *VersionError
					if !errors.As(err, &ve) || !strings.Contains(err.Error(), "--split-credentials") {
						t.Fatalf("split credentials for etcd 3.4: %v, want a VersionError naming --split-credentials", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				e := cfg.Target.Etcd
				for _, f := range cfg.Flags() {
					name, _, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
					if !e.KnowsFlag(name) {
						t.Errorf("etcd %s does not know %s", e, f)
					}
				}
				if !slices.ContainsFunc(cfg.Flags(), func(f string) bool {
					return strings.Contains(f, "InitialCorruptCheck=true") || f == "--experimental-initial-corrupt-check=true"
				}) {
					t.Errorf("no initial corrupt check in %q", cfg.Flags())
				}
				if e.Minor == 7 {
					got := viewOfEtcd(parseEtcdFlags(t, cfg.Flags()))
					if want := viewOfConfig(cfg); !reflect.DeepEqual(got, want) {
						t.Errorf("etcd 3.7 reads the flags as\n%+v\nwant\n%+v", got, want)
					}
					ec, _ := loadConfigFile(t, cfg)
					if ec.WatchProgressNotifyInterval != 5*time.Second || !ec.ServerFeatureGate.Enabled("InitialCorruptCheck") {
						t.Errorf("config file: watch-progress-notify-interval %s, InitialCorruptCheck %t", ec.WatchProgressNotifyInterval, ec.ServerFeatureGate.Enabled("InitialCorruptCheck"))
					}
				}
			})
		}
	}
}
