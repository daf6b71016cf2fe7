package audit

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/member"

	"github.com/etcdpki/etcdpki/pki"
)

// Options tune a check.
type Options struct {
	// Now is the time validity is judged at; zero means time.Now().
	Now time.Time
	// WarnWithin is how close to expiry a certificate draws VALID-EXPIRING;
	// zero means DefaultWarnWithin, negative disables the warning.
	WarnWithin time.Duration
	// EtcdVersion is the etcd version the members run where their
	// settings do not say (a static pod's image tag does): FLAG-ETCD-VERSION
	// holds their command-line flags to it. Empty: judged only where the
	// settings say.
	EtcdVersion string
}

// DefaultWarnWithin is --warn-within's default.
const DefaultWarnWithin = 30 * 24 * time.Hour

// Impact of a finding on a running cluster.
const (
	BreaksPeers   = "peers"   // the member cannot join or be reached by the others
	BreaksClients = "clients" // clients (kube-apiserver, etcdctl, probes) cannot connect
	BreaksBoth    = "both"
	// BreaksPeersOneWay: the other members reject the member's connections
	// in one direction only (its serving cert, or its credential). etcd's
	// raft transport runs over connections opened from both sides, so the
	// member still joins and serves, with rejections logged continually
	// (observed: demo faults peer-no-clientauth, peer-no-serverauth).
	BreaksPeersOneWay = "peers-one-way"
)

// CheckDirs discovers and loads the members in dirs and checks them.
func CheckDirs(dirs []string, opts Options) (*Report, error) {
	members, err := member.LoadDirs(dirs, nil, member.DiscoverOptions{})
	if err != nil {
		return nil, err
	}
	return Check(members, opts), nil
}

// Check runs every rule over the members, one by one and across them.
func Check(members []*member.Member, opts Options) *Report {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.WarnWithin == 0 {
		opts.WarnWithin = DefaultWarnWithin
	}
	r := &Report{SchemaVersion: SchemaVersion, CheckedAt: opts.Now.UTC()}
	member.UniqueNames(members)
	// Each member's own rules look at that member only, so members are
	// checked in parallel (signature checks dominate) and their findings
	// joined in order.
	perMember := make([][]Finding, len(members))
	r.Members = make([]MemberSummary, len(members))
	member.ForEach(len(members), func(i int) {
		m := members[i]
		c := &checker{m: m, opts: opts, sigs: map[[2]*x509.Certificate]error{}}
		c.findings = append(c.findings, ProblemFindings(m)...)
		c.run()
		perMember[i] = c.findings
		r.Members[i] = summarize(m)
	})
	// An empty list, not null, in JSON: jq '.findings[]' must work on a
	// clean report too.
	r.Findings = []Finding{}
	for _, fs := range perMember {
		r.Findings = append(r.Findings, fs...)
	}
	r.Findings = append(r.Findings, crossMember(members)...)
	applyRemedies(r.Findings, members)
	sortFindings(r.Findings, members)
	r.Verdict = verdict(members, r.Findings)
	return r
}

type checker struct {
	m        *member.Member
	opts     Options
	findings []Finding
	// sigs caches signedBy by (cert, parent): R1 and VALID-CA-FIRST ask
	// the same question, and a signature check is the costliest step.
	sigs map[[2]*x509.Certificate]error
}

func (c *checker) add(rule RuleID, file, impact, format string, args ...any) {
	f := newFinding(rule, c.m.Name, file, format, args...)
	f.Breaks = impact
	c.findings = append(c.findings, f)
}

// loadImpact says what a certificate or key of kind that cannot be loaded
// breaks. etcd loads every pair its flags name when it starts
// (TLSInfo.ServerConfig loads the cert/key pair, and the client
// credentials, before serving) and refuses to start on any error, so the
// member is out of the cluster and its clients fail; a client credential
// that cannot be loaded breaks only that client.
func loadImpact(kind pki.Kind) string {
	if kind.Info().Use == pki.UseClient {
		return BreaksClients
	}
	return BreaksBoth
}

// impactOf says what a broken certificate of kind breaks.
func impactOf(kind pki.Kind) string {
	switch kind.Info().Port {
	case pki.PortPeer:
		return BreaksPeers
	case pki.PortClient:
		return BreaksClients
	}
	return BreaksBoth // a CA serves both ports
}

