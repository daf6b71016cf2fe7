package spec_test

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/spec"
)

func TestSANs(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		member   string
		wantDNS  []string
		wantIPs  []string
		excluded []string // names that must not appear
	}{
		{
			name:    "IP only",
			yaml:    "members: [{name: cp1, ips: [10.0.0.11]}, {name: cp2, ips: [10.0.0.12]}]",
			member:  "cp1",
			wantDNS: []string{"cp1", "localhost"},
			wantIPs: []string{"10.0.0.11", "127.0.0.1", "::1"},
		},
		{
			name: "all kinds of names",
			yaml: `
extraSANs: [etcd.example.com, 192.0.2.10]
members:
- {name: cp1, ips: [10.0.0.11]}
- {name: cp2, ips: [10.0.0.12, "fd00::12"], dnsNames: [cp2.example.com], extraSANs: [cp2.lb.example.com, 192.0.2.12]}`,
			member:  "cp2",
			wantDNS: []string{"cp2", "localhost", "cp2.example.com", "etcd.example.com", "cp2.lb.example.com"},
			wantIPs: []string{"10.0.0.12", "fd00::12", "127.0.0.1", "::1", "192.0.2.10", "192.0.2.12"},
		},
		{
			name: "deduplicated",
			yaml: `
extraSANs: [localhost, 127.0.0.1, "0:0:0:0:0:0:0:1", cp1]
members:
- {name: cp1, ips: [10.0.0.11], dnsNames: [cp1], extraSANs: [10.0.0.11, "::ffff:10.0.0.11"]}`,
			member:  "cp1",
			wantDNS: []string{"cp1", "localhost"},
			wantIPs: []string{"10.0.0.11", "127.0.0.1", "::1"},
		},
		{
			// kubeadm gives every member localhost, 127.0.0.1 and ::1:
			// on one host, peers see each other as 127.0.0.1.
			name:     "loopback cluster",
			yaml:     "members: [{name: etcd-1, ips: [127.0.0.1]}, {name: etcd-2, ips: [127.0.0.2]}, {name: etcd-3, ips: [127.0.0.3]}]",
			member:   "etcd-2",
			wantDNS:  []string{"etcd-2", "localhost"},
			wantIPs:  []string{"127.0.0.2", "127.0.0.1", "::1"},
			excluded: []string{"127.0.0.3", "etcd-1", "etcd-3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := spec.Parse([]byte(tt.yaml), "x.yaml")
			if err != nil {
				t.Fatal(err)
			}
			m, err := c.Member(tt.member)
			if err != nil {
				t.Fatal(err)
			}
			dns, ips := c.SANs(m)
			if !slices.Equal(dns, tt.wantDNS) {
				t.Errorf("DNS SANs = %q, want %q", dns, tt.wantDNS)
			}
			if got := ipStrings(ips); !slices.Equal(got, tt.wantIPs) {
				t.Errorf("IP SANs = %q, want %q", got, tt.wantIPs)
			}
			for _, x := range tt.excluded {
				if slices.Contains(dns, x) || slices.Contains(ipStrings(ips), x) {
					t.Errorf("SANs name %s", x)
				}
			}
		})
	}
}

// A member's certs never name another member: one member's leaked key must
// not impersonate the others (DESIGN: the point of R3).
func TestSANsNeverNameOtherMembers(t *testing.T) {
	c, err := spec.Parse([]byte(`
extraSANs: [etcd.example.com]
members:
- {name: cp1, ips: [10.0.0.11, "fd00::11"], dnsNames: [cp1.example.com], extraSANs: [cp1.lb.example.com]}
- {name: cp2, ips: [10.0.0.12], dnsNames: [cp2.example.com]}
- {name: cp3, dnsNames: [cp3.example.com, cp3.internal]}
`), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Members {
		m := &c.Members[i]
		dns, ips := c.SANs(m)
		own := append(ipStrings(ips), dns...)
		for j, o := range c.Members {
			if i == j {
				continue
			}
			for _, addr := range slices.Concat([]string{o.Name}, o.IPs, o.DNSNames, o.ExtraSANs) {
				if slices.Contains(own, canonical(addr)) {
					t.Errorf("%s's SANs %q name %s's address %s", m.Name, own, o.Name, addr)
				}
			}
		}
		// And they do name all of the member's own.
		for _, addr := range slices.Concat([]string{m.Name}, m.IPs, m.DNSNames, m.ExtraSANs) {
			if !slices.Contains(own, canonical(addr)) {
				t.Errorf("%s's SANs %q lack its own %s", m.Name, own, addr)
			}
		}
	}
}

func ipStrings(ips []net.IP) []string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return s
}

func canonical(addr string) string {
	if ip := net.ParseIP(addr); ip != nil {
		return ip.String()
	}
	return addr
}

func TestURLs(t *testing.T) {
	c, err := spec.Parse([]byte(`
clientPort: 12379
peerPort: 12380
members:
- {name: cp1, ips: [10.0.0.11, 10.0.1.11], dnsNames: [cp1.example.com]}
- {name: cp2, ips: ["fd00::12"]}
- {name: cp3, dnsNames: [cp3.example.com]}
- {name: etcd-4, ips: [127.0.0.4]}
`), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		member, host, client, peer string
		loopback                   bool
	}{
		{"cp1", "10.0.0.11", "https://10.0.0.11:12379", "https://10.0.0.11:12380", false},
		{"cp2", "fd00::12", "https://[fd00::12]:12379", "https://[fd00::12]:12380", false},
		{"cp3", "cp3.example.com", "https://cp3.example.com:12379", "https://cp3.example.com:12380", false},
		{"etcd-4", "127.0.0.4", "https://127.0.0.4:12379", "https://127.0.0.4:12380", true},
	}
	for _, tt := range tests {
		m, err := c.Member(tt.member)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.AdvertiseHost(); got != tt.host {
			t.Errorf("%s: AdvertiseHost = %q, want %q", tt.member, got, tt.host)
		}
		if got := c.ClientURL(m); got != tt.client {
			t.Errorf("%s: ClientURL = %q, want %q", tt.member, got, tt.client)
		}
		if got := c.PeerURL(m); got != tt.peer {
			t.Errorf("%s: PeerURL = %q, want %q", tt.member, got, tt.peer)
		}
		if got := m.OnLoopback(); got != tt.loopback {
			t.Errorf("%s: OnLoopback = %v, want %v", tt.member, got, tt.loopback)
		}
	}
	if got := c.LocalClientURL(); got != "https://127.0.0.1:12379" {
		t.Errorf("LocalClientURL = %q", got)
	}
	if _, err := c.Member("cp9"); err == nil || !strings.Contains(err.Error(), "cp1, cp2, cp3, etcd-4") {
		t.Errorf("Member(cp9) error %v, want one listing the members", err)
	}
}
