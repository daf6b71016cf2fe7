package lifecycle

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// InitDirOf reports whether dir is one member's tree inside init's output
// directory (<out>/<member>, with <out>/cluster.yaml naming that member),
// and if so returns out and the member's name. Commands given such a tree
// work on init's output, so that its spec and backups stay in one place.
func InitDirOf(dir string) (out, name string, ok bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", false
	}
	out, name = filepath.Dir(abs), filepath.Base(abs)
	if _, err := os.Stat(layout.SpecFile(out)); err != nil {
		return "", "", false
	}
	c, err := spec.Load(layout.SpecFile(out))
	if err != nil {
		return "", "", false
	}
	if _, err := c.Member(name); err != nil {
		return "", "", false
	}
	return filepath.Dir(filepath.Clean(dir)), name, true
}

// nodeLeaf is one leaf file of a member's tree to renew, with every kind
// it fills (kubespray's member-HOST.pem is both server and peer).
type nodeLeaf struct {
	file  *member.File
	kinds []pki.Kind
}

// RenewMember re-issues the leaf certificates of a member read from its
// node's tree (m, from [member.Load] or [member.LoadDirs]: a copy or mount
// of the node's /, or of the directory the distribution keeps its PKI
// in), in place, as kubeadm certs renew does on a kubeadm node but in
// every layout check reads, and without kubeadm's stale names: a renewed
// serving certificate names every address the member's settings listen on
// or advertise today (its manifest, env file or config file) as well as
// every name the old certificate had, with opts' additions and removals.
// The subject is kept, the key usages are the kind's (so a peer certificate
// without clientAuth is repaired), keys are new (of the old key's
// algorithm) unless opts.ReuseKey. Each certificate is signed by the CA
// that signed the one it replaces, from the CA certificate and key on the
// node (the member's trusted CA files and the keys next to them); a leaf
// of a CA whose key is not there is signed by the CA its port trusts, if
// that key is there. opts.Members is ignored: m is the member.
//
// Replaced files keep their mode, owner and group, and are backed up under
// the node's state directory ([NodeStateDir]); the run holds the lock
// there, and first completes what a run killed half way left (the same
// repair as every command). The error is a *RefusedError, with nothing
// written, when a file cannot be renewed here (no CA key on the node, an
// unreadable certificate, a removal that the member's settings still use).
func RenewMember(m *member.Member, opts RenewOptions) (*RenewResult, error) {
	op := "renew"
	if opts.op != "" {
		op = opts.op
	}
	in := m.Input
	cs, unlock, err := beginNode(in.Dir, in.Root, op, opts.Now)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := cs.repair(nodePairs(m), nil); err != nil {
		return nil, err
	}
	if len(cs.res.Repaired) > 0 {
		// The files changed under the member read before: read it again.
		m = member.Load(&member.Input{Dir: in.Dir, Root: in.Root, Distribution: in.Distribution, Spec: in.Spec, SpecMember: in.SpecMember, SettingsFile: in.SettingsFile})
	}
	leaves, err := selectNodeLeaves(op, m, opts.Kinds)
	if err != nil {
		return nil, err
	}
	now := cs.now
	res := &RenewResult{}
	type job struct {
		leaf nodeLeaf
		ca   *pki.CA
		req  pki.Request
		key  bool // reuse the key
		alg  pki.Algorithm
	}
	var jobs []job
	for _, l := range leaves {
		f, kind := l.file, l.kinds[0]
		old := f.Cert()
		if old == nil {
			return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s's %s certificate (%s) cannot be read: %v", m.Name, kind, f.CertPath, f.CertErr),
				Hint: "etcdpki replace-member issues a fresh set of certificates from the cluster's CA"}
		}
		if opts.ReuseKey && (f.Key == nil || !pki.KeyMatches(old.PublicKey, f.Key)) {
			return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s's %s key (%s) cannot be reused: it does not read or does not match its certificate", m.Name, kind, f.KeyPath),
				Hint: "renew without --reuse-key makes a new key"}
		}
		ca := opts.signer
		if ca != nil && pki.SignedBy(old, ca.Cert) == nil {
			for _, k := range l.kinds {
				res.Kept = append(res.Kept, Kept{Member: m.Name, Kind: k, NotAfter: old.NotAfter})
			}
			continue
		}
		if ca == nil {
			if ca, err = nodeIssuer(op, m, old, kind); err != nil {
				return nil, err
			}
		}
		req := pki.Request{Kind: kind, Subject: &old.Subject}
		if carriesSANs(l.kinds) {
			dns, ips, err := nodeSANs(op, m, l.kinds, old, opts)
			if err != nil {
				return nil, err
			}
			req.DNSNames, req.IPs = dns, ips
		}
		changed := !sameSANs(old, req)
		if opts.ExpiringWithin > 0 && !changed && old.NotAfter.After(now.Add(opts.ExpiringWithin)) {
			for _, k := range l.kinds {
				res.Kept = append(res.Kept, Kept{Member: m.Name, Kind: k, NotAfter: old.NotAfter})
			}
			continue
		}
		jobs = append(jobs, job{leaf: l, ca: ca, req: req, key: opts.ReuseKey, alg: algorithmOf(old.PublicKey)})
	}
	for _, j := range jobs {
		f := j.leaf.file
		key := f.Key
		if !j.key {
			if key, err = pki.GenerateKey(j.alg); err != nil {
				return res, err
			}
		}
		cert, err := issuePair(cs, j.ca, j.req, key, !j.key, f.CertPath, f.KeyPath, now)
		if err != nil {
			res.Result = *cs.res
			return res, fmt.Errorf("member %s: %w", m.Name, err)
		}
		old := f.Cert()
		for _, k := range j.leaf.kinds {
			res.Issued = append(res.Issued, Issued{Member: m.Name, Kind: k, Serial: pki.Serial(cert), Fingerprint: pki.Fingerprint(cert),
				OldSerial: pki.Serial(old), OldFingerprint: pki.Fingerprint(old), NotAfter: cert.NotAfter, KeyReused: j.key})
		}
		if res.CA == nil {
			res.CA = j.ca.Cert
		}
	}
	res.Result = *cs.res
	return res, nil
}