// portCA is the member's trusted CA file of the port a kind is used on:
// the CA etcd verifies that port's certificates with.
func portCA(m *member.Member, kind pki.Kind) *member.File {
	if kind.Info().Port == pki.PortPeer {
		return m.PeerCA
	}
	return m.CA
}

func (c *checker) run() {
	m := c.m
	c.checkCA(m.CA)
	if m.PeerCA != m.CA {
		c.checkCA(m.PeerCA)
	}
	// A file that fills two roles (kubespray's member-HOST.pem is both
	// --cert-file and --peer-cert-file) is judged once; its second role
	// adds only the usages that role needs.
	seen := map[*member.File]bool{}
	for _, kind := range m.SortedKinds() {
		f := m.Files[kind]
		if seen[f] {
			if cert := f.Cert(); cert != nil {
				c.checkEKU(kind, f, cert)
			}
			continue
		}
		seen[f] = true
		c.checkLeaf(f)
	}
	c.checkNames()
	c.checkSettings()
	c.checkAPIServer()
	if len(m.OtherMembersKeys) > 0 {
		c.add(RuleOtherKeys, m.Input.Dir, "", "the node holds %d private keys of other members and their clients (%s): a stolen copy of this node impersonates all of them",
			len(m.OtherMembersKeys), strings.Join(baseNames(m.OtherMembersKeys), ", "))
	}
	if m.K8sCA != nil && m.CA != nil && m.K8sCA.Cert() != nil && m.CA.Cert() != nil &&
		pki.Fingerprint(m.K8sCA.Cert()) == pki.Fingerprint(m.CA.Cert()) {
		c.add(RuleSharedK8sCA, m.CA.CertPath, "", "the etcd CA is the Kubernetes cluster CA (%s): every client cert that CA signs is accepted by etcd", m.K8sCA.CertPath)
	}
}

// checkCA checks a trusted CA file: every cert in it is a CA, the key (if
// present) belongs to the first, and the usual validity and crypto rules.
func (c *checker) checkCA(f *member.File) {
	if f == nil || len(f.Certs) == 0 {
		return
	}
	for _, ca := range f.Certs {
		if !ca.BasicConstraintsValid || !ca.IsCA {
			c.add(RuleNotCA, f.CertPath, BreaksBoth, "%q is not a CA (basic constraints CA:TRUE missing)", ca.Subject.CommonName)
		} else if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0 {
			c.add(RuleNotCA, f.CertPath, BreaksBoth, "%q lacks the keyCertSign key usage", ca.Subject.CommonName)
		}
		c.checkValidity(f, ca)
		c.checkCrypto(f, ca)
	}
	if f.HasKey() && !f.KeyMatches(f.Cert().PublicKey) {
		// etcd never reads ca.key: nothing breaks until the node issues a
		// certificate with it.
		c.add(RuleCAKey, f.KeyPath, "", "ca.key does not belong to ca.crt (%q): certificates signed with it will not verify", f.Cert().Subject.CommonName)
	}
	c.checkPerms(f)
}

// checkLeaf runs the per-certificate rules on one leaf file.
func (c *checker) checkLeaf(f *member.File) {
	cert := f.Cert()
	if cert == nil {
		return
	}
	impact := c.impact(f)
	if len(f.Certs) > 1 && !isChain(f.Certs) {
		// etcd (crypto/tls) sends the whole file as the chain; a leaf
		// followed by its issuers (k3s, RKE2) is one, anything else is
		// only noted.
		c.add(RuleChainInFile, f.CertPath, "", "holds %d certificates that are not the chain of the first, the %s certificate", len(f.Certs), f.Kind)
	}
	if f.HasKey() && !f.KeyMatches(cert.PublicKey) {
		// tls.X509KeyPair fails on a mismatched pair, so etcd does not
		// start: a load failure, not just a bad handshake.
		c.add(RuleKeyMismatch, f.KeyPath, loadImpact(f.Kind), "%s key does not belong to %s (CN %q)", f.Kind, f.CertPath, cert.Subject.CommonName)
	}
	c.checkChain(f, cert, impact)
	c.checkEKU(f.Kind, f, cert)
	c.checkValidity(f, cert)
	c.checkCrypto(f, cert)
	c.checkPerms(f)
}

