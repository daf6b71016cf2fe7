package spec

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/etcdpki/etcdpki/pki"
)

// Layouts a cluster's files can be written in.
const (
	// LayoutKubeadm is kubeadm's: /etc/kubernetes/pki/etcd/… plus
	// /etc/kubernetes/pki/apiserver-etcd-client.*.
	LayoutKubeadm = "kubeadm"
	// LayoutEtcd is a standalone etcd node's, as etcdadm writes it:
	// everything under /etc/etcd/pki.
	LayoutEtcd = "etcd"
)

// Default ports: etcd's IANA-registered client and peer ports.
const (
	DefaultClientPort = 2379
	DefaultPeerPort   = 2380
	// DefaultMetricsPort is kubeadm's etcd metrics port.
	DefaultMetricsPort = 2381
)

// Cluster is the specification of one etcd cluster.
type Cluster struct {
	// Name is the cluster's --initial-cluster-token; it keeps two clusters
	// built from similar specs from joining each other by mistake.
	Name string `json:"name,omitempty"`
	// Algorithm is the key algorithm for the CA and all leaves.
	Algorithm pki.Algorithm `json:"algorithm,omitempty"`
	// Layout is LayoutKubeadm (the default) or LayoutEtcd.
	Layout string `json:"layout,omitempty"`
	// ClientPort and PeerPort default to 2379 and 2380.
	ClientPort int `json:"clientPort,omitempty"`
	PeerPort   int `json:"peerPort,omitempty"`
	// MetricsPort is the plain-HTTP port kubeadm's liveness probes use
	// (--listen-metrics-urls=http://127.0.0.1:2381); default 2381.
	MetricsPort int `json:"metricsPort,omitempty"`
	// CAValidity and CertValidity default to ten years and one year.
	CAValidity   Duration `json:"caValidity,omitempty"`
	CertValidity Duration `json:"certValidity,omitempty"`
	// SplitCredentials issues serverAuth-only serving certs plus
	// clientAuth-only credentials (etcd 3.5+ --client-cert-file and
	// --peer-client-cert-file).
	SplitCredentials bool `json:"splitCredentials,omitempty"`
	// ExternalCA keeps ca.key out of the members' trees.
	ExternalCA bool `json:"externalCA,omitempty"`
	// ExtraSANs are added to every member's server and peer certs, e.g. a
	// load balancer's name (kubeadm's etcd.local.serverCertSANs).
	ExtraSANs []string `json:"extraSANs,omitempty"`
	Members   []Member `json:"members"`
}

// Member is one etcd member.
type Member struct {
	// Name is etcd's --name and the CN of the member's server and peer certs.
	Name string `json:"name"`
	// IPs are the member's own addresses; the first one is advertised.
	IPs []string `json:"ips,omitempty"`
	// DNSNames are the member's own host names; the first one is advertised
	// when the member has no IP.
	DNSNames []string `json:"dnsNames,omitempty"`
	// ExtraSANs are added to this member's server and peer certs only.
	ExtraSANs []string `json:"extraSANs,omitempty"`
}

// WithDefaults returns a copy of c with every unset field filled in.
func (c Cluster) WithDefaults() Cluster {
	if c.Name == "" {
		c.Name = "etcd-cluster"
	}
	// ParseAlgorithm picks the default for "" and accepts any case; key
	// generation wants the canonical name. An unknown name is left for
	// Validate to report.
	if a, err := pki.ParseAlgorithm(string(c.Algorithm)); err == nil {
		c.Algorithm = a
	}
	if c.Layout == "" {
		c.Layout = LayoutKubeadm
	}
	if c.ClientPort == 0 {
		c.ClientPort = DefaultClientPort
	}
	if c.PeerPort == 0 {
		c.PeerPort = DefaultPeerPort
	}
	if c.MetricsPort == 0 {
		c.MetricsPort = DefaultMetricsPort
	}
	if c.CAValidity == 0 {
		c.CAValidity = Duration(pki.DefaultCAValidity)
	}
	if c.CertValidity == 0 {
		c.CertValidity = Duration(pki.DefaultLeafValidity)
	}
	return c
}

// Member returns the member called name.
func (c *Cluster) Member(name string) (*Member, error) {
	for i := range c.Members {
		if c.Members[i].Name == name {
			return &c.Members[i], nil
		}
	}
	var names []string
	for _, m := range c.Members {
		names = append(names, m.Name)
	}
	return nil, fmt.Errorf("no member %q in the cluster (members: %s)", name, strings.Join(names, ", "))
}

// AdvertiseHost is the address the member advertises: its first IP, or its
// first DNS name when it has no IP.
func (m *Member) AdvertiseHost() string {
	if len(m.IPs) > 0 {
		return m.IPs[0]
	}
	if len(m.DNSNames) > 0 {
		return m.DNSNames[0]
	}
	return ""
}

// ClientURL is the member's advertised client URL.
func (c *Cluster) ClientURL(m *Member) string { return httpsURL(m.AdvertiseHost(), c.ClientPort) }

// PeerURL is the member's advertised peer URL.
func (c *Cluster) PeerURL(m *Member) string { return httpsURL(m.AdvertiseHost(), c.PeerPort) }

// OnLoopback reports whether the member's advertised address is a loopback
// address: a cluster whose members share one host's lo (up, the tests).
// Such members cannot all listen on 127.0.0.1 as well.
func (m *Member) OnLoopback() bool {
	ip := net.ParseIP(m.AdvertiseHost())
	return ip != nil && ip.IsLoopback()
}

// LocalClientURL is the loopback client URL that kubeadm adds to every
// member's --listen-client-urls and that kube-apiserver dials on a stacked
// control plane.
func (c *Cluster) LocalClientURL() string { return httpsURL("127.0.0.1", c.ClientPort) }

func httpsURL(host string, port int) string {
	return (&url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port))}).String()
}

// SANs returns the names that the member's server and peer certs carry, in
// kubeadm's order: the member name, localhost, the member's DNS names, the
// extra SANs; then the member's IPs, 127.0.0.1 and ::1. Only this member's
// own addresses appear: a member's cert must not name another member, or a
// leaked key would impersonate it too.
func (c *Cluster) SANs(m *Member) (dns []string, ips []net.IP) {
	seenDNS := map[string]bool{}
	seenIP := map[string]bool{}
	addDNS := func(s string) {
		if s != "" && !seenDNS[s] {
			seenDNS[s] = true
			dns = append(dns, s)
		}
	}
	addIP := func(ip net.IP) {
		if ip != nil && !seenIP[ip.String()] {
			seenIP[ip.String()] = true
			ips = append(ips, ip)
		}
	}
	add := func(s string) {
		if ip := net.ParseIP(s); ip != nil {
			addIP(ip)
		} else {
			addDNS(s)
		}
	}
	addDNS(m.Name)
	addDNS("localhost")
	for _, d := range m.DNSNames {
		addDNS(d)
	}
	for _, ip := range m.IPs {
		add(ip)
	}
	// kube-apiserver and the static pod's health checks dial
	// https://127.0.0.1:2379, and peers on one host may see 127.0.0.1 or
	// ::1 as the remote address; kubeadm always includes both.
	addIP(net.IPv4(127, 0, 0, 1))
	addIP(net.IPv6loopback)
	for _, s := range c.ExtraSANs {
		add(s)
	}
	for _, s := range m.ExtraSANs {
		add(s)
	}
	return dns, ips
}
