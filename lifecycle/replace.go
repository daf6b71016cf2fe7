package lifecycle

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// ReplaceMemberResult says what ReplaceMember and ReplaceMemberFromNodes
// did: the replacement's tree and certificates (AddMemberResult: Spec is
// the cluster with the replacement in the old member's place, its
// --initial-cluster), and what the running cluster knows the old member
// by.
type ReplaceMemberResult struct {
	AddMemberResult
	// OldPeerURL is the peer URL the running cluster has for the member
	// (from the spec or the other members' --initial-cluster); it differs
	// from the replacement's when the node's address changed.
	OldPeerURL string
	// Source is the member whose CA signed the certificates (node trees)
	// or "" (init's output).
	Source string
	// Etcdctl is how to run etcdctl against the cluster from Source's
	// node: its endpoint and client certificate (node paths).
	Etcdctl EtcdctlAccess
}

// EtcdctlAccess is what etcdctl needs to talk to a member: its client URL
// and a client certificate, key and CA of its node (node paths).
type EtcdctlAccess struct {
	Endpoint, CACert, Cert, Key string
}

// ReplaceMember issues a fresh set of certificates for member m of init's
// output directory out, the rebuilt-node case: same name, same or new
// addresses (m's; none given keeps the spec's), new keys, every leaf and
// the CA copy of its tree, from <out>/ca. A changed address goes into the
// spec first (as renew's --add-ip does). The running cluster must then be
// told: remove the old member (its data is gone), add the replacement as
// a learner, start it with --initial-cluster-state=existing and promote
// it ([ReplaceMemberResult] holds the values). The error is a
// *RefusedError for a member the spec does not have, a CA rotation in
// progress, or addresses that clash with another member's.
func ReplaceMember(out string, m spec.Member, opts AddMemberOptions) (*ReplaceMemberResult, error) {
	const op = "replace-member"
	d, err := Open(out)
	if err != nil {
		return nil, err
	}
	old, err := d.member(op, m.Name)
	if err != nil {
		return nil, &RefusedError{Op: op, Detail: err.(*RefusedError).Detail, Hint: "replace-member replaces an existing member; etcdpki add-member adds a new one"}
	}
	oldPeer := d.Spec.PeerURL(old)
	ropts := RenewOptions{Members: []string{m.Name}, Now: opts.Now, missing: true}
	if len(m.IPs)+len(m.DNSNames) > 0 {
		for _, ip := range m.IPs {
			if !containsSAN(old.IPs, ip) {
				ropts.AddIPs = append(ropts.AddIPs, ip)
			}
		}
		for _, ip := range old.IPs {
			if !containsSAN(m.IPs, ip) {
				ropts.RemoveIPs = append(ropts.RemoveIPs, ip)
			}
		}
		for _, n := range m.DNSNames {
			if !containsSAN(old.DNSNames, n) {
				ropts.AddDNSNames = append(ropts.AddDNSNames, n)
			}
		}
		for _, n := range old.DNSNames {
			if !containsSAN(m.DNSNames, n) {
				ropts.RemoveDNSNames = append(ropts.RemoveDNSNames, n)
			}
		}
	}
	rr, err := Renew(out, ropts)
	if err != nil {
		return nil, retitle(err, op)
	}
	d, err = Open(out)
	if err != nil {
		return nil, err
	}
	// The CA copy too: a rebuilt node has none (an unchanged file is left
	// alone).
	_, cs, unlock, err := begin(out, op, opts.Now)
	if err != nil {
		return nil, err
	}
	defer unlock()
	caGroup := []change{}
	caCert, err := layout.ReadFile(filepath.Join(layout.CADir(out), "ca.crt"))
	if err != nil {
		return nil, err
	}
	if !d.Spec.ExternalCA {
		caKey, err := layout.ReadFile(filepath.Join(layout.CADir(out), "ca.key"))
		if err != nil {
			return nil, err
		}
		caGroup = append(caGroup, change{d.KeyPath(m.Name, pki.KindCA), caKey, layout.KeyPerm})
	}
	caGroup = append(caGroup, change{d.CertPath(m.Name, pki.KindCA), caCert, layout.CertPerm})
	if err := cs.apply(caGroup...); err != nil {
		return nil, err
	}
	res := &ReplaceMemberResult{OldPeerURL: oldPeer}
	res.Result = rr.Result
	res.Written = append(res.Written, cs.res.Written...)
	res.Spec, res.Member, res.Root, res.Issued = d.Spec, m.Name, d.MemberRoot(m.Name), rr.Issued
	first := d.Spec.Members[0].Name
	if first == m.Name && len(d.Spec.Members) > 1 {
		first = d.Spec.Members[1].Name
	}
	fm, _ := d.Spec.Member(first)
	res.Etcdctl = EtcdctlAccess{Endpoint: d.Spec.ClientURL(fm), CACert: d.Layout.CertPath(pki.KindCA),
		Cert: d.Layout.CertPath(pki.KindHealthcheckClient), Key: d.Layout.KeyPath(pki.KindHealthcheckClient)}
	res.Source = first
	return res, nil
}

