package audit

import (
	"crypto/x509"
	"fmt"

	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/release"
)

// checkSettings applies the flag rules when the member's configuration
// is known.
func (c *checker) checkSettings() {
	s := c.m.Settings
	if s == nil {
		return
	}
	src := s.Source
	if s.AutoTLS || s.PeerAutoTLS {
		c.add(RuleAutoTLS, src, "", "auto-tls=%t, peer-auto-tls=%t: self-signed certs that nobody verifies", s.AutoTLS, s.PeerAutoTLS)
	}
	if s.TrustedCAFile == "" {
		c.add(RuleTrustedCA, src, BreaksClients, "--trusted-ca-file is not set: client certs are not verified")
	}
	if s.PeerTrustedCAFile == "" {
		c.add(RuleTrustedCA, src, BreaksPeers, "--peer-trusted-ca-file is not set: peer certs are not verified")
	}
	if !s.ClientCertAuth {
		c.clientAuthOff(RuleClientCertAuth, src, "--client-cert-auth", s.TrustedCAFile)
	}
	if !s.PeerClientCertAuth {
		c.clientAuthOff(RulePeerClientCert, src, "--peer-client-cert-auth", s.PeerTrustedCAFile)
	}
	if s.CertFile == "" || s.KeyFile == "" {
		c.add(RuleFlagFile, src, BreaksClients, "--cert-file/--key-file not set: the client port does not serve TLS")
	}
	if s.PeerCertFile == "" || s.PeerKeyFile == "" {
		c.add(RuleFlagFile, src, BreaksPeers, "--peer-cert-file/--peer-key-file not set: the peer port does not serve TLS")
	}
	c.checkEtcdVersion(s)
}

// checkEtcdVersion holds the member's command-line flags to its etcd
// version's flag set (release.Etcd.KnowsFlag, read off each version's
// binary): etcdmain's config.parse exits on a flag it does not define.
// Only the command line is fatal; etcd ignores an ETCD_* variable or a
// config file key it does not know.
func (c *checker) checkEtcdVersion(s *member.Settings) {
	v, from := s.EtcdVersion, s.EtcdVersionSource
	if v == "" {
		v, from = c.opts.EtcdVersion, "--etcd-version"
	}
	if v == "" {
		return
	}
	e, err := release.ParseEtcd(v)
	if err != nil {
		return
	}
	for _, name := range e.UnknownFlags(s.Flags) {
		where := s.Source
		if src, ok := s.Sources[name]; ok {
			where = src
		}
		msg := fmt.Sprintf("etcd %s (%s) does not define --%s (%s): it exits at start with \"flag provided but not defined: -%s\"", e, from, name, where, name)
		if alt := e.FlagAdvice(name); alt != "" {
			msg += "; etcd " + e.Line().String() + " spells it " + alt
		}
		c.add(RuleEtcdVersionFlag, s.Source, BreaksBoth, "%s", msg)
	}
}

// clientAuthOff reports client cert auth switched off. etcd requires and
// verifies client certs anyway when a trusted CA file is set (TLSInfo's
// ServerConfig), so that case is a warning about a misleading setting.
func (c *checker) clientAuthOff(rule RuleID, src, flag, trustedCA string) {
	if trustedCA != "" {
		c.add(RuleCertAuthImplied, src, "", "%s is not true; etcd still requires client certs because a trusted CA file is set, but say so explicitly", flag)
		return
	}
	c.add(rule, src, "", "%s is not true and no trusted CA file is set: anyone who reaches the port is accepted", flag)
}

// checkAPIServer checks kube-apiserver's etcd client settings against the
// etcd CA of the member's client port: its --etcd-cafile must verify the
// member's serving cert, and its --etcd-certfile must be trusted by the
// member's --trusted-ca-file.
func (c *checker) checkAPIServer() {
	a := c.m.APIServer
	if a == nil || c.m.CA.Cert() == nil {
		return
	}
	etcdCA := c.m.CA
	if a.CAFile == "" || a.CertFile == "" || a.KeyFile == "" {
		c.add(RuleAPIServer, a.Source, BreaksClients, "--etcd-cafile, --etcd-certfile and --etcd-keyfile must all be set")
		return
	}
	if ca := c.m.APIServerCA; ca != nil && len(ca.Certs) > 0 {
		if srv := c.m.Files[pki.KindServer].Cert(); srv != nil && !signedByAny(srv, ca.Certs) {
			c.add(RuleAPIServer, ca.CertPath, BreaksClients, "--etcd-cafile (%q) does not verify the member's serving certificate (issuer %q): kube-apiserver cannot verify etcd",
				ca.Cert().Subject.CommonName, srv.Issuer.CommonName)
		} else if srv == nil && !containsCert(ca.Certs, etcdCA.Cert()) {
			c.add(RuleAPIServer, ca.CertPath, BreaksClients, "--etcd-cafile (%q) is not the etcd CA %s (%q): kube-apiserver cannot verify etcd",
				ca.Cert().Subject.CommonName, etcdCA.CertPath, etcdCA.Cert().Subject.CommonName)
		}
	}
}

func containsCert(certs []*x509.Certificate, want *x509.Certificate) bool {
	for _, c := range certs {
		if c.Equal(want) {
			return true
		}
	}
	return false
}
