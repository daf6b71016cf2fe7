package demo

import (
	"crypto"
	"fmt"
	"net"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Fault is one way to break a cluster's PKI, with what each tool is
// expected to say about it. The expectations are what the fault-matrix
// tests hold real etcd, check and probe to, in a loopback cluster and in
// hosts mode.
type Fault struct {
	// Name is the --violate value.
	Name string
	// Summary says in one line what is broken.
	Summary string
	// Member is the member that is broken ("" for all or none).
	Member string
	// Check are the rule IDs check reports, sorted: it reads the files,
	// which break the same way in either mode.
	Check []audit.RuleID
	// Expect is what a loopback cluster shows (members on 127.0.0.1-3,
	// in-process).
	Expect
	// Hosts is what hosts mode shows (each member in its own network
	// namespace, a separate etcd process) when that differs from Expect;
	// nil when it shows the same.
	Hosts *Expect

	// apply breaks the files after init; configure breaks the flags.
	apply     func(e *env) error
	configure func(rc *render.Config)
}

// Expect is what the tools and etcd show of a fault in one mode.
type Expect struct {
	// Probe are the rule IDs probe reports, sorted.
	Probe []audit.RuleID
	// Forms says whether a quorum of members becomes ready; Serves whether
	// a client can write and read through every member; GatewayFails
	// whether etcd's HTTP/JSON API fails on some member.
	Forms, Serves, GatewayFails bool
	// LocalFails says whether a client on some ready member's own host
	// fails to write and read through https://127.0.0.1:2379, as
	// kube-apiserver on a stacked control plane dials it. Hosts mode only:
	// in a loopback cluster 127.0.0.1 is etcd-1's, not each member's.
	LocalFails bool
	// Etcd is a text etcd logs (or returns to a client) because of the
	// fault; empty when etcd has nothing to say.
	Etcd string
	// Note says what this mode shows, or cannot show, beyond the rest.
	Note string
}

// Expected is what the fault shows in hosts mode (hosts) or in a loopback
// cluster.
func (f *Fault) Expected(hosts bool) Expect {
	if hosts && f.Hosts != nil {
		return *f.Hosts
	}
	return f.Expect
}

// env is what a fault's apply works on: init's output and its CA.
type env struct {
	out  string
	spec *spec.Cluster
	ca   *pki.CA
	now  time.Time
}

// Faults lists every fault demo knows, in the order --list shows them.
// The member broken is etcd-3 or etcd-2 of a 3-member cluster (127.0.0.1-3,
// or 198.18.0.1-3 in hosts mode), so a quorum of two healthy members
// remains.
var Faults = []Fault{
	{
		Name: "r1-peer-ca", Summary: "etcd-3's peer.crt is signed by another CA than its ca.crt (R1)", Member: "etcd-3",
		Check: []audit.RuleID{audit.RulePeerCA},
		Expect: Expect{Probe: []audit.RuleID{audit.RuleProbeUnreachable, audit.RulePeerCA},
			Forms: true, Serves: false, Etcd: "certificate signed by unknown authority"},
		apply: func(e *env) error {
			foreign, err := newCA("foreign-ca", e.now)
			if err != nil {
				return err
			}
			return e.reissue("etcd-3", pki.KindPeer, foreign, nil)
		},
	},
	{
		Name: "r2-own-ca", Summary: "etcd-3 has a CA of its own, with all its leaves signed by it (R2)", Member: "etcd-3",
		Check: []audit.RuleID{audit.RuleCAMismatch},
		Expect: Expect{Probe: []audit.RuleID{audit.RuleProbeClientRefused, audit.RuleProbeUnreachable, audit.RuleCAMismatch},
			Forms: true, Serves: false, Etcd: "certificate signed by unknown authority"},
		apply: func(e *env) error {
			own, err := newCA(pki.CACommonName, e.now)
			if err != nil {
				return err
			}
			for _, k := range pki.LeafKinds(e.spec.SplitCredentials) {
				if err := e.reissue("etcd-3", k, own, nil); err != nil {
					return err
				}
			}
			return e.writeCA("etcd-3", own)
		},
	},
	{
		Name: "r4-server-ip", Summary: "etcd-2's server.crt does not name etcd-2's own IP (R4)", Member: "etcd-2",
		Check: []audit.RuleID{audit.RuleServerSAN},
		Expect: Expect{Probe: []audit.RuleID{audit.RuleServerSAN},
			Forms: true, Serves: false, Etcd: "x509: certificate is valid for"},
		apply: func(e *env) error {
			return e.reissue("etcd-2", pki.KindServer, e.ca, func(r *pki.Request) { r.IPs = without(r.IPs, e.ip("etcd-2")) })
		},
	},
	{
		Name: "r4-server-loopback", Summary: "etcd-2's server.crt does not name 127.0.0.1 or ::1 (R4)", Member: "etcd-2",
		Check: []audit.RuleID{audit.RuleServerLoopback},
		Expect: Expect{Probe: nil, Forms: true, Serves: true,
			Note: "on one host nothing dials etcd-2 at 127.0.0.1 (that address is etcd-1's), so nothing fails; on a real node kube-apiserver and the health checks do, which hosts mode shows"},
		Hosts: &Expect{Probe: nil, Forms: true, Serves: true, LocalFails: true, Etcd: "not 127.0.0.1",
			Note: "a client on etcd-2's own host dialing https://127.0.0.1:2379, as kube-apiserver there does, fails with \"x509: certificate is valid for <etcd-2's IP>, not 127.0.0.1\", and etcd-2 logs the rejection as \"remote error: tls: bad certificate\"; clients through the bridge, and probe, which dials the advertised addresses, see nothing wrong"},
		apply: func(e *env) error {
			return e.reissue("etcd-2", pki.KindServer, e.ca, func(r *pki.Request) { r.IPs = without(r.IPs, "127.0.0.1", "::1") })
		},
	},
	{
		Name: "r4-peer-address", Summary: "etcd-2's peer.crt does not name etcd-2's own IP (R4)", Member: "etcd-2",
		Check: []audit.RuleID{audit.RulePeerSAN},
		Expect: Expect{Probe: []audit.RuleID{audit.RulePeerSAN},
			Forms: true, Serves: true, Etcd: "x509: certificate is valid for",
			Note: "members dial etcd-2 at 127.0.0.2 and fail to verify its peer cert; but etcd-2's own connections leave from 127.0.0.1, which its cert names, so the accepting side's check of its credential passes and raft runs over them; hosts mode shows that rejection too"},
		Hosts: &Expect{Probe: []audit.RuleID{audit.RuleProbeUnreachable, audit.RulePeerSAN},
			Forms: true, Serves: false, Etcd: "does not match any of DNSNames",
			Note: "etcd-2's connections leave from its own address, and etcd-1 and etcd-3 reject its credential against that remote address: etcd's checkSAN finds the address in no IP SAN, and neither a reverse lookup of it nor a lookup of the DNS SANs matches (the namespaces reach no DNS server), so they log \"rejected connection on peer endpoint\" with tls: \"<etcd-2's IP>\" does not match any of DNSNames [\"etcd-2\" \"localhost\"]. As they cannot verify etcd-2's peer cert either, etcd-2 is cut off both ways and never becomes ready, while the other two keep quorum and serve"},
		apply: func(e *env) error {
			return e.reissue("etcd-2", pki.KindPeer, e.ca, func(r *pki.Request) { r.IPs = without(r.IPs, e.ip("etcd-2")) })
		},
	},
	{
		Name: "peer-no-clientauth", Summary: "etcd-3's peer.crt allows serverAuth only, and no separate peer client cert is set", Member: "etcd-3",
		Check: []audit.RuleID{audit.RuleEKUPeerClient},
		Expect: Expect{Probe: nil, Forms: true, Serves: true, Etcd: "incompatible key usage",
			Note: "etcd-3 still joins: the other members refuse the connections etcd-3 opens, but raft also runs over the connections they open to etcd-3, so messages flow both ways; the rejections fill the logs and any path that needs etcd-3 to dial fails"},
		apply: func(e *env) error {
			return e.reissue("etcd-3", pki.KindPeer, e.ca, func(r *pki.Request) { r.Split = true })
		},
	},
	{
		Name: "peer-no-serverauth", Summary: "etcd-3's peer.crt allows clientAuth only", Member: "etcd-3",
		Check: []audit.RuleID{audit.RuleEKUPeerServer},
		Expect: Expect{Probe: []audit.RuleID{audit.RuleEKUPeerServer}, Forms: true, Serves: true, Etcd: "incompatible key usage",
			Note: "etcd-3 still joins: nobody can dial it, but raft also runs over the connections etcd-3 opens to the others, so messages flow both ways; the rejections fill the logs"},
		apply: func(e *env) error {
			// A peer-client profile is clientAuth only, with the peer's SANs.
			return e.reissue("etcd-3", pki.KindPeer, e.ca, func(r *pki.Request) { r.Kind = pki.KindPeerClient })
		},
	},
	{
		Name: "server-no-clientauth", Summary: "etcd-2's server.crt allows serverAuth only, and no --client-cert-file is set (grpc-gateway)", Member: "etcd-2",
		Check:  []audit.RuleID{audit.RuleEKUServerGateway},
		Expect: Expect{Probe: nil, Forms: true, Serves: true, GatewayFails: true, Etcd: "incompatible key usage"},
		apply: func(e *env) error {
			return e.reissue("etcd-2", pki.KindServer, e.ca, func(r *pki.Request) { r.Split = true })
		},
	},
	{
		Name: "expired-peer", Summary: "etcd-3's peer.crt expired a year ago", Member: "etcd-3",
		Check: []audit.RuleID{audit.RuleExpired},
		Expect: Expect{Probe: []audit.RuleID{audit.RuleProbeUnreachable, audit.RuleExpired},
			Forms: true, Serves: false, Etcd: "certificate has expired or is not yet valid"},
		apply: func(e *env) error {
			old := *e
			old.now = e.now.Add(-2 * 365 * 24 * time.Hour)
			return old.reissue("etcd-3", pki.KindPeer, e.ca, nil)
		},
	},
	{
		Name: "client-cert-auth-off", Summary: "etcd-2 runs with --client-cert-auth=false and no --trusted-ca-file", Member: "etcd-2",
		Check:  []audit.RuleID{audit.RuleClientCertAuth, audit.RuleTrustedCA},
		Expect: Expect{Probe: []audit.RuleID{audit.RuleProbeForeignCA, audit.RuleProbeNoClientAuth}, Forms: true, Serves: true},
		configure: func(rc *render.Config) {
			if rc.Name == "etcd-2" {
				rc.ClientCertAuth = false
				rc.TrustedCAFile = ""
			}
		},
	},
	{
		Name: "shared-leaf", Summary: "every member has the same server and peer key pair, naming all members (R3)", Member: "",
		Check:  []audit.RuleID{audit.RuleSharedLeaf},
		Expect: Expect{Probe: []audit.RuleID{audit.RuleSharedLeaf}, Forms: true, Serves: true},
		apply: func(e *env) error {
			var all []net.IP
			for _, m := range e.spec.Members {
				for _, ip := range m.IPs {
					all = append(all, net.ParseIP(ip))
				}
			}
			for _, kind := range []pki.Kind{pki.KindServer, pki.KindPeer} {
				key, err := pki.GenerateKey(e.spec.Algorithm)
				if err != nil {
					return err
				}
				for _, m := range e.spec.Members {
					if err := e.reissueWith(m.Name, kind, e.ca, key, func(r *pki.Request) {
						r.CommonName = "etcd-shared"
						r.DNSNames = []string{"localhost"}
						// 127.0.0.1 is etcd-1's own address in a loopback
						// cluster, and in hosts mode every member's own.
						r.IPs = append(without(all, "127.0.0.1"), net.IPv4(127, 0, 0, 1), net.IPv6loopback)
					}); err != nil {
						return err
					}
				}
			}
			return nil
		},
	},
}

// LookupFault returns the fault called name.
func LookupFault(name string) (*Fault, error) {
	for i := range Faults {
		if Faults[i].Name == name {
			return &Faults[i], nil
		}
	}
	return nil, fmt.Errorf("unknown fault %q (etcdpki demo --list shows them)", name)
}

func newCA(cn string, now time.Time) (*pki.CA, error) {
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return nil, err
	}
	return pki.NewCA(key, cn, 0, now)
}

