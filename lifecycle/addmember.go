package lifecycle

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// AddMemberOptions tune AddMember and AddMemberFromPKI.
type AddMemberOptions struct {
	// Cluster is the running cluster's spec, for AddMemberFromPKI: its
	// members are checked for clashes with the new one, and it gives the
	// layout, ports, validity and split-credentials setting. Nil means the
	// node's own member, read from its server certificate, with defaults.
	Cluster *spec.Cluster
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

// AddMemberResult says what AddMember did.
type AddMemberResult struct {
	Result
	// Spec is the cluster with the new member, as etcd must be told
	// (--initial-cluster lists every member, the new one included).
	Spec *spec.Cluster
	// Member is the new member's name; Root its tree, to be copied to its
	// node's /.
	Member string
	Root   string
	Issued []Issued
	// AlreadyAdded is true when the member had been added already, with
	// the same addresses, and its tree holds what add-member writes (see
	// [AddMember]): nothing was written, and Spec is the cluster as it is.
	AlreadyAdded bool
}

// AddMember issues the certificates of a new member m from the existing CA
// of the PKI directory out (init's output), writes its tree to
// <out>/<m.Name> and adds it to <out>/cluster.yaml. A name or address that
// clashes with a member's is refused with the spec's validation error,
// which names the field, and nothing is written. The member tree is
// written before the spec, so a run interrupted before the end is simply
// run again (it re-issues the tree, backing up what the first run wrote).
//
// A completed run run again, for a member that the spec has with the same
// addresses and whose tree holds the CA's certificate (and key, unless the
// CA is external) and leaves signed by the CA with the member's SANs, writes
// nothing and returns a result with AlreadyAdded set, which holds all the
// caller needs to print the join instructions again. When the member's
// files are not all that, the error is a [*RefusedError] and nothing is
// written.
func AddMember(out string, m spec.Member, opts AddMemberOptions) (*AddMemberResult, error) {
	const op = "add-member"
	// Validate before the name is used as a path (begin repairs the new
	// member's tree): a valid member name is a DNS name, never "../x".
	d, err := Open(out)
	if err != nil {
		return nil, err
	}
	// A member the spec has already, with these addresses, is a completed
	// run run again (addedAlready); any other clash is refused here.
	if !d.hasMember(m) {
		if _, err := withMember(d.Spec, m); err != nil {
			return nil, err
		}
	}
	d, cs, unlock, err := begin(out, op, opts.Now, m.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := d.refuseDuringRotation(op); err != nil {
		return nil, err
	}
	if d.hasMember(m) {
		return d.addedAlready(op, cs, m.Name)
	}
	c, err := withMember(d.Spec, m)
	if err != nil {
		return nil, err
	}
	caCert, err := layout.ReadFile(filepath.Join(layout.CADir(out), "ca.crt"))
	if err != nil {
		return nil, err
	}
	ca, err := d.CA()
	if err != nil {
		return nil, err
	}
	var caKey []byte
	if !c.ExternalCA {
		// Each member holds the CA key too, as kubeadm HA does (a
		// control-plane node can then sign its own leaves); the bytes are
		// copied as they are.
		if caKey, err = layout.ReadFile(filepath.Join(layout.CADir(out), "ca.key")); err != nil {
			return nil, err
		}
	}
	d.Spec = c
	res := &AddMemberResult{Spec: c, Member: m.Name, Root: d.MemberRoot(m.Name)}
	res.Issued, err = writeMember(cs, d.Layout, c, res.Root, ca, caCert, caKey, cs.now)
	if err != nil {
		res.Result = *cs.res
		return res, err
	}
	data, err := spec.Marshal(c)
	if err != nil {
		return nil, err
	}
	err = cs.apply(change1(layout.SpecFile(out), data))
	res.Result = *cs.res
	return res, err
}

// hasMember reports whether the spec has a member called m.Name with m's
// addresses, in the same order (the first is the advertised one).
func (d *Dir) hasMember(m spec.Member) bool {
	prev, err := d.Spec.Member(m.Name)
	if err != nil {
		return false
	}
	same := func(a, b []string) bool { return slices.EqualFunc(a, b, sanEqual) }
	return same(prev.IPs, m.IPs) && same(prev.DNSNames, m.DNSNames) && same(prev.ExtraSANs, m.ExtraSANs)
}

// addedAlready is AddMember run again for member name, which the spec has
// with the same addresses: it succeeds, writing nothing, if the member's
// tree is what add-member writes.
func (d *Dir) addedAlready(op string, cs *changeSet, name string) (*AddMemberResult, error) {
	ca, err := d.CA()
	if err != nil {
		return nil, err
	}
	m, _ := d.Spec.Member(name)
	root := d.MemberRoot(name)
	if err := checkMemberTree(d.Layout, d.Spec, m, root, ca.Cert, !d.Spec.ExternalCA); err != nil {
		return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s is in %s already, with these addresses, but its files are not the ones add-member writes: %v", name, layout.SpecFile(d.Path), err),
			Hint: "etcdpki check " + d.Path + " says what is wrong; etcdpki renew --dir " + d.Path + " --member " + name + " issues its certificates again"}
	}
	return &AddMemberResult{Result: *cs.res, Spec: d.Spec, Member: name, Root: root, AlreadyAdded: true}, nil
}

// checkMemberTree checks the tree of member m of c under root (layout l)
// against what writeMember writes there: ca.crt is the CA's certificate
// ca alone, ca.key (withKey) its key, and every leaf is signed by ca, with
// its key and the SANs layout.LeafRequest gives it. It returns the first
// difference.
func checkMemberTree(l *layout.Layout, c *spec.Cluster, m *spec.Member, root string, ca *x509.Certificate, withKey bool) error {
	caPath := layout.OnDisk(root, l.CertPath(pki.KindCA))
	trust, err := layout.ReadCerts(caPath)
	if err != nil {
		return err
	}
	if len(trust) != 1 || !trust[0].Equal(ca) {
		return &layout.FileError{Path: caPath, Err: errors.New("is not the CA's certificate alone")}
	}
	if withKey {
		if _, err := layout.ReadKeyPair(caPath, layout.OnDisk(root, l.KeyPath(pki.KindCA))); err != nil {
			return err
		}
	}
	for _, kind := range pki.LeafKinds(c.SplitCredentials) {
		certPath := layout.OnDisk(root, l.CertPath(kind))
		kp, err := layout.ReadKeyPair(certPath, layout.OnDisk(root, l.KeyPath(kind)))
		if err != nil {
			return err
		}
		if err := pki.SignedBy(kp.Cert, ca); err != nil {
			return &layout.FileError{Path: certPath, Err: fmt.Errorf("is not signed by the CA: %w", err)}
		}
		if !sameSANs(kp.Cert, layout.LeafRequest(c, m, kind)) {
			return &layout.FileError{Path: certPath, Err: errors.New("does not name the member's addresses")}
		}
	}
	return nil
}

// sameSANs reports whether cert carries exactly the SANs of req, in any
// order. (The common name says nothing more: server and peer certificates
// carry the member's name, the client kinds kubeadm's fixed ones.)
func sameSANs(cert *x509.Certificate, req pki.Request) bool {
	covers := func(a, b []string) bool {
		for _, x := range a {
			if !containsSAN(b, x) {
				return false
			}
		}
		return true
	}
	var certIPs, reqIPs []string
	for _, ip := range cert.IPAddresses {
		certIPs = append(certIPs, ip.String())
	}
	for _, ip := range req.IPs {
		reqIPs = append(reqIPs, ip.String())
	}
	return covers(cert.DNSNames, req.DNSNames) && covers(req.DNSNames, cert.DNSNames) &&
		covers(certIPs, reqIPs) && covers(reqIPs, certIPs)
}

// withMember returns a copy of c with m added, validated.
func withMember(c *spec.Cluster, m spec.Member) (*spec.Cluster, error) {
	n := *c
	n.Members = append(slices.Clone(c.Members), m)
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return &n, nil
}

// writeMember writes the tree of the last member of c under root: its
// copy of the CA (caCert and, unless empty, caKey, as read from the CA's
// files) and every leaf, issued by ca.
func writeMember(cs *changeSet, l *layout.Layout, c *spec.Cluster, root string, ca *pki.CA, caCert, caKey []byte, now time.Time) ([]Issued, error) {
	m := &c.Members[len(c.Members)-1]
	// The tree's directories above the PKI directory are the node's (as
	// init makes them), so copying the tree keeps the node's modes.
	if err := layout.NodeDirs(root, l.PKIDir); err != nil {
		return nil, err
	}
	caGroup := []change{{layout.OnDisk(root, l.CertPath(pki.KindCA)), caCert, layout.CertPerm}}
	if len(caKey) > 0 {
		caGroup = append([]change{{layout.OnDisk(root, l.KeyPath(pki.KindCA)), caKey, layout.KeyPerm}}, caGroup...)
	}
	if err := cs.apply(caGroup...); err != nil {
		return nil, err
	}
	var jobs []leafJob
	for _, kind := range pki.LeafKinds(c.SplitCredentials) {
		j := leafJob{member: m, kind: kind, cert: layout.OnDisk(root, l.CertPath(kind)), key: layout.OnDisk(root, l.KeyPath(kind))}
		if old, err := layout.ReadCert(j.cert); err == nil {
			j.old = old
		}
		jobs = append(jobs, j)
	}
	return issueLeaves(cs, c, ca, jobs, now)
}

// AddMemberFromPKI issues the certificates of a new member m from the CA
// in an existing member's PKI directory (a node's /etc/kubernetes/pki, with
// etcd/ca.crt and etcd/ca.key, or an etcd-layout /etc/etcd/pki), the
// kubeadm join case, and writes the member's tree to <out>/<m.Name>. The
// new member is checked against opts.Cluster, or else against the node's
// own member as its server certificate names it. It refuses to overwrite
// anything: a second run stops at the files of the first, unless they are
// what it would write (the CA's files, leaves signed by it with m's names),
// when it writes nothing and returns a result with AlreadyAdded set.
func AddMemberFromPKI(pkiDir, out string, m spec.Member, opts AddMemberOptions) (*AddMemberResult, error) {
	const op = "add-member"
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	l, err := detectLayout(pkiDir)
	if err != nil {
		return nil, err
	}
	inPKI := func(nodePath string) string {
		return filepath.Join(pkiDir, filepath.FromSlash(strings.TrimPrefix(nodePath, l.PKIDir+"/")))
	}
	caCertPath, caKeyPath := inPKI(l.CertPath(pki.KindCA)), inPKI(l.KeyPath(pki.KindCA))
	if !exists(caKeyPath) {
		return nil, &RefusedError{Op: op, Detail: caKeyPath + " is missing: the CA key is needed to sign the new member's certificates",
			Hint: "kubeadm keeps etcd/ca.key on every control-plane node; with an external CA, run this where the CA key is"}
	}
	ca, err := readCA(filepath.Dir(caCertPath))
	if err != nil {
		return nil, err
	}
	c := opts.Cluster
	if c == nil {
		if c, err = inferCluster(inPKI(l.CertPath(pki.KindServer)), inPKI(l.CertPath(pki.KindPeerClient)), l, ca.Cert); err != nil {
			return nil, err
		}
	} else if c.Layout != l.Name {
		return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("%s is in the %s layout, but the cluster spec says %s", pkiDir, l.Name, c.Layout)}
	}
	c, err = withMember(c, m)
	if err != nil {
		return nil, err
	}
	root := layout.MemberDir(out, m.Name)
	// A completed run run again: the tree is what it would write.
	if checkMemberTree(l, c, &c.Members[len(c.Members)-1], root, ca.Cert, true) == nil {
		return &AddMemberResult{Result: Result{Dir: out}, Spec: c, Member: m.Name, Root: root, AlreadyAdded: true}, nil
	}
	for _, kind := range append([]pki.Kind{pki.KindCA}, pki.LeafKinds(c.SplitCredentials)...) {
		for _, p := range []string{layout.OnDisk(root, l.CertPath(kind)), layout.OnDisk(root, l.KeyPath(kind))} {
			if exists(p) {
				return nil, &RefusedError{Op: op, Detail: p + " exists; refusing to overwrite the files of another run",
					Hint: "move " + root + " away, or give another --out"}
			}
		}
	}
	if err := os.MkdirAll(out, layout.DirPerm); err != nil {
		return nil, err
	}
	unlock, err := lock(out, op)
	if err != nil {
		return nil, err
	}
	defer unlock()
	caCert, err := layout.ReadFile(caCertPath)
	if err != nil {
		return nil, err
	}
	caKey, err := layout.ReadFile(caKeyPath)
	if err != nil {
		return nil, err
	}
	cs := newChangeSet(out, op, now)
	res := &AddMemberResult{Spec: c, Member: m.Name, Root: root}
	res.Issued, err = writeMember(cs, l, c, root, ca, caCert, caKey, now)
	res.Result = *cs.res
	return res, err
}

