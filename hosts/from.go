package hosts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

// netnsEtcDir is where ip netns exec finds a namespace's own /etc files:
// it bind-mounts /etc/netns/NAME/hosts over /etc/hosts for the command it
// runs (ip-netns(8)).
const netnsEtcDir = "/etc/netns"

// FromCluster is a cluster of the user's own trees in hosts mode.
type FromCluster struct {
	*Cluster
	plan []*local.FromMember
}

// Plan is what each member runs with, and where.
func (fc *FromCluster) Plan() []*local.FromMember { return fc.plan }

// VerifyNames dials every member on its host with each of its real
// addresses as the TLS server name (local.VerifyPlanNames).
func (fc *FromCluster) VerifyNames(ctx context.Context) []local.NameCheck {
	return local.VerifyPlanNames(ctx, fc.plan, func(fm *local.FromMember) func(ctx context.Context, network, addr string) (net.Conn, error) {
		return fc.DialContext(fm.Name)
	})
}

// StartFrom boots planned members (local.PlanFrom) in hosts mode: each in
// a network namespace of its own, on an address of opts.Subnet, never the
// trees' real addresses. The certificates do not name those addresses,
// so the members reach each other by a DNS name their certificates have
// (the member's name when they have it), which each host's /etc/hosts
// (/etc/netns/NS/hosts) maps to the member's address: a member dialing a
// peer verifies that name, and the accepting member's check of a peer's
// source address (etcd's checkSAN) finds it by the same file. A member
// whose server and peer certificates share no DNS name cannot run so;
// StartFrom says which, before it builds anything. Its other errors are
// StartFromDir's.
func StartFrom(ctx context.Context, plan []*local.FromMember, opts Options) (*FromCluster, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	a, err := Plan(opts.Subnet, len(plan))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, fm := range plan {
		n, err := peerName(fm)
		if err != nil {
			return nil, err
		}
		fm.PeerName = n
		names = append(names, fm.Name)
	}
	dir, temp := opts.Dir, false
	var release func()
	if dir == "" {
		if dir, release, err = local.TempDir("etcdpki-hosts-from-"); err != nil {
			return nil, err
		}
		temp = true
	} else if err := os.MkdirAll(dir, layout.DirPerm); err != nil {
		return nil, err
	}
	fail := func(err error) (*FromCluster, error) {
		if release != nil {
			release()
		}
		return nil, err
	}
	n, err := NewNetwork(ctx, opts.Subnet, names)
	if err != nil {
		return fail(err)
	}
	var hostsFile strings.Builder
	hostsFile.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
	for i, fm := range plan {
		fmt.Fprintf(&hostsFile, "%s\t%s\n", a.Members[i], fm.PeerName)
	}
	cl := &Cluster{out: dir, temp: temp, net: n, opts: opts}
	core, logs := newObserver()
	cl.logs = logs
	for i, fm := range plan {
		h := &n.Hosts[i]
		if err := writeNetnsHosts(h.Netns, hostsFile.String()); err != nil {
			n.Close()
			return fail(err)
		}
		here := h.Addr.String()
		url := func(host string, port int) string { return "https://" + net.JoinHostPort(host, strconv.Itoa(port)) }
		rc := *fm.Config
		rc.ListenClientURLs = []string{url(here, 2379), url("127.0.0.1", 2379)}
		rc.AdvertiseClientURLs = []string{url(fm.PeerName, 2379)}
		rc.ListenPeerURLs = []string{url(here, 2380)}
		rc.InitialAdvertisePeerURLs = []string{url(fm.PeerName, 2380)}
		rc.ListenMetricsURLs = []string{"http://127.0.0.1:2381"}
		rc.DataDir = local.DataDir(dir, fm.Name)
		fm.Here, fm.ClientPort, fm.PeerPort, fm.MetricsPort = here, 2379, 2380, 2381
		fm.Config = &rc
		cl.members = append(cl.members, &member{cfg: &rc, host: h})
	}
	var ic []string
	for _, fm := range plan {
		ic = append(ic, fm.Name+"="+fm.Config.InitialAdvertisePeerURLs[0])
	}
	for _, m := range cl.members {
		m.cfg.InitialCluster = strings.Join(ic, ",")
	}
	if opts.Configure != nil {
		for _, m := range cl.members {
			opts.Configure(m.cfg)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), layout.DirPerm); err != nil {
		cl.Close()
		return nil, err
	}
	fc := &FromCluster{Cluster: cl, plan: plan}
	if err := cl.boot(ctx, core); err != nil {
		var be *local.BootError
		if errors.As(err, &be) {
			be.Logs = logs
			if opts.KeepNotReady && len(be.NotReady) > 0 && be.Err == nil {
				return fc, err
			}
		}
		cl.Close()
		return nil, err
	}
	return fc, nil
}

