package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/etcdpki/etcdpki/internal/tlsdial"
	"github.com/etcdpki/etcdpki/layout"
	members "github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
)

// FromMember is one member of a cluster booted from the user's own trees
// (up --from): its real addresses, the local ports it runs on instead,
// and the files of its tree it runs with.
type FromMember struct {
	Name string
	// Dir is the member's tree as given; Layout its distribution.
	Dir, Layout string
	// ClientHosts and PeerHosts are the hosts of the member's real client
	// and peer URLs (advertised and listened on, without 0.0.0.0 and ::),
	// from its settings: what its serving certificates must name.
	ClientHosts, PeerHosts []string
	// Here is the address it runs on here (127.0.0.1 in process, its
	// host's address in hosts mode), and ClientPort and PeerPort its
	// ports there.
	Here                              string
	ClientPort, PeerPort, MetricsPort int
	// PeerName is the name the others dial it by in hosts mode (a DNS
	// name its certificates have, resolved in every host's /etc/hosts to
	// Here); empty in process, where they dial 127.0.0.1.
	PeerName string
	// ClientCA and PeerCA are the trusted CA files of its client and peer
	// ports (--trusted-ca-file, --peer-trusted-ca-file).
	ClientCA, PeerCA string
	// ClientCert and ClientKey are the client credential a client of the
	// member presents here: kube-apiserver's apiserver-etcd-client, else
	// the healthcheck client, else the server's own client credential.
	ClientCert, ClientKey string
	// PeerCert and PeerKey are the member's peer credential
	// (--peer-client-cert-file, else --peer-cert-file).
	PeerCert, PeerKey string
	// Config is what the member runs with here.
	Config *render.Config
}

// FromOptions configure PlanFrom.
type FromOptions struct {
	// BasePort is the first member's client port (default 2379); member
	// i runs on BasePort+3i (client), +3i+1 (peer) and +3i+2 (metrics).
	BasePort int
}