// reissue replaces member's cert and key of kind with a new pair signed by
// ca, from the profile init uses, adjusted by tweak.
func (e *env) reissue(member string, kind pki.Kind, ca *pki.CA, tweak func(*pki.Request)) error {
	key, err := pki.GenerateKey(e.spec.Algorithm)
	if err != nil {
		return err
	}
	return e.reissueWith(member, kind, ca, key, tweak)
}

func (e *env) reissueWith(member string, kind pki.Kind, ca *pki.CA, key crypto.Signer, tweak func(*pki.Request)) error {
	m, err := e.spec.Member(member)
	if err != nil {
		return err
	}
	req := pki.Request{Kind: kind, CommonName: m.Name, Validity: time.Duration(e.spec.CertValidity)}
	if kind != pki.KindHealthcheckClient && kind != pki.KindAPIServerClient {
		req.DNSNames, req.IPs = e.spec.SANs(m)
	}
	if tweak != nil {
		tweak(&req)
	}
	kp, err := ca.IssueKeyPair(req, key, e.now)
	if err != nil {
		return err
	}
	keyPEM, err := pki.EncodeKey(kp.Key)
	if err != nil {
		return err
	}
	l, _ := layout.ForName(e.spec.Layout)
	root := layout.MemberDir(e.out, member)
	if err := layout.WriteFile(layout.OnDisk(root, l.KeyPath(kind)), keyPEM, layout.KeyPerm); err != nil {
		return err
	}
	return layout.WriteFile(layout.OnDisk(root, l.CertPath(kind)), pki.EncodeCert(kp.Cert), layout.CertPerm)
}

// writeCA replaces member's ca.crt and ca.key.
func (e *env) writeCA(member string, ca *pki.CA) error {
	keyPEM, err := pki.EncodeKey(ca.Key)
	if err != nil {
		return err
	}
	l, _ := layout.ForName(e.spec.Layout)
	root := layout.MemberDir(e.out, member)
	if err := layout.WriteFile(layout.OnDisk(root, l.KeyPath(pki.KindCA)), keyPEM, layout.KeyPerm); err != nil {
		return err
	}
	return layout.WriteFile(layout.OnDisk(root, l.CertPath(pki.KindCA)), pki.EncodeCert(ca.Cert), layout.CertPerm)
}

// ip is member's own (first) address.
func (e *env) ip(member string) string {
	m, err := e.spec.Member(member)
	if err != nil || len(m.IPs) == 0 {
		return ""
	}
	return m.IPs[0]
}

func without(ips []net.IP, drop ...string) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		keep := true
		for _, d := range drop {
			if ip.Equal(net.ParseIP(d)) {
				keep = false
			}
		}
		if keep {
			out = append(out, ip)
		}
	}
	return out
}