// checkChain is R1: the leaf verifies against the member's trusted CA of
// the port that uses it.
func (c *checker) checkChain(f *member.File, cert *x509.Certificate, impact string) {
	ca := portCA(c.m, f.Kind)
	if ca == nil || len(ca.Certs) == 0 {
		return // missing or invalid CA already reported
	}
	var lastErr error
	for _, parent := range ca.Certs {
		err := c.signedBy(cert, parent)
		if err == nil {
			// Signed by the port's CA; now the chain as crypto/x509
			// (and so etcd and its clients) builds and judges it.
			c.verifyChain(f, cert, ca, impact)
			return
		}
		lastErr = err
	}
	var insecure x509.InsecureAlgorithmError
	if errors.As(lastErr, &insecure) {
		return // WEAK-SIGNATURE reports it
	}
	var constraint x509.ConstraintViolationError
	if errors.As(lastErr, &constraint) {
		return // CA-NOT-CA reports it
	}
	info := f.Kind.Info()
	rule := RuleClientCA
	switch {
	case info.Port == pki.PortPeer:
		rule = RulePeerCA
	case info.Use == pki.UseServe:
		rule = RuleServerCA
	}
	if a := c.m.APIServer; a != nil && f.Kind == pki.KindAPIServerClient && f.NodeCertPath == a.CertFile {
		// kube-apiserver's manifest chose this credential: its settings
		// are what to fix.
		c.add(RuleAPIServer, f.CertPath, impact, "--etcd-certfile %s (%q, issuer %q) is not signed by the member's client CA %s (%q): etcd refuses kube-apiserver",
			a.CertFile, cert.Subject.CommonName, cert.Issuer.CommonName, ca.CertPath, ca.Cert().Subject.CommonName)
		return
	}
	c.add(rule, f.CertPath, impact, "%s certificate (issuer %q) is not signed by the member's CA %s (%q)",
		f.Kind, cert.Issuer.CommonName, ca.CertPath, ca.Cert().Subject.CommonName)
}

// verifyChain runs x509.Verify on a leaf whose signature its port's CA
// checks, with the extended key usage each of its roles is verified for
// (serverAuth by those who dial it, clientAuth by those it dials), at a
// time inside the leaf's validity: what only Go's verifier rejects —
// a CA's name constraints that exclude the leaf, a critical extension
// Go does not handle, a CA whose own EKUs exclude the role — is
// CHAIN-REJECTED, named by its real reason. Expiry, key usages the leaf
// itself lacks, weak signatures and non-CA parents have rules of their
// own and are not repeated here.
func (c *checker) verifyChain(f *member.File, cert *x509.Certificate, ca *member.File, impact string) {
	if !verifyCanDiffer(cert, f.Certs[1:], ca.Certs) {
		// Signatures, validity, usages and basic constraints are judged
		// by their own rules; with no name constraints, no CA EKUs, no
		// unhandled critical extension and no intermediates, Verify can
		// reject nothing more (and costs a signature check per usage).
		return
	}
	roots := x509.NewCertPool()
	for _, r := range ca.Certs {
		roots.AddCert(r)
	}
	inter := x509.NewCertPool()
	for _, i := range f.Certs[1:] {
		inter.AddCert(i)
	}
	at := c.opts.Now
	if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
		at = cert.NotBefore.Add(time.Second)
	}
	info := f.Kind.Info()
	var usages []x509.ExtKeyUsage
	if info.Use == pki.UseServe && hasEKU(cert, x509.ExtKeyUsageServerAuth) {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if (info.Use != pki.UseServe || info.ClientAuth) && hasEKU(cert, x509.ExtKeyUsageClientAuth) {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	for _, u := range usages {
		_, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{u}})
		if reason := chainRejection(err); reason != "" {
			c.add(RuleChainRejected, f.CertPath, impact, "%s certificate (CN %q): Go's verifier rejects its chain to %s: %s",
				f.Kind, cert.Subject.CommonName, ca.CertPath, reason)
			return
		}
	}
}

// chainRejection is the reason Verify gave that no other rule reports,
// or "".
func chainRejection(err error) string {
	if err == nil {
		return ""
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired, x509.NotAuthorizedToSign:
			return "" // VALID-EXPIRED, CA-NOT-CA
		case x509.CANotAuthorizedForThisName:
			return "the CA's name constraints do not allow the certificate's names (" + inv.Detail + ")"
		case x509.CANotAuthorizedForExtKeyUsage, x509.IncompatibleUsage:
			return "the CA's extended key usages do not allow this certificate's use"
		}
		return err.Error()
	}
	var unhandled x509.UnhandledCriticalExtension
	if errors.As(err, &unhandled) {
		return "a certificate in the chain has a critical extension Go does not handle, so it refuses the chain"
	}
	var insecure x509.InsecureAlgorithmError
	var constraint x509.ConstraintViolationError
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &insecure) || errors.As(err, &constraint) || errors.As(err, &unknown) {
		return "" // WEAK-SIGNATURE, CA-NOT-CA, R1
	}
	return err.Error()
}