// detectLayout recognises a node's PKI directory by its CA file.
func detectLayout(pkiDir string) (*layout.Layout, error) {
	st, err := os.Stat(pkiDir)
	if err != nil {
		return nil, &layout.FileError{Path: pkiDir, Err: unwrapPath(err)}
	}
	if !st.IsDir() {
		return nil, &layout.FileError{Path: pkiDir, Err: errors.New("is not a directory")}
	}
	for _, l := range []*layout.Layout{layout.Kubeadm, layout.Etcd} {
		rel := strings.TrimPrefix(l.CertPath(pki.KindCA), l.PKIDir+"/")
		if exists(filepath.Join(pkiDir, filepath.FromSlash(rel))) {
			return l, nil
		}
	}
	return nil, &layout.FileError{Path: pkiDir, Err: errors.New("no etcd CA found: expected a node's /etc/kubernetes/pki (etcd/ca.crt, etcd/ca.key) or /etc/etcd/pki (ca.crt, ca.key)")}
}

// inferCluster is the one-member cluster that a node's server certificate
// describes: its CN is the member's name (kubeadm's and init's profile),
// its IP SANs other than loopback its addresses, its DNS SANs other than
// the name and localhost its host names. The key algorithm is the CA's,
// split credentials are on when the node has peer-client.crt.
func inferCluster(serverCert, peerClientCert string, l *layout.Layout, ca *x509.Certificate) (*spec.Cluster, error) {
	cert, err := layout.ReadCert(serverCert)
	if err != nil {
		return nil, fmt.Errorf("reading the node's member from its server certificate (give the cluster spec instead): %w", err)
	}
	m := spec.Member{Name: cert.Subject.CommonName}
	for _, ip := range cert.IPAddresses {
		if !ip.IsLoopback() {
			m.IPs = append(m.IPs, ip.String())
		}
	}
	for _, n := range cert.DNSNames {
		if n != m.Name && n != "localhost" && net.ParseIP(n) == nil {
			m.DNSNames = append(m.DNSNames, n)
		}
	}
	c := spec.Cluster{Layout: l.Name, Algorithm: algorithmOf(ca.PublicKey), SplitCredentials: exists(peerClientCert), Members: []spec.Member{m}}
	c = c.WithDefaults()
	return &c, nil
}

// algorithmOf is the algorithm of a key (pki.AlgorithmOf), so that new
// keys are of the kind the cluster's are; the default for a key type or
// size etcdpki does not make.
func algorithmOf(pub crypto.PublicKey) pki.Algorithm {
	if alg, ok := pki.AlgorithmOf(pub); ok {
		return alg
	}
	return pki.DefaultAlgorithm
}

// MemberAddCommand is the etcdctl command that announces member name of c
// to the running cluster before the member starts: a member that joins
// with --initial-cluster-state=existing is refused unless the cluster
// already lists its peer URL (etcd's ValidateClusterAndAssignIDs), and its
// --initial-cluster must list the same members. With learner, it joins as
// a non-voting learner and is promoted (etcdctl member promote) once it
// has caught up with the leader, as kubeadm does with its EtcdLearnerMode
// feature: a new voting member counts towards quorum before it has any
// data.
func MemberAddCommand(c *spec.Cluster, name string, learner bool) (string, error) {
	m, err := c.Member(name)
	if err != nil {
		return "", err
	}
	cmd := "etcdctl member add " + name + " --peer-urls=" + c.PeerURL(m)
	if learner {
		cmd += " --learner"
	}
	return cmd, nil
}