// nodePairs are the pairs of a member's tree that repair looks at: every
// leaf and every trusted CA file with the key next to it (kept: a CA key is
// never replaced to finish a write).
func nodePairs(m *member.Member) []layout.Pair {
	var pairs []layout.Pair
	seen := map[string]bool{}
	add := func(p layout.Pair) {
		if p.Cert == "" || p.Key == "" || seen[p.Cert] {
			return
		}
		seen[p.Cert] = true
		pairs = append(pairs, p)
	}
	for _, k := range m.SortedKinds() {
		f := m.Files[k]
		add(layout.Pair{Cert: f.CertPath, Key: f.KeyPath})
	}
	for _, f := range []*member.File{m.CA, m.PeerCA, m.APIServerCA} {
		if f != nil {
			add(layout.Pair{Cert: f.CertPath, Key: member.KeyPathFor(f.CertPath), KeepKey: true})
		}
	}
	return pairs
}

// selectNodeLeaves lists the member's leaf files of the kinds asked for
// (all when empty), each file once with every kind it fills.
func selectNodeLeaves(op string, m *member.Member, kinds []pki.Kind) ([]nodeLeaf, error) {
	have := m.SortedKinds()
	for _, k := range kinds {
		if !slices.Contains(have, k) {
			return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s (%s) has no %s certificate (its leaves: %s)", m.Name, m.Input.Dir, k, joinKinds(have)),
				Hint: "drop --kind " + string(k) + ", or etcdpki replace-member issues a full set"}
		}
	}
	var out []nodeLeaf
	byFile := map[*member.File]int{}
	for _, k := range have {
		if len(kinds) > 0 && !slices.Contains(kinds, k) {
			continue
		}
		f := m.Files[k]
		if f.KeyPath == "" {
			return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s's %s certificate (%s) has no key file beside it in the member's settings (%s)", m.Name, k, f.CertPath, settingsSource(m)),
				Hint: "name the key file in the member's settings (e.g. --key-file, --peer-key-file), then run renew again"}
		}
		if i, ok := byFile[f]; ok {
			out[i].kinds = append(out[i].kinds, k)
			continue
		}
		byFile[f] = len(out)
		out = append(out, nodeLeaf{file: f, kinds: []pki.Kind{k}})
	}
	return out, nil
}

// nodeCAs are the CAs whose certificate and key are both on the member's
// node: each certificate of its trusted CA files (and kube-apiserver's
// --etcd-cafile, and the distribution's SigningCAs) that the key next to
// the file belongs to.
func nodeCAs(m *member.Member) []*pki.CA {
	var cas []*pki.CA
	seen := map[string]bool{}
	files := []*member.File{m.CA, m.PeerCA, m.APIServerCA}
	for _, p := range m.Distribution().SigningCAs {
		if disk, err := m.Input.Disk(p); err == nil {
			if certs, err := layout.ReadCerts(disk); err == nil {
				files = append(files, &member.File{Kind: pki.KindCA, CertPath: disk, NodeCertPath: p, Certs: certs})
			}
		}
	}
	for _, f := range files {
		if f == nil || seen[f.CertPath] {
			continue
		}
		seen[f.CertPath] = true
		key := f.Key
		if key == nil && f.KeyErr == nil {
			// A CA file read without its key (kube-apiserver's
			// --etcd-cafile, a signing CA): the key next to it, resolved
			// inside the member's tree as the member loader does.
			if kp := member.KeyPathFor(f.NodeCertPath); kp != "" {
				if disk, err := m.Input.Disk(kp); err == nil {
					key, _ = layout.ReadKey(disk)
				}
			}
		}
		if key == nil {
			continue
		}
		for _, c := range f.Certs {
			if c.IsCA && pki.KeyMatches(c.PublicKey, key) {
				cas = append(cas, &pki.CA{Cert: c, Key: key})
			}
		}
	}
	return cas
}