// retitle makes a refusal of the command ReplaceMember runs its own.
func retitle(err error, op string) error {
	if re, ok := err.(*RefusedError); ok {
		c := *re
		c.Op = op
		return &c
	}
	return err
}

// ReplaceMemberFromNodes issues a fresh set of certificates for member m
// from the cluster's CA as the other members' node trees hold it (ms, read
// as check reads them; the first with the CA's key signs), and writes the
// replacement's tree to <out>/<m.Name> in their layout. The cluster's
// members are those of the trees and of their --initial-cluster, so the
// replacement's --initial-cluster names every current member; m's
// addresses, when none are given, are the ones the others know it by.
// Only the kubeadm and etcdadm layouts are written: other distributions
// issue a rebuilt node's certificates themselves when it joins (the
// error, a *RefusedError, names their way).
func ReplaceMemberFromNodes(ms []*member.Member, m spec.Member, out string, opts AddMemberOptions) (*ReplaceMemberResult, error) {
	return fromNodes("replace-member", ms, m, out, opts)
}

// AddMemberFromNodes is add-member on member directories: the new member
// m's certificates from the CA on the first of the members' trees (ms)
// that holds its key, its tree in their layout under <out>/<m.Name>, and
// the cluster (Spec, for --initial-cluster) of every member of the trees
// and of their --initial-cluster. A name the cluster has already is
// refused (a *RefusedError): a rebuilt member is replaced
// ([ReplaceMemberFromNodes]), not added.
func AddMemberFromNodes(ms []*member.Member, m spec.Member, out string, opts AddMemberOptions) (*AddMemberResult, error) {
	res, err := fromNodes("add-member", ms, m, out, opts)
	if err != nil {
		return nil, err
	}
	return &res.AddMemberResult, nil
}