// signedBy reports whether parent signed cert, as Go's chain builder
// would accept it: the issuer name must match and the signature verify.
func (c *checker) signedBy(cert, parent *x509.Certificate) error {
	if string(cert.RawIssuer) != string(parent.RawSubject) {
		return fmt.Errorf("issuer %q is not %q", cert.Issuer, parent.Subject)
	}
	k := [2]*x509.Certificate{cert, parent}
	if err, ok := c.sigs[k]; ok {
		return err
	}
	err := cert.CheckSignatureFrom(parent)
	c.sigs[k] = err
	return err
}

// impact is what a broken f breaks: its port's side, or both for a
// file that serves both ports.
func (c *checker) impact(f *member.File) string {
	if c.twoPorts(f) {
		return BreaksBoth
	}
	return impactOf(f.Kind)
}

// twoPorts reports whether f serves both ports (one file for
// --cert-file and --peer-cert-file).
func (c *checker) twoPorts(f *member.File) bool {
	return c.m.Files[pki.KindServer] == f && c.m.Files[pki.KindPeer] == f
}

// checkEKU enforces the extended key usages the role kind needs of f.
func (c *checker) checkEKU(kind pki.Kind, f *member.File, cert *x509.Certificate) {
	s := c.m.Settings
	server, client := hasEKU(cert, x509.ExtKeyUsageServerAuth), hasEKU(cert, x509.ExtKeyUsageClientAuth)
	switch kind {
	case pki.KindServer:
		if !server {
			c.add(RuleEKUServer, f.CertPath, BreaksClients, "server certificate lacks serverAuth (has %s)", ekuNames(cert))
		}
		if !client && !c.hasSplit(pki.KindServerClient, s != nil && s.ClientCertFile != "") {
			c.add(RuleEKUServerGateway, f.CertPath, BreaksClients, "server certificate lacks clientAuth and no --client-cert-file is set: etcd's grpc-gateway presents it to its own client port")
		}
	case pki.KindPeer:
		if !server {
			c.add(RuleEKUPeerServer, f.CertPath, BreaksPeersOneWay, "peer certificate lacks serverAuth (has %s): other members cannot dial this one", ekuNames(cert))
		}
		if !client && !c.hasSplit(pki.KindPeerClient, s != nil && s.PeerClientCertFile != "") {
			c.add(RuleEKUPeerClient, f.CertPath, BreaksPeersOneWay, "peer certificate lacks clientAuth and no --peer-client-cert-file is set (has %s): other members refuse its connections", ekuNames(cert))
		}
	case pki.KindPeerClient:
		if !client {
			c.add(RuleEKUPeerClient, f.CertPath, BreaksPeersOneWay, "peer client certificate lacks clientAuth (has %s)", ekuNames(cert))
		}
	default:
		if !client {
			c.add(RuleEKUClient, f.CertPath, BreaksClients, "%s certificate lacks clientAuth (has %s)", f.Kind, ekuNames(cert))
		}
	}
}

// hasSplit reports whether a separate client credential is in use: set
// by the flag, or (without settings) present in the member's directory.
func (c *checker) hasSplit(kind pki.Kind, flagSet bool) bool {
	if c.m.Settings != nil {
		return flagSet
	}
	return c.m.Files[kind].Cert() != nil
}

// AllowsServerAuth reports whether cert may serve TLS as Go's verifier
// (and so etcd, kube-apiserver and etcdctl) judges it: an EKU extension
// with serverAuth or anyExtendedKeyUsage, or none at all. It is the one
// predicate check, probe and inspect share.
func AllowsServerAuth(cert *x509.Certificate) bool { return hasEKU(cert, x509.ExtKeyUsageServerAuth) }

// AllowsClientAuth is [AllowsServerAuth] for client certificates.
func AllowsClientAuth(cert *x509.Certificate) bool { return hasEKU(cert, x509.ExtKeyUsageClientAuth) }