// nodeIssuer is the CA on the member's node that renews old, of kind: the
// one that signed it, else the one the kind's port trusts.
func nodeIssuer(op string, m *member.Member, old *x509.Certificate, kind pki.Kind) (*pki.CA, error) {
	cas := nodeCAs(m)
	for _, ca := range cas {
		if pki.SignedBy(old, ca.Cert) == nil {
			return ca, nil
		}
	}
	trusted := m.CA
	if kind.Info().Port == pki.PortPeer {
		trusted = m.PeerCA
	}
	if trusted != nil {
		for _, ca := range cas {
			for _, c := range trusted.Certs {
				if c.Equal(ca.Cert) {
					return ca, nil
				}
			}
		}
	}
	where := "the member's trusted CA files"
	if trusted != nil {
		where = trusted.CertPath
	}
	return nil, &RefusedError{Op: op,
		Detail: fmt.Sprintf("member %s's %s certificate is signed by %q, and neither that CA's key nor the key of the CA in %s is on this node", m.Name, kind, old.Issuer.CommonName, where),
		Hint:   "renew where the CA key is (a kubeadm control-plane node has etcd/ca.key), or have the external CA re-issue the certificate"}
}

// carriesSANs reports whether a file of these kinds names the member
// (server, peer and the split credentials do; the client kinds do not).
func carriesSANs(kinds []pki.Kind) bool {
	return slices.ContainsFunc(kinds, func(k pki.Kind) bool { return k.Info().SANs })
}

// nodeSANs are the names a renewed certificate of kinds carries: every host
// of the member's URLs for the kinds' ports (listen and advertise, minus
// wildcard addresses), every name of the old certificate, opts' additions,
// minus opts' removals. A removal of a name the settings still use is
// refused: the member would serve a certificate that does not name it.
func nodeSANs(op string, m *member.Member, kinds []pki.Kind, old *x509.Certificate, opts RenewOptions) ([]string, []net.IP, error) {
	var names []string
	add := func(s string) {
		if s != "" && !containsSAN(names, s) {
			names = append(names, s)
		}
	}
	for _, n := range old.DNSNames {
		add(n)
	}
	for _, ip := range old.IPAddresses {
		add(ip.String())
	}
	used := map[string]string{} // name → the URL that uses it
	for _, u := range urlsOf(m, kinds) {
		pu, err := url.Parse(u)
		if err != nil || pu.Hostname() == "" {
			continue
		}
		h := pu.Hostname()
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			continue // 0.0.0.0 and [::] listen everywhere; no certificate names them
		}
		if _, ok := used[strings.ToLower(h)]; !ok {
			used[strings.ToLower(h)] = u
		}
		add(h)
	}
	for _, s := range slices.Concat(opts.AddIPs, opts.AddDNSNames) {
		add(s)
	}
	for _, s := range slices.Concat(opts.RemoveIPs, opts.RemoveDNSNames) {
		if !containsSAN(names, s) {
			return nil, nil, &RefusedError{Op: op, Detail: fmt.Sprintf("%s is not one of the names of member %s's %s certificate (%s)", s, m.Name, kinds[0], strings.Join(names, ", "))}
		}
		for h, u := range used {
			if sanEqual(h, s) {
				return nil, nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s still uses %s (%s, from its %s)", m.Name, s, u, m.NameFrom),
					Hint: "change the member's settings first: a certificate without it would be refused by every client that dials it"}
			}
		}
		names = slices.DeleteFunc(names, func(x string) bool { return sanEqual(x, s) })
	}
	var dns []string
	var ips []net.IP
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, n)
		}
	}
	return dns, ips, nil
}

// urlsOf are the member's URLs of the ports kinds are used on.
func urlsOf(m *member.Member, kinds []pki.Kind) []string {
	var urls []string
	client, peer := false, false
	for _, k := range kinds {
		switch k.Info().Port {
		case pki.PortPeer:
			peer = true
		case pki.PortClient:
			client = true
		}
	}
	if client {
		urls = append(urls, m.ClientURLs...)
	}
	if peer {
		urls = append(urls, m.PeerURLs...)
	}
	return urls
}

// settingsSource names where the member's settings were read from.
func settingsSource(m *member.Member) string {
	if m.Settings != nil && m.Settings.Source != "" {
		return m.Settings.Source
	}
	return "its layout's defaults"
}
