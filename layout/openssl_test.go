package layout_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// requireOpenSSL skips the test when openssl is missing, except on CI,
// which installs it: there a missing openssl must not pass as a skip.
func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl not found on CI: %v", err)
		}
		t.Skipf("openssl not found: %v", err)
	}
}

// openssl runs openssl with args and returns its combined output.
func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	return string(out), err
}

// TestOpenSSL has an independent implementation check what init writes:
// every leaf verifies against ca.crt for its purpose and not for the other
// one, shows kubeadm's SANs and EKUs, and every key loads.
func TestOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	keyText := map[pki.Algorithm]string{
		pki.RSA2048:   "Public-Key: (2048 bit)",
		pki.RSA3072:   "Public-Key: (3072 bit)",
		pki.RSA4096:   "Public-Key: (4096 bit)",
		pki.ECDSAP256: "NIST CURVE: P-256",
		pki.ECDSAP384: "NIST CURVE: P-384",
		pki.Ed25519:   "ED25519 Public-Key",
	}
	for _, alg := range pki.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			if testing.Short() && alg == pki.RSA4096 {
				t.Skip("rsa-4096 key generation is slow")
			}
			split := alg == pki.ECDSAP256 // one run with split credentials
			// A second member shows that cp1's certs do not name it; the
			// slow RSA sizes make do with one.
			members := 2
			if alg == pki.RSA3072 || alg == pki.RSA4096 {
				members = 1
			}
			c := newCluster(t, members, func(c *spec.Cluster) { c.Algorithm, c.SplitCredentials = alg, split })
			out := t.TempDir()
			runInit(t, c, out, false)
			caFile := filepath.Join(out, "ca", "ca.crt")

			ca, err := openssl(t, "x509", "-in", caFile, "-noout", "-text", "-fingerprint", "-sha256")
			if err != nil {
				t.Fatalf("openssl x509 ca.crt: %v\n%s", err, ca)
			}
			for _, want := range []string{"CA:TRUE", "Certificate Sign", "Subject: CN = etcd-ca", keyText[alg], "X509v3 Subject Key Identifier"} {
				if !strings.Contains(ca, want) {
					t.Errorf("ca.crt: openssl shows no %q:\n%s", want, ca)
				}
			}
			// openssl's fingerprint is the one Fingerprint prints.
			if want := "Fingerprint=" + pki.Fingerprint(readCert(t, out, "ca/ca.crt")); !strings.Contains(ca, want) {
				t.Errorf("openssl fingerprint differs from %s", want)
			}

			server := "TLS Web Server Authentication"
			client := "TLS Web Client Authentication"
			both := server + ", " + client
			cp1SANs := []string{"DNS:cp1", "DNS:localhost", "IP Address:10.0.0.11", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"}
			leaves := []opensslLeaf{
				{pki.KindServer, "CN = cp1", both, true, map[string]bool{"sslserver": true, "sslclient": true}},
				{pki.KindPeer, "CN = cp1", both, true, map[string]bool{"sslserver": true, "sslclient": true}},
				{pki.KindHealthcheckClient, "CN = kube-etcd-healthcheck-client", client, false, map[string]bool{"sslserver": false, "sslclient": true}},
				{pki.KindAPIServerClient, "CN = kube-apiserver-etcd-client", client, false, map[string]bool{"sslserver": false, "sslclient": true}},
			}
			if split {
				serverOnly := map[string]bool{"sslserver": true, "sslclient": false}
				leaves[0].eku, leaves[0].purposes = server, serverOnly
				leaves[1].eku, leaves[1].purposes = server, serverOnly
				clientOnly := map[string]bool{"sslserver": false, "sslclient": true}
				leaves = append(leaves,
					opensslLeaf{pki.KindServerClient, "CN = cp1", client, true, clientOnly},
					opensslLeaf{pki.KindPeerClient, "CN = cp1", client, true, clientOnly})
			}
			root := layout.MemberDir(out, "cp1")
			l := layout.Kubeadm
			for _, lf := range leaves {
				crt, key := layout.OnDisk(root, l.CertPath(lf.kind)), layout.OnDisk(root, l.KeyPath(lf.kind))
				what := string(lf.kind)

				// The member's own ca.crt, as etcd is given it.
				memberCA := layout.OnDisk(root, l.CertPath(pki.KindCA))
				if got, err := openssl(t, "verify", "-CAfile", memberCA, crt); err != nil || !strings.Contains(got, crt+": OK") {
					t.Errorf("%s: openssl verify: %v\n%s", what, err, got)
				}
				for purpose, ok := range lf.purposes {
					got, err := openssl(t, "verify", "-purpose", purpose, "-CAfile", caFile, crt)
					if pass := err == nil && strings.Contains(got, ": OK"); pass != ok {
						t.Errorf("%s: openssl verify -purpose %s passes: %v, want %v\n%s", what, purpose, pass, ok, got)
					}
				}

				text, err := openssl(t, "x509", "-in", crt, "-noout", "-text")
				if err != nil {
					t.Fatalf("%s: openssl x509: %v\n%s", what, err, text)
				}
				if ekus := line(text, "X509v3 Extended Key Usage"); ekus != lf.eku {
					t.Errorf("%s: EKU %q, want %q", what, ekus, lf.eku)
				}
				if !strings.Contains(text, "Subject: "+lf.subject+"\n") {
					t.Errorf("%s: subject is not %q:\n%s", what, lf.subject, text)
				}
				sans := line(text, "X509v3 Subject Alternative Name")
				if !lf.sans && sans != "" {
					t.Errorf("%s: has SANs %q", what, sans)
				}
				if lf.sans {
					for _, want := range cp1SANs {
						if !strings.Contains(sans+",", want+",") {
							t.Errorf("%s: SANs %q lack %s", what, sans, want)
						}
					}
					if strings.Contains(sans, "10.0.0.12") || strings.Contains(sans, "cp2") {
						t.Errorf("%s: SANs %q name the other member", what, sans)
					}
				}
				for _, want := range []string{keyText[alg], "X509v3 Subject Key Identifier", "X509v3 Authority Key Identifier"} {
					if !strings.Contains(text, want) {
						t.Errorf("%s: openssl shows no %q", what, want)
					}
				}
				if got, err := openssl(t, "pkey", "-in", key, "-noout"); err != nil {
					t.Errorf("%s: openssl pkey rejects the key: %v\n%s", what, err, got)
				}
			}
			if got, err := openssl(t, "pkey", "-in", filepath.Join(out, "ca", "ca.key"), "-noout"); err != nil {
				t.Errorf("ca.key: openssl pkey rejects the key: %v\n%s", err, got)
			}
		})
	}
}

// opensslLeaf is what openssl must show for one of cp1's leaves.
type opensslLeaf struct {
	kind     pki.Kind
	subject  string
	eku      string          // the Extended Key Usage line
	sans     bool            // cp1's SANs, or none
	purposes map[string]bool // openssl verify -purpose → whether it passes
}

// line returns the line after the one that contains header in openssl's
// -text output, trimmed: that is where an extension's value is.
func line(text, header string) string {
	m := regexp.MustCompile(regexp.QuoteMeta(header) + `.*\n\s*(.*)\n`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}