// fromNodes is ReplaceMemberFromNodes and AddMemberFromNodes, op saying
// which.
func fromNodes(op string, ms []*member.Member, m spec.Member, out string, opts AddMemberOptions) (*ReplaceMemberResult, error) {
	var src *member.Member
	var others []*member.Member
	for _, x := range ms {
		if x.Name == m.Name {
			continue // the old member's own tree, if it is still there, is not a source
		}
		others = append(others, x)
		if src == nil && len(nodeCAs(x)) > 0 {
			src = x
		}
	}
	if len(others) == 0 {
		return nil, &RefusedError{Op: op, Detail: "no other member's directory given: the new certificates come from the CA on a running member's node",
			Hint: "etcdpki " + op + " cp1/ --member " + m.Name + " --out join"}
	}
	if src == nil {
		return nil, &RefusedError{Op: op, Detail: "none of the members given holds its CA's key",
			Hint: "give a control-plane node's tree (kubeadm keeps etcd/ca.key there), or have the external CA issue the certificates"}
	}
	d := src.Distribution()
	var pkiNode, layoutName string
	switch d.Name {
	case "kubeadm":
		pkiNode, layoutName = "/etc/kubernetes/pki", spec.LayoutKubeadm
	case "etcdadm":
		pkiNode, layoutName = "/etc/etcd/pki", spec.LayoutEtcd
	default:
		how := d.Renew
		if how == "" {
			how = "the distribution's own join"
		}
		return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("%s writes a rebuilt node's etcd certificates itself when it joins; replace-member writes kubeadm and etcdadm trees", d.Title),
			Hint: how}
	}
	pkiDir, err := src.Input.Disk(pkiNode)
	if err != nil {
		return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s (%s): its %s cannot be read: %v", src.Name, src.Input.Dir, pkiNode, err),
			Hint: "give a control-plane node's root, the tree that holds " + pkiNode}
	}
	c, oldPeer, err := clusterOfNodes(op, others, src, m.Name, layoutName)
	if err != nil {
		return nil, err
	}
	if op == "add-member" {
		if oldPeer != "" || len(others) < len(ms) {
			return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("%s is a member of the cluster already (the others' --initial-cluster has %s)", m.Name, orUnknown(oldPeer)),
				Hint: "a rebuilt node keeps its name and is replaced: etcdpki replace-member with the same directories and --member " + m.Name}
		}
		if len(m.IPs)+len(m.DNSNames) == 0 {
			return nil, &RefusedError{Op: op, Detail: "the new member needs an address", Hint: "--member " + m.Name + "=IP"}
		}
	}
	if len(m.IPs)+len(m.DNSNames) == 0 {
		if oldPeer == "" {
			return nil, &RefusedError{Op: op, Detail: "no member's --initial-cluster names " + m.Name + ", so its address is unknown",
				Hint: "give it: --member " + m.Name + "=IP"}
		}
		u, err := url.Parse(oldPeer)
		if err != nil || u.Hostname() == "" {
			return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("the others' --initial-cluster gives %s the peer URL %q, which has no host", m.Name, oldPeer),
				Hint: "give the address: --member " + m.Name + "=IP"}
		}
		if ip := net.ParseIP(u.Hostname()); ip != nil {
			m.IPs = []string{u.Hostname()}
		} else {
			m.DNSNames = []string{u.Hostname()}
		}
	}
	opts.Cluster = c
	ar, err := AddMemberFromPKI(pkiDir, out, m, opts)
	if err != nil {
		return nil, retitle(err, op)
	}
	res := &ReplaceMemberResult{AddMemberResult: *ar, OldPeerURL: oldPeer, Source: src.Name}
	res.Etcdctl = etcdctlOf(src)
	return res, nil
}

// clusterOfNodes is the running cluster as the members' trees say: each
// member with its serving certificate's non-loopback names, and every
// other member of their --initial-cluster with its peer URL's host; ports,
// algorithm and split credentials from src. It also returns the peer URL
// the others know member replaced by ("" when none names it).
func clusterOfNodes(op string, ms []*member.Member, src *member.Member, replaced, layoutName string) (*spec.Cluster, string, error) {
	c := spec.Cluster{Layout: layoutName}
	if f := src.Files[pki.KindServer]; f != nil && f.Cert() != nil {
		c.Algorithm = algorithmOf(f.Cert().PublicKey)
	}
	_, c.SplitCredentials = src.Files[pki.KindPeerClient]
	if u := firstURL(src.PeerURLs); u != nil && u.Port() != "" {
		fmt.Sscan(u.Port(), &c.PeerPort)
	}
	if u := firstURL(src.ClientURLs); u != nil && u.Port() != "" {
		fmt.Sscan(u.Port(), &c.ClientPort)
	}
	have := map[string]bool{}
	for _, x := range ms {
		sm := spec.Member{Name: x.Name}
		// The member's address is the one it advertises to its peers (its
		// settings); its certificate's names may hold old addresses and
		// VIPs first.
		if x.Settings != nil {
			if pu, err := url.Parse(first(x.Settings.AdvertisePeerURLs)); err == nil && pu.Hostname() != "" {
				if net.ParseIP(pu.Hostname()) != nil {
					sm.IPs = []string{pu.Hostname()}
				} else {
					sm.DNSNames = []string{pu.Hostname()}
				}
			}
		}
		if f := x.Files[pki.KindServer]; len(sm.IPs)+len(sm.DNSNames) == 0 && f != nil && f.Cert() != nil {
			sm.IPs, sm.DNSNames = ownNames(f.Cert(), x.Name)
		}
		if len(sm.IPs)+len(sm.DNSNames) == 0 {
			return nil, "", &RefusedError{Op: op, Detail: "member " + x.Name + " (" + x.Input.Dir + "): its address is unknown: its settings advertise no peer URL and its server certificate names none but loopback",
				Hint: "give that member's etcd settings (--etcd-flags FILE), or leave its directory out"}
		}
		c.Members = append(c.Members, sm)
		have[x.Name] = true
	}
	oldPeer := ""
	for _, x := range ms {
		if x.Settings == nil || x.Settings.InitialCluster == "" {
			continue
		}
		initial, err := member.ParseInitialCluster(x.Settings.InitialCluster)
		if err != nil {
			return nil, "", &RefusedError{Op: op, Detail: fmt.Sprintf("member %s's --initial-cluster (%s): %v", x.Name, x.Settings.Source, err),
				Hint: "etcdpki check " + x.Input.Dir + " says what etcd makes of it"}
		}
		for _, e := range initial {
			u := e.URLs[0]
			if e.Name == replaced {
				if oldPeer == "" {
					oldPeer = u
				}
				continue
			}
			if have[e.Name] {
				continue
			}
			pu, err := url.Parse(u)
			if err != nil || pu.Hostname() == "" {
				continue
			}
			sm := spec.Member{Name: e.Name}
			if net.ParseIP(pu.Hostname()) != nil {
				sm.IPs = []string{pu.Hostname()}
			} else {
				sm.DNSNames = []string{pu.Hostname()}
			}
			c.Members = append(c.Members, sm)
			have[e.Name] = true
		}
	}
	c = c.WithDefaults()
	return &c, oldPeer, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "its own directory"
	}
	return s
}