// peerName is the DNS name of fm's peer certificate that the members
// dial it by (and clients too): its own name when the certificate has
// it, else the first other (no localhost, no wildcard).
func peerName(fm *local.FromMember) (string, error) {
	peer, err := layout.ReadCerts(fm.Config.PeerCertFile)
	if err != nil {
		return "", err
	}
	var names []string
	for _, n := range peer[0].DNSNames {
		if n != "localhost" && !strings.HasPrefix(n, "*") {
			names = append(names, n)
		}
	}
	switch {
	case slices.Contains(names, fm.Name):
		return fm.Name, nil
	case len(names) > 0:
		return names[0], nil
	}
	return "", fmt.Errorf("member %s (%s): its peer certificate has no DNS name (only %v), which hosts mode needs to reach it on an address of its own subnet: run it in process (up --from without --hosts)",
		fm.Name, fm.Dir, peer[0].DNSNames)
}

// writeNetnsHosts gives namespace ns its own /etc/hosts.
func writeNetnsHosts(ns, content string) error {
	d := filepath.Join(netnsEtcDir, ns)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "hosts"), []byte(content), 0o644)
}

// ClientTLS is a client configuration for member name from its own tree:
// its client-port CA and client credential.
func (fc *FromCluster) ClientTLS(name string, _ pki.Kind) (*tls.Config, error) {
	fm := fc.planned(name)
	if fm == nil {
		return nil, fmt.Errorf("no member %q", name)
	}
	return layout.ClientTLSFiles(fm.ClientCA, fm.ClientCert, fm.ClientKey)
}

func (fc *FromCluster) planned(name string) *local.FromMember {
	for _, fm := range fc.plan {
		if fm.Name == name {
			return fm
		}
	}
	return nil
}

// Endpoints are the members' client URLs by the names they are reached
// by, which only the members' hosts resolve: dial them with Dial.
func (fc *FromCluster) Endpoints() []string {
	var out []string
	for _, fm := range fc.plan {
		out = append(out, fm.Config.AdvertiseClientURLs[0])
	}
	return out
}

// Dial dials a member by the name it is reached by (as the hosts' /etc/hosts
// resolve it) from this namespace, through the bridge: clientv3 verifies
// the name it dials, not a tls.Config's ServerName, so clients here dial
// the names and Dial maps them to the addresses.
func (fc *FromCluster) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	for _, fm := range fc.plan {
		if fm.PeerName == host {
			addr = net.JoinHostPort(fm.Here, port)
			break
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Verify writes and reads back a key through every member from this
// namespace, with the client credential of the member's own tree.
func (fc *FromCluster) Verify(ctx context.Context) error {
	rb := local.NewReadBack(len(fc.plan))
	for _, fm := range fc.plan {
		tlsCfg, err := fc.ClientTLS(fm.Name, "")
		if err := local.VerifyThrough(ctx, rb, fm.Name, fm.Config.AdvertiseClientURLs[0], tlsCfg, err, true, fc.Dial); err != nil {
			return err
		}
	}
	return nil
}

// Status is Cluster.Status, with the certificate each member serves read
// through Dial.
func (fc *FromCluster) Status(ctx context.Context) []local.MemberStatus {
	st := fc.Cluster.Status(ctx)
	for i := range st {
		if fm := fc.planned(st[i].Name); fm != nil && st[i].Running {
			st[i].Serving = local.ReadServedCert(ctx, "https://"+net.JoinHostPort(fm.Here, "2379"))
		}
	}
	return st
}