func hasEKU(cert *x509.Certificate, want x509.ExtKeyUsage) bool {
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		// No EKU extension means any usage to Go's verifier.
		return true
	}
	for _, u := range cert.ExtKeyUsage {
		if u == want || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func ekuNames(cert *x509.Certificate) string {
	names := map[x509.ExtKeyUsage]string{x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth", x509.ExtKeyUsageAny: "any"}
	var out []string
	for _, u := range cert.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("eku(%d)", u))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// checkValidity judges NotBefore/NotAfter at opts.Now.
func (c *checker) checkValidity(f *member.File, cert *x509.Certificate) {
	now := c.opts.Now
	impact := c.impact(f)
	switch {
	case now.After(cert.NotAfter):
		c.add(RuleExpired, f.CertPath, impact, "%q expired %s (%s ago)", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339), roundDuration(now.Sub(cert.NotAfter)))
	case now.Before(cert.NotBefore):
		c.add(RuleNotYetValid, f.CertPath, impact, "%q is valid only from %s (in %s); check the clocks", cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.RFC3339), roundDuration(cert.NotBefore.Sub(now)))
	case c.opts.WarnWithin > 0 && cert.NotAfter.Sub(now) < c.opts.WarnWithin:
		c.add(RuleExpiring, f.CertPath, "", "%q expires %s (in %s)", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339), roundDuration(cert.NotAfter.Sub(now)))
	}
	if f.Kind == pki.KindCA {
		return
	}
	if ca := portCA(c.m, f.Kind); ca != nil {
		for _, parent := range ca.Certs {
			// A day's slack: kubespray issues the CA and the leaves for
			// 36500 days in one run, a few seconds apart.
			if c.signedBy(cert, parent) == nil && parent.NotAfter.Add(24*time.Hour).Before(cert.NotAfter) && now.Before(parent.NotAfter) {
				c.add(RuleCAExpiresFirst, f.CertPath, "", "the CA %q expires %s, before this certificate (%s): it stops verifying then",
					parent.Subject.CommonName, parent.NotAfter.UTC().Format(time.DateOnly), cert.NotAfter.UTC().Format(time.DateOnly))
			}
		}
	}
}

func roundDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return d.Round(time.Second).String()
}

// checkCrypto flags short RSA keys and SHA-1/MD5 signatures.
func (c *checker) checkCrypto(f *member.File, cert *x509.Certificate) {
	if k, ok := cert.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		c.add(RuleWeakKey, f.CertPath, "", "%q has a %d-bit RSA key", cert.Subject.CommonName, k.N.BitLen())
	}
	switch cert.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1, x509.MD5WithRSA, x509.MD2WithRSA:
		c.add(RuleWeakSignature, f.CertPath, c.impact(f), "%q is signed with %s, which Go refuses to verify", cert.Subject.CommonName, cert.SignatureAlgorithm)
	}
}

// checkPerms applies CIS 1.1.19–1.1.21: keys 600, certs 644 or tighter.
func (c *checker) checkPerms(f *member.File) {
	if f.KeyPath != "" && f.HasKey() && f.KeyMode&0o077 != 0 {
		c.add(RuleKeyPerm, f.KeyPath, "", "mode %04o: readable by group or others (want 0600)", f.KeyMode)
	}
	if len(f.Certs) > 0 && f.CertMode&0o022 != 0 {
		c.add(RuleCertPerm, f.CertPath, "", "mode %04o: writable by group or others (want 0644 or tighter)", f.CertMode)
	}
}