// PlanFrom plans running members, read from their trees as check reads
// them (member.LoadDirs), on this machine: every member on 127.0.0.1 with
// ports of its own, its certificates, keys and trusted CAs read in place
// from its tree, its name and token from its settings, and its
// --initial-cluster rewritten to the local peer URLs. Nothing in the trees
// is written. The data directories are set by StartFrom. It returns an
// error naming the member when a member has no name or no server or peer
// certificate path, or two members share a name.
func PlanFrom(ms []*members.Member, opts FromOptions) ([]*FromMember, error) {
	if len(ms) == 0 {
		return nil, errors.New("no members to run")
	}
	if len(ms) > MaxMembers {
		return nil, fmt.Errorf("%d members: up runs at most %d", len(ms), MaxMembers)
	}
	base := opts.BasePort
	if base == 0 {
		base = 2379
	}
	if base < 1 || base+3*len(ms) > 65535 {
		return nil, fmt.Errorf("base port %d: %d members need ports up to %d", base, len(ms), base+3*len(ms)-1)
	}
	var plan []*FromMember
	token := ""
	for i, m := range ms {
		if m.Name == "" {
			return nil, fmt.Errorf("%s: the member has no name (no manifest, config or spec says it)", m.Input.Dir)
		}
		if m.Name == "data" {
			return nil, fmt.Errorf(`%s: a member called "data" clashes with the data directory`, m.Input.Dir)
		}
		for _, p := range plan {
			if p.Name == m.Name {
				return nil, fmt.Errorf("%s and %s are both member %s: give each member's tree once", p.Dir, m.Input.Dir, m.Name)
			}
		}
		fm := &FromMember{Name: m.Name, Dir: m.Input.Dir, Here: "127.0.0.1", ClientPort: base + 3*i, PeerPort: base + 3*i + 1, MetricsPort: base + 3*i + 2}
		if d := m.Distribution(); d != nil {
			fm.Layout = d.Name
		}
		srv, peer := m.Files[pki.KindServer], m.Files[pki.KindPeer]
		if srv == nil || peer == nil || srv.CertPath == "" || peer.CertPath == "" {
			return nil, fmt.Errorf("member %s (%s): no server or peer certificate found: etcdpki check %s says why", m.Name, m.Input.Dir, m.Input.Dir)
		}
		if m.CA != nil {
			fm.ClientCA = m.CA.CertPath
		}
		if m.PeerCA != nil {
			fm.PeerCA = m.PeerCA.CertPath
		}
		fm.PeerCert, fm.PeerKey = peer.CertPath, peer.KeyPath
		if pc := m.Files[pki.KindPeerClient]; pc != nil && pc.CertPath != "" {
			fm.PeerCert, fm.PeerKey = pc.CertPath, pc.KeyPath
		}
		for _, k := range []pki.Kind{pki.KindAPIServerClient, pki.KindHealthcheckClient, pki.KindServerClient, pki.KindServer} {
			if f := m.Files[k]; f != nil && f.CertPath != "" && f.CertErr == nil && f.KeyErr == nil {
				fm.ClientCert, fm.ClientKey = f.CertPath, f.KeyPath
				break
			}
		}
		s := m.Settings
		fm.ClientHosts, fm.PeerHosts = realHosts(m.ClientURLs), realHosts(m.PeerURLs)
		local := func(port int) string { return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
		rc := &render.Config{
			Name:                     m.Name,
			ListenClientURLs:         []string{local(fm.ClientPort)},
			AdvertiseClientURLs:      []string{local(fm.ClientPort)},
			ListenPeerURLs:           []string{local(fm.PeerPort)},
			InitialAdvertisePeerURLs: []string{local(fm.PeerPort)},
			ListenMetricsURLs:        []string{"http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(fm.MetricsPort))},
			InitialClusterState:      "new",
			CertFile:                 srv.CertPath,
			KeyFile:                  srv.KeyPath,
			TrustedCAFile:            fm.ClientCA,
			ClientCertAuth:           true,
			PeerCertFile:             peer.CertPath,
			PeerKeyFile:              peer.KeyPath,
			PeerTrustedCAFile:        fm.PeerCA,
			PeerClientCertAuth:       true,
		}
		if s != nil {
			// The member's own choices, where it made them: a member that
			// runs without client certificate authentication runs so here.
			rc.ClientCertAuth = s.ClientCertAuth || s.TrustedCAFile != ""
			rc.PeerClientCertAuth = s.PeerClientCertAuth || s.PeerTrustedCAFile != ""
			if s.InitialClusterToken != "" && token == "" {
				token = s.InitialClusterToken
			}
		}
		if sc := m.Files[pki.KindServerClient]; sc != nil && s != nil && s.ClientCertFile != "" {
			rc.ClientCertFile, rc.ClientKeyFile = sc.CertPath, sc.KeyPath
		}
		if pc := m.Files[pki.KindPeerClient]; pc != nil && s != nil && s.PeerClientCertFile != "" {
			rc.PeerClientCertFile, rc.PeerClientKeyFile = pc.CertPath, pc.KeyPath
		}
		fm.Config = rc
		plan = append(plan, fm)
	}
	if token == "" {
		token = "etcdpki-up-from"
	}
	var ic []string
	for _, fm := range plan {
		ic = append(ic, fm.Name+"="+fm.Config.InitialAdvertisePeerURLs[0])
	}
	for _, fm := range plan {
		fm.Config.InitialCluster = strings.Join(ic, ",")
		fm.Config.InitialClusterToken = token
	}
	return plan, nil
}

// realHosts are the hosts of urls, without the wildcard addresses a
// member listens on and without repeats.
func realHosts(urls []string) []string {
	var out []string
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || pu.Hostname() == "" {
			continue
		}
		h := pu.Hostname()
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			continue
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// FromCluster is a cluster booted from the user's own trees (StartFrom).
type FromCluster struct {
	*Cluster
	plan []*FromMember
}

// StartFrom boots the planned members in-process as StartFromDir boots a
// spec's, with their data in opts.Dir/data (a new temporary directory
// when opts.Dir is empty, removed by Close). Nothing in the members' trees
// is written. The errors are StartFromDir's.
func StartFrom(ctx context.Context, plan []*FromMember, opts Options) (*FromCluster, error) {
	opts = opts.withDefaults()
	dir, temp := opts.Dir, false
	var release func()
	if dir == "" {
		var err error
		if dir, release, err = TempDir("etcdpki-up-from-"); err != nil {
			return nil, err
		}
		temp = true
	} else if err := os.MkdirAll(dir, layout.DirPerm); err != nil {
		return nil, err
	}
	var configs []*render.Config
	for _, fm := range plan {
		rc := *fm.Config
		rc.DataDir = DataDir(dir, fm.Name)
		fm.Config = &rc
		configs = append(configs, &rc)
	}
	cl, err := startConfigs(ctx, dir, nil, configs, opts)
	if err != nil {
		if release != nil && (cl == nil) {
			release()
		}
		if cl != nil {
			cl.temp = temp
			return &FromCluster{Cluster: cl, plan: plan}, err
		}
		return nil, err
	}
	cl.temp = temp
	return &FromCluster{Cluster: cl, plan: plan}, nil
}

// Plan is what each member runs with.
func (fc *FromCluster) Plan() []*FromMember { return fc.plan }

func (fc *FromCluster) planned(name string) *FromMember {
	for _, fm := range fc.plan {
		if fm.Name == name {
			return fm
		}
	}
	return nil
}

// ClientTLS is a client configuration for member name from its own
// tree: its client-port CA and the client credential of FromMember.
func (fc *FromCluster) ClientTLS(name string, _ pki.Kind) (*tls.Config, error) {
	fm := fc.planned(name)
	if fm == nil {
		return nil, fmt.Errorf("no member %q", name)
	}
	if fm.ClientCert == "" {
		return nil, fmt.Errorf("member %s: no client certificate in %s to connect with", name, fm.Dir)
	}
	return layout.ClientTLSFiles(fm.ClientCA, fm.ClientCert, fm.ClientKey)
}

// NameCheck is one serving certificate verified with one of the member's
// real addresses as the TLS server name.
type NameCheck struct {
	Member string `json:"member"`
	// Port is "client" or "peer"; Host the real address used as the
	// server name; Local the address dialed here.
	Port  string `json:"port"`
	Host  string `json:"host"`
	Local string `json:"local"`
	// Err is empty when the chain verified against the port's trusted CA
	// and the certificate names Host.
	Err string `json:"error,omitempty"`
}

// VerifyNames dials every member's client and peer port here with each
// of its real addresses as the TLS server name (VerifyPlanNames).
func (fc *FromCluster) VerifyNames(ctx context.Context) []NameCheck {
	return VerifyPlanNames(ctx, fc.plan, nil)
}

// VerifyPlanNames dials every planned member's client and peer port
// where it runs here (Here and its ports) with each of its real addresses
// as the TLS server name, verifying the served chain against the port's
// trusted CA file (the one its clients and peers hold) and the name, as a
// client on the real network would. It never dials the real addresses.
// dial, when set, gives the dialer for a member's ports (hosts mode dials
// from inside the member's own host, whose /etc/hosts names the address:
// etcd's peer listener checks the source address of the connection).
func VerifyPlanNames(ctx context.Context, plan []*FromMember, dial func(*FromMember) func(ctx context.Context, network, addr string) (net.Conn, error)) []NameCheck {
	var out []NameCheck
	for _, fm := range plan {
		for _, p := range []struct {
			port      string
			hosts     []string
			local     int
			ca        string
			cert, key string
		}{
			{"client", fm.ClientHosts, fm.ClientPort, fm.ClientCA, fm.ClientCert, fm.ClientKey},
			{"peer", fm.PeerHosts, fm.PeerPort, fm.PeerCA, fm.PeerCert, fm.PeerKey},
		} {
			addr := net.JoinHostPort(fm.Here, strconv.Itoa(p.local))
			for _, h := range p.hosts {
				nc := NameCheck{Member: fm.Name, Port: p.port, Host: h, Local: addr}
				var d func(ctx context.Context, network, addr string) (net.Conn, error)
				if dial != nil {
					d = dial(fm)
				}
				if err := verifyName(ctx, addr, h, p.ca, p.cert, p.key, d); err != nil {
					nc.Err = err.Error()
				}
				out = append(out, nc)
			}
		}
	}
	return out
}

// FromTrees is a cluster booted from the user's own trees, in process or
// in hosts mode: what it runs and the verification of its names.
type FromTrees interface {
	Plan() []*FromMember
	VerifyNames(ctx context.Context) []NameCheck
}

// verifyName handshakes with addr presenting cert/key and verifies the
// served chain against caFile and the name host (tlsdial, the one
// dial-and-judge helper), dialing with dial when set.
func verifyName(ctx context.Context, addr, host, caFile, certFile, keyFile string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) error {
	cfg, err := layout.ClientTLSFiles(caFile, certFile, keyFile)
	if err != nil {
		return err
	}
	cfg.ServerName = host
	return tlsdial.Dial(ctx, addr, tlsdial.Options{Config: cfg, DialContext: dial}).Handshake()
}

// Verify writes and reads back a key through every member with its own
// client credential, as Cluster.Verify does for a cluster of init's.
func (fc *FromCluster) Verify(ctx context.Context) error {
	rb := NewReadBack(len(fc.plan))
	for _, fm := range fc.plan {
		tlsCfg, err := fc.ClientTLS(fm.Name, "")
		if err := VerifyThrough(ctx, rb, fm.Name, fm.Config.AdvertiseClientURLs[0], tlsCfg, err, true, nil); err != nil {
			return err
		}
	}
	return nil
}
