package audit

import (
	"crypto/x509"

	"github.com/etcdpki/etcdpki/pki"
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
}

// clientAuthOff reports client cert auth switched off. etcd requires and
// verifies client certs anyway when a trusted CA file is set (TLSInfo's
// ServerConfig), so that case is a warning about a misleading setting.
func (c *checker) clientAuthOff(rule, src, flag, trustedCA string) {
	if trustedCA != "" {
		f := newFinding(rule, c.m.Name, src, "%s is not true; etcd still requires client certs because a trusted CA file is set, but say so explicitly", flag)
		f.Severity = Warning
		c.findings = append(c.findings, f)
		return
	}
	c.add(rule, src, "", "%s is not true and no trusted CA file is set: anyone who reaches the port is accepted", flag)
}

// checkAPIServer checks kube-apiserver's etcd client settings against the
// etcd CA.
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
	in := c.m.Input
	caPath, ok1 := in.disk(a.CAFile)
	certPath, ok2 := in.disk(a.CertFile)
	keyPath, ok3 := in.disk(a.KeyFile)
	if !ok1 || !ok2 || !ok3 {
		c.add(RuleAPIServer, a.Source, "", "kube-apiserver's etcd files lie outside %s; they cannot be checked", in.Dir)
		return
	}
	cas, caErr, _ := readCerts(caPath)
	switch {
	case caErr != nil:
		c.add(RuleAPIServer, caPath, BreaksClients, "--etcd-cafile cannot be used: %v", unwrapFileError(caErr))
	case !containsCert(cas, etcdCA.Cert()):
		c.add(RuleAPIServer, caPath, BreaksClients, "--etcd-cafile (%q) is not the etcd CA %s (%q): kube-apiserver cannot verify etcd",
			cas[0].Subject.CommonName, etcdCA.CertPath, etcdCA.Cert().Subject.CommonName)
	}
	if a.CertFile == c.m.Files[pki.KindAPIServerClient].nodeCert() {
		return // the apiserver-etcd-client file itself is checked as a leaf
	}
	f := &File{Kind: pki.KindAPIServerClient, CertPath: certPath, KeyPath: keyPath}
	f.Certs, f.CertErr, f.CertMode = readCerts(certPath)
	if f.CertErr != nil {
		c.add(RuleAPIServer, certPath, BreaksClients, "--etcd-certfile cannot be used: %v", unwrapFileError(f.CertErr))
		return
	}
	if c.signedBy(f.Cert(), etcdCA.Cert()) != nil {
		c.add(RuleAPIServer, certPath, BreaksClients, "--etcd-certfile (%q, issuer %q) is not signed by the etcd CA: etcd refuses kube-apiserver",
			f.Cert().Subject.CommonName, f.Cert().Issuer.CommonName)
	}
}

func (f *File) nodeCert() string {
	if f == nil {
		return ""
	}
	return f.NodeCertPath
}

func containsCert(certs []*x509.Certificate, want *x509.Certificate) bool {
	for _, c := range certs {
		if c.Equal(want) {
			return true
		}
	}
	return false
}