// checkNames is R4: the serving certs name every host the member listens
// on or advertises, the server cert names the loopback addresses, and a
// separate peer credential names the member's own address.
func (c *checker) checkNames() {
	m := c.m
	if len(m.ClientURLs) == 0 && len(m.PeerURLs) == 0 {
		if m.NameFrom == "certificate" || m.NameFrom == "directory" {
			c.add(RuleInferred, "", "", "no etcd manifest, config or spec for this member: name taken from the %s; its addresses are unknown, so SANs were not checked against them", m.NameFrom)
		}
	}
	if srv := m.Files[pki.KindServer]; srv.Cert() != nil {
		hosts := urlHosts(m.ClientURLs)
		loop := []string{"127.0.0.1"}
		if slices.Contains(hosts, "::1") {
			loop = append(loop, "::1")
		}
		// A missing loopback address is R4-SERVER-LOOPBACK's alone, even
		// when etcd listens on it: one fault, one finding.
		hosts = slices.DeleteFunc(hosts, func(h string) bool { return slices.Contains(loop, h) })
		if missing := missingHosts(srv.Cert(), hosts); len(missing) > 0 {
			c.add(RuleServerSAN, srv.CertPath, BreaksClients, "SANs %s do not cover %s from the member's client URLs", sanList(srv.Cert()), strings.Join(missing, ", "))
		}
		if missing := missingHosts(srv.Cert(), loop); len(missing) > 0 {
			c.add(RuleServerLoopback, srv.CertPath, BreaksClients, "SANs %s do not include %s, which kube-apiserver and health checks dial", sanList(srv.Cert()), strings.Join(missing, ", "))
		}
	}
	if peer := m.Files[pki.KindPeer]; peer.Cert() != nil {
		if missing := missingHosts(peer.Cert(), urlHosts(m.PeerURLs)); len(missing) > 0 {
			c.add(RulePeerSAN, peer.CertPath, BreaksPeers, "SANs %s do not cover %s from the member's peer URLs", sanList(peer.Cert()), strings.Join(missing, ", "))
		}
	}
	if pc := m.Files[pki.KindPeerClient]; pc.Cert() != nil && (m.Settings == nil || !m.Settings.PeerSkipClientSANVerify) {
		if len(pc.Cert().DNSNames)+len(pc.Cert().IPAddresses) > 0 {
			// etcd's checkSAN passes a cert without SANs; with SANs the
			// member's own address must be among them.
			if missing := missingHosts(pc.Cert(), advertiseHosts(m)); len(missing) > 0 {
				c.add(RulePeerClientSAN, pc.CertPath, BreaksPeersOneWay, "SANs %s do not cover the member's own address %s, which the other members see as the remote address", sanList(pc.Cert()), strings.Join(missing, ", "))
			}
		}
	}
}

// advertiseHosts are the hosts of the member's advertised peer URLs (the
// address its outgoing peer connections come from), else of all its peer
// URLs.
func advertiseHosts(m *member.Member) []string {
	if m.Settings != nil && len(m.Settings.AdvertisePeerURLs) > 0 {
		return urlHosts(m.Settings.AdvertisePeerURLs)
	}
	return urlHosts(m.PeerURLs)
}

// urlHosts returns the distinct hosts of URLs, leaving out wildcard
// listen addresses (0.0.0.0, ::), which no client dials.
func urlHosts(urls []string) []string {
	seen := map[string]bool{}
	var hosts []string
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			continue
		}
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func missingHosts(cert *x509.Certificate, hosts []string) []string {
	var missing []string
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			missing = append(missing, h)
		}
	}
	return missing
}

func sanList(cert *x509.Certificate) string {
	var sans []string
	sans = append(sans, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	if len(sans) == 0 {
		return "(none)"
	}
	return "[" + strings.Join(sans, ", ") + "]"
}

// isChain reports whether each certificate after the first is the issuer
// of the one before it.
func isChain(certs []*x509.Certificate) bool {
	for i := 1; i < len(certs); i++ {
		if pki.SignedBy(certs[i-1], certs[i]) != nil {
			return false
		}
	}
	return true
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = path.Base(p)
	}
	return out
}

// verifyCanDiffer reports whether x509.Verify could reject the chain for
// a reason the signature and per-certificate rules do not see: a
// critical extension Go does not handle, a CA's name constraints or
// extended key usages, or intermediates in the leaf's file.
func verifyCanDiffer(leaf *x509.Certificate, inter, roots []*x509.Certificate) bool {
	if len(leaf.UnhandledCriticalExtensions) > 0 || len(inter) > 0 && !isOwnRoot(inter, roots) {
		return true
	}
	for _, ca := range roots {
		if len(ca.UnhandledCriticalExtensions) > 0 || len(ca.ExtKeyUsage) > 0 || len(ca.UnknownExtKeyUsage) > 0 ||
			len(ca.PermittedDNSDomains)+len(ca.ExcludedDNSDomains)+len(ca.PermittedIPRanges)+len(ca.ExcludedIPRanges)+
				len(ca.PermittedEmailAddresses)+len(ca.ExcludedEmailAddresses)+len(ca.PermittedURIDomains)+len(ca.ExcludedURIDomains) > 0 {
			return true
		}
	}
	return false
}

// isOwnRoot reports whether the extra certificates of a leaf's file are
// only copies of the trusted roots (k3s writes the leaf followed by its
// CA): no intermediate to judge.
func isOwnRoot(extra, roots []*x509.Certificate) bool {
	for _, e := range extra {
		if !containsCert(roots, e) {
			return false
		}
	}
	return true
}