func firstURL(urls []string) *url.URL {
	for _, s := range urls {
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			return u
		}
	}
	return nil
}

// ownNames are a serving certificate's names but loopback, localhost and
// the member's own name (which spec adds itself).
func ownNames(c *x509.Certificate, name string) (ips, dns []string) {
	for _, ip := range c.IPAddresses {
		if !ip.IsLoopback() {
			ips = append(ips, ip.String())
		}
	}
	for _, n := range c.DNSNames {
		if n != name && n != "localhost" && net.ParseIP(n) == nil {
			dns = append(dns, n)
		}
	}
	return ips, dns
}

// etcdctlOf is how etcdctl reaches the cluster from member x's node: its
// advertised client URL and its healthcheck client (or kube-apiserver's)
// certificate, node paths.
func etcdctlOf(x *member.Member) EtcdctlAccess {
	var a EtcdctlAccess
	if x.Settings != nil && len(x.Settings.AdvertiseClientURLs) > 0 {
		a.Endpoint = x.Settings.AdvertiseClientURLs[0]
	} else if len(x.ClientURLs) > 0 {
		a.Endpoint = x.ClientURLs[0]
	}
	if x.CA != nil {
		a.CACert = x.CA.NodeCertPath
	}
	for _, k := range []pki.Kind{pki.KindHealthcheckClient, pki.KindAPIServerClient} {
		if f := x.Files[k]; f != nil {
			a.Cert, a.Key = f.NodeCertPath, f.NodeKeyPath
			break
		}
	}
	return a
}

// LiveMember is a member as the running cluster lists it.
type LiveMember struct {
	ID        uint64
	Name      string
	PeerURLs  []string
	IsLearner bool
}

// MemberList asks the running cluster, through endpoints, for its members
// (etcdctl member list), with the client certificate certFile/keyFile and
// the CA caFile (files on this machine). timeout bounds the whole call.
func MemberList(ctx context.Context, endpoints []string, caFile, certFile, keyFile string, timeout time.Duration) ([]LiveMember, error) {
	cfg, err := layout.ClientTLSFiles(caFile, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: cfg, DialTimeout: timeout, Logger: zap.NewNop(), Context: ctx})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	r, err := cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcdctl member list through %s: %w", strings.Join(endpoints, ","), err)
	}
	var out []LiveMember
	for _, m := range r.Members {
		out = append(out, LiveMember{ID: m.ID, Name: m.Name, PeerURLs: slices.Clone(m.PeerURLs), IsLearner: m.IsLearner})
	}
	return out, nil
}
