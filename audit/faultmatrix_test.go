package audit_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
)

// fault is one row of the fault matrix: a clean 3-member PKI (cp1–cp3, as
// init writes it, with kubeadm static pod manifests unless opts say
// otherwise) broken in exactly one way.
type fault struct {
	// rule is the catalogue rule the row exists for.
	rule audit.RuleID
	name string
	opts testca.Options
	// noManifests checks init's output without etcd manifests: the
	// members' settings then come from cluster.yaml.
	noManifests bool
	breakIt     func(t *testing.T, c *testca.Cluster)
	// dirs are the directories to check; nil means init's output dir.
	dirs func(c *testca.Cluster) []string
	// want is exactly the set of rule IDs that must fire.
	want            []audit.RuleID
	forms, connects bool
}

// foreignCA is a CA that is not the cluster's.
func foreignCA(t *testing.T, c *testca.Cluster) *pki.CA {
	return testca.NewCA(t, c.Spec.Algorithm, c.Now)
}

// faults is the matrix. Every catalogue rule has at least one row
// (TestFaultMatrixCoversCatalogue); a row that needs another rule to fire
// too says why. forms is false when a majority of members cannot join;
// connects is false when any member's clients fail, which includes a
// member that cannot join (it never becomes ready to serve them).
var faults = []fault{
	{
		rule: audit.RuleServerCA, name: "server.crt from a foreign CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.ReissueFrom(foreignCA(t, c), "cp2", pki.KindServer, testca.NewKey(t, c.Spec.Algorithm))
		},
		want: []audit.RuleID{audit.RuleServerCA}, forms: true, connects: false,
	},
	{
		rule: audit.RulePeerCA, name: "peer.crt from a foreign CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.ReissueFrom(foreignCA(t, c), "cp2", pki.KindPeer, testca.NewKey(t, c.Spec.Algorithm))
		},
		want: []audit.RuleID{audit.RulePeerCA}, forms: true, connects: false,
	},
	{
		rule: audit.RulePeerCA, name: "two members' peer.crt from a foreign CA: no quorum",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			ca := foreignCA(t, c)
			c.ReissueFrom(ca, "cp2", pki.KindPeer, testca.NewKey(t, c.Spec.Algorithm))
			c.ReissueFrom(ca, "cp3", pki.KindPeer, testca.NewKey(t, c.Spec.Algorithm))
		},
		want: []audit.RuleID{audit.RulePeerCA}, forms: false, connects: false,
	},
	{
		rule: audit.RulePeerCA, name: "split: peer-client.crt from a foreign CA",
		opts: testca.Options{Split: true},
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.ReissueFrom(foreignCA(t, c), "cp2", pki.KindPeerClient, testca.NewKey(t, c.Spec.Algorithm))
		},
		want: []audit.RuleID{audit.RulePeerCA}, forms: true, connects: false,
	},
	{
		rule: audit.RuleClientCA, name: "apiserver-etcd-client.crt from a foreign CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.ReissueFrom(foreignCA(t, c), "cp1", pki.KindAPIServerClient, testca.NewKey(t, c.Spec.Algorithm))
		},
		want: []audit.RuleID{audit.RuleClientCA}, forms: true, connects: false,
	},
	{
		rule: audit.RuleClientCA, name: "healthcheck-client.crt from a foreign CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.ReissueFrom(foreignCA(t, c), "cp3", pki.KindHealthcheckClient, testca.NewKey(t, c.Spec.Algorithm))
		},
		want: []audit.RuleID{audit.RuleClientCA}, forms: true, connects: false,
	},
	{
		rule: audit.RuleCAMismatch, name: "one member with its own CA and leaves",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.UseCA(foreignCA(t, c), "cp3")
		},
		want: []audit.RuleID{audit.RuleCAMismatch}, forms: true, connects: false,
	},
	{
		rule: audit.RulePeerTrust, name: "mid-rotation, unsafe order: cp1's peer cert from the new CA before the others trust it",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			next := foreignCA(t, c)
			c.WriteCert("cp1", pki.KindCA, c.CA.Cert, next.Cert)
			c.ReissueFrom(next, "cp1", pki.KindPeer, testca.NewKey(t, pki.ECDSAP256))
		},
		// Only the peer port breaks: cp1 cannot join.
		want: []audit.RuleID{audit.RulePeerTrust}, forms: true, connects: false,
	},
	{
		rule: audit.RuleClientTrust, name: "mid-rotation, unsafe order: cp1's server cert from the new CA before the others' clients trust it",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			next := foreignCA(t, c)
			c.WriteCert("cp1", pki.KindCA, c.CA.Cert, next.Cert)
			c.ReissueFrom(next, "cp1", pki.KindServer, testca.NewKey(t, pki.ECDSAP256))
		},
		// cp1 joins (its peer cert is the old CA's); clients holding the
		// old CA only cannot verify it.
		want: []audit.RuleID{audit.RuleClientTrust}, forms: true, connects: false,
	},
	{
		rule: audit.RuleChainRejected, name: "a CA whose name constraints exclude the members' names",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			ca := testca.NewCA(t, c.Spec.Algorithm, c.Now, func(x *x509.Certificate) {
				x.PermittedDNSDomainsCritical = true
				x.PermittedDNSDomains = []string{"other.example"}
			})
			c.UseCA(ca, c.Names()...)
		},
		// Every leaf is signed by the one CA, and Go refuses every chain.
		want: []audit.RuleID{audit.RuleChainRejected}, forms: false, connects: false,
	},
	{
		rule: audit.RuleChainRejected, name: "peer.crt with a critical extension Go does not handle",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindPeer, func(x *x509.Certificate) {
				x.ExtraExtensions = append(x.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{0x05, 0x00}})
			})
		},
		want: []audit.RuleID{audit.RuleChainRejected}, forms: true, connects: false,
	},
	{
		rule: audit.RuleExtraCA, name: "an unknown CA appended to every member's ca.crt, no rotation in progress",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			stowaway := foreignCA(t, c)
			for _, m := range c.Names() {
				c.WriteCert(m, pki.KindCA, c.CA.Cert, stowaway.Cert)
			}
		},
		// Everything works; anyone with the stowaway's key is accepted.
		want: []audit.RuleID{audit.RuleExtraCA}, forms: true, connects: true,
	},
	{
		rule: audit.RuleFlagFile, name: "--cert-file climbs out of the member's tree with ..",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			// A valid certificate waits where an uncleaned path would lead
			// (outside cp2's tree); check must not read it.
			escaped := filepath.Join(c.MemberDir("cp2"), "etc/kubernetes/../../../../tmp/x.crt")
			data, err := os.ReadFile(c.CertPath("cp2", pki.KindServer))
			if err != nil {
				t.Fatal(err)
			}
			c.WriteFile(escaped, data, 0o644)
			c.EditFlags("cp2", func(f map[string]string) { f["cert-file"] = "/etc/kubernetes/../../../../tmp/x.crt" })
		},
		// The path is cleaned to the node's /tmp/x.crt, inside the tree,
		// where nothing is: etcd on the node would not find it either.
		want: []audit.RuleID{audit.RuleFlagFile}, forms: true, connects: false,
	},
	{
		rule: audit.RuleSettingsInvalid, name: "--listen-client-urls that etcd's flag set refuses",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) { f["listen-client-urls"] = "10.0.0.12:2379" })
		},
		// etcd does not start: cp2 is out, the others keep quorum.
		want: []audit.RuleID{audit.RuleSettingsInvalid}, forms: true, connects: false,
	},
	{
		rule: audit.RuleEtcdVersionFlag, name: "etcd 3.6's flags under a 3.5 image",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			// kubeadm 1.34's manifest with its image pinned back to 3.5:
			// etcd 3.5 exits on --feature-gates (interop's matrix tests
			// start the real 3.5 binary so).
			c.WriteSettings("cp2", func(cfg *render.Config) { cfg.Target.ImageTag = "3.5.24-0" })
		},
		want: []audit.RuleID{audit.RuleEtcdVersionFlag}, forms: true, connects: false,
	},
	{
		rule: audit.RuleKeyInCert, name: "server.crt with its key appended (mode 0644)",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			cert, err := os.ReadFile(c.CertPath("cp2", pki.KindServer))
			if err != nil {
				t.Fatal(err)
			}
			key, err := os.ReadFile(c.KeyPath("cp2", pki.KindServer))
			if err != nil {
				t.Fatal(err)
			}
			c.WriteFile(c.CertPath("cp2", pki.KindServer), append(cert, key...), 0o644)
		},
		// etcd loads it (crypto/tls skips the key block): nothing breaks,
		// but the key is world-readable.
		want: []audit.RuleID{audit.RuleKeyInCert}, forms: true, connects: true,
	},
	{
		rule: audit.RuleChainInFile, name: "server.crt with an unrelated CA appended",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			leaf := c.Reissue("cp2", pki.KindServer)
			c.WriteCert("cp2", pki.KindServer, leaf, foreignCA(t, c).Cert)
		},
		want: []audit.RuleID{audit.RuleChainInFile}, forms: true, connects: true,
	},
	{
		rule: audit.RuleClusterToken, name: "one member with another --initial-cluster-token",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) { f["initial-cluster-token"] = "other-cluster" })
		},
		want: []audit.RuleID{audit.RuleClusterToken}, forms: true, connects: false,
	},
	{
		rule: audit.RuleInitialCluster, name: "--initial-cluster without the member itself",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) {
				var keep []string
				for _, e := range strings.Split(f["initial-cluster"], ",") {
					if !strings.HasPrefix(e, "cp2=") {
						keep = append(keep, e)
					}
				}
				f["initial-cluster"] = strings.Join(keep, ",")
			})
		},
		want: []audit.RuleID{audit.RuleInitialCluster}, forms: true, connects: false,
	},
	{
		rule: audit.RuleSplitClusters, name: "every member's --initial-cluster lists only itself: three one-member clusters",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			for _, m := range c.Names() {
				c.EditFlags(m, func(f map[string]string) { f["initial-cluster"] = f["name"] + "=" + f["initial-advertise-peer-urls"] })
			}
		},
		want: []audit.RuleID{audit.RuleSplitClusters}, forms: false, connects: false,
	},
	{
		rule: audit.RuleCAMismatch, name: "only ca.crt swapped: the leaves and ca.key no longer fit it",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.WriteCert("cp3", pki.KindCA, foreignCA(t, c).Cert)
		},
		want: []audit.RuleID{audit.RuleServerCA, audit.RulePeerCA, audit.RuleClientCA, audit.RuleCAMismatch, audit.RuleCAKey},
		// cp3 is out; the other two keep quorum.
		forms: true, connects: false,
	},
	{
		rule: audit.RuleCAKey, name: "ca.key of another CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.WriteKey("cp2", pki.KindCA, testca.NewKey(t, c.Spec.Algorithm))
		},
		// Nothing fails until the node issues a cert with it.
		want: []audit.RuleID{audit.RuleCAKey}, forms: true, connects: true,
	},
	{
		rule: audit.RuleKeyMismatch, name: "server.key of another pair",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.WriteKey("cp2", pki.KindServer, testca.NewKey(t, c.Spec.Algorithm))
		},
		want: []audit.RuleID{audit.RuleKeyMismatch}, forms: true, connects: false,
	},
	{
		rule: audit.RuleKeyMismatch, name: "peer.key of another pair",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.WriteKey("cp1", pki.KindPeer, testca.NewKey(t, c.Spec.Algorithm))
		},
		// etcd does not start with a mismatched pair, so cp1's clients fail too.
		want: []audit.RuleID{audit.RuleKeyMismatch}, forms: true, connects: false,
	},
	{
		rule: audit.RuleSharedLeaf, name: "one server pair on two members, SANs naming both",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp1", pki.KindServer, testca.SANs("cp1", "cp2", "localhost", "10.0.0.11", "10.0.0.12", "127.0.0.1", "::1"))
			c.Copy(pki.KindServer, "cp1", "cp2")
		},
		want: []audit.RuleID{audit.RuleSharedLeaf}, forms: true, connects: true,
	},
	{
		rule: audit.RuleSharedLeaf, name: "peer pair copied as is: the copy does not name its new member",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Copy(pki.KindPeer, "cp1", "cp2")
		},
		want: []audit.RuleID{audit.RuleSharedLeaf, audit.RulePeerSAN}, forms: true, connects: false,
	},
	{
		rule: audit.RuleServerSAN, name: "server.crt lacks the member's IP",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.SANs("cp2", "localhost", "127.0.0.1", "::1"))
		},
		want: []audit.RuleID{audit.RuleServerSAN}, forms: true, connects: false,
	},
	{
		rule: audit.RuleServerSAN, name: "server.crt names another member's IP (spec, no manifest)",
		noManifests: true,
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.SANs("cp2", "localhost", "10.0.0.11", "127.0.0.1", "::1"))
		},
		want: []audit.RuleID{audit.RuleServerSAN}, forms: true, connects: false,
	},
	{
		rule: audit.RuleServerLoopback, name: "server.crt lacks 127.0.0.1",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.SANs("cp2", "localhost", "10.0.0.12", "::1"))
		},
		want: []audit.RuleID{audit.RuleServerLoopback}, forms: true, connects: false,
	},
	{
		rule: audit.RulePeerSAN, name: "peer.crt lacks the member's IP",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindPeer, testca.SANs("cp2", "localhost", "127.0.0.1", "::1"))
		},
		want: []audit.RuleID{audit.RulePeerSAN}, forms: true, connects: false,
	},
	{
		rule: audit.RulePeerClientSAN, name: "split: peer-client.crt names another address",
		opts: testca.Options{Split: true},
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindPeerClient, testca.SANs("cp2.example.com", "10.9.9.9"))
		},
		want: []audit.RuleID{audit.RulePeerClientSAN}, forms: true, connects: true,
	},
	{
		rule: audit.RuleEKUServer, name: "server.crt with clientAuth only",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.EKU(x509.ExtKeyUsageClientAuth))
		},
		want: []audit.RuleID{audit.RuleEKUServer}, forms: true, connects: false,
	},
	{
		rule: audit.RuleEKUServerGateway, name: "server.crt without clientAuth, no --client-cert-file",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.EKU(x509.ExtKeyUsageServerAuth))
		},
		want: []audit.RuleID{audit.RuleEKUServerGateway}, forms: true, connects: false,
	},
	{
		rule: audit.RuleEKUPeerServer, name: "peer.crt with clientAuth only",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindPeer, testca.EKU(x509.ExtKeyUsageClientAuth))
		},
		want: []audit.RuleID{audit.RuleEKUPeerServer}, forms: true, connects: true,
	},
	{
		rule: audit.RuleEKUPeerClient, name: "peer.crt without clientAuth, no --peer-client-cert-file",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindPeer, testca.EKU(x509.ExtKeyUsageServerAuth))
		},
		want: []audit.RuleID{audit.RuleEKUPeerClient}, forms: true, connects: true,
	},
	{
		rule: audit.RuleEKUPeerClient, name: "split: peer-client.crt with serverAuth only",
		opts: testca.Options{Split: true},
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindPeerClient, testca.EKU(x509.ExtKeyUsageServerAuth))
		},
		want: []audit.RuleID{audit.RuleEKUPeerClient}, forms: true, connects: true,
	},
	{
		rule: audit.RuleEKUClient, name: "healthcheck-client.crt with serverAuth only",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindHealthcheckClient, testca.EKU(x509.ExtKeyUsageServerAuth))
		},
		want: []audit.RuleID{audit.RuleEKUClient}, forms: true, connects: false,
	},
	{
		rule: audit.RuleExpired, name: "server.crt expired yesterday",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.Validity(c.Now.AddDate(-1, 0, 0), c.Now.AddDate(0, 0, -1)))
		},
		want: []audit.RuleID{audit.RuleExpired}, forms: true, connects: false,
	},
	{
		rule: audit.RuleExpired, name: "peer.crt expired on two members: no quorum",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			for _, m := range []string{"cp1", "cp3"} {
				c.Reissue(m, pki.KindPeer, testca.Validity(c.Now.AddDate(-1, 0, 0), c.Now.Add(-time.Hour)))
			}
		},
		want: []audit.RuleID{audit.RuleExpired}, forms: false, connects: false,
	},
	{
		rule: audit.RuleNotYetValid, name: "peer.crt valid from tomorrow",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindPeer, testca.Validity(c.Now.AddDate(0, 0, 1), c.Now.AddDate(1, 0, 0)))
		},
		want: []audit.RuleID{audit.RuleNotYetValid}, forms: true, connects: false,
	},
	{
		rule: audit.RuleExpiring, name: "server.crt expires in 10 days",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.Validity(c.Now.Add(-time.Hour), c.Now.AddDate(0, 0, 10)))
		},
		want: []audit.RuleID{audit.RuleExpiring}, forms: true, connects: true,
	},
	{
		rule: audit.RuleCAExpiresFirst, name: "server.crt outlives the CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.Validity(c.Now.Add(-time.Hour), c.CA.Cert.NotAfter.AddDate(1, 0, 0)))
		},
		want: []audit.RuleID{audit.RuleCAExpiresFirst}, forms: true, connects: true,
	},
	{
		rule: audit.RuleNotCA, name: "ca.crt has CA:FALSE (and signed every leaf)",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.UseCA(testca.NewCA(t, c.Spec.Algorithm, c.Now, testca.NotCA()), c.Names()...)
		},
		want: []audit.RuleID{audit.RuleNotCA}, forms: false, connects: false,
	},
	{
		rule: audit.RuleNotCA, name: "ca.crt lacks keyCertSign",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			noSign := func(x *x509.Certificate) { x.KeyUsage = x509.KeyUsageDigitalSignature }
			c.UseCA(testca.NewCA(t, c.Spec.Algorithm, c.Now, noSign), c.Names()...)
		},
		want: []audit.RuleID{audit.RuleNotCA}, forms: false, connects: false,
	},
	{
		rule: audit.RuleCertAuthImplied, name: "--client-cert-auth=false with a trusted CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.WriteSettings("cp2", func(cfg *render.Config) { cfg.ClientCertAuth = false })
		},
		// etcd still verifies client certs (a trusted CA implies it): a warning.
		want: []audit.RuleID{audit.RuleCertAuthImplied}, forms: true, connects: true,
	},
	{
		rule: audit.RuleClientCertAuth, name: "no --client-cert-auth and no --trusted-ca-file",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.WriteSettings("cp2", func(cfg *render.Config) { cfg.ClientCertAuth, cfg.TrustedCAFile = false, "" })
		},
		want: []audit.RuleID{audit.RuleClientCertAuth, audit.RuleTrustedCA}, forms: true, connects: false,
	},
	{
		rule: audit.RulePeerClientCert, name: "--peer-client-cert-auth=false and no --peer-trusted-ca-file",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) {
				f["peer-client-cert-auth"] = "false"
				delete(f, "peer-trusted-ca-file")
			})
		},
		want: []audit.RuleID{audit.RulePeerClientCert, audit.RuleTrustedCA}, forms: true, connects: false,
	},
	{
		rule: audit.RuleCertAuthImplied, name: "--peer-client-cert-auth=false with a trusted CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.WriteSettings("cp2", func(cfg *render.Config) { cfg.PeerClientCertAuth = false })
		},
		want: []audit.RuleID{audit.RuleCertAuthImplied}, forms: true, connects: true,
	},
	{
		rule: audit.RuleAutoTLS, name: "--peer-auto-tls=true",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) { f["peer-auto-tls"] = "true" })
		},
		want: []audit.RuleID{audit.RuleAutoTLS}, forms: true, connects: true,
	},
	{
		rule: audit.RuleTrustedCA, name: "no --trusted-ca-file",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) { delete(f, "trusted-ca-file") })
		},
		want: []audit.RuleID{audit.RuleTrustedCA}, forms: true, connects: false,
	},
	{
		rule: audit.RuleTrustedCA, name: "no --peer-trusted-ca-file",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) { delete(f, "peer-trusted-ca-file") })
		},
		want: []audit.RuleID{audit.RuleTrustedCA}, forms: true, connects: false,
	},
	{
		rule: audit.RuleFlagFile, name: "--cert-file names a file that is not there",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) { f["cert-file"] = "/etc/kubernetes/pki/etcd/etcd-server.crt" })
		},
		want: []audit.RuleID{audit.RuleFlagFile}, forms: true, connects: false,
	},
	{
		rule: audit.RuleFlagFile, name: "--peer-key-file missing",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			if err := os.Remove(c.KeyPath("cp2", pki.KindPeer)); err != nil {
				t.Fatal(err)
			}
		},
		// etcd does not start: cp2 is out and its clients fail.
		want: []audit.RuleID{audit.RuleFlagFile}, forms: true, connects: false,
	},
	{
		rule: audit.RuleFlagFile, name: "--cert-file outside a copy of /etc/kubernetes",
		dirs: func(c *testca.Cluster) []string {
			var dirs []string
			for _, m := range c.Names() {
				dirs = append(dirs, c.Path(m, "/etc/kubernetes"))
			}
			return dirs
		},
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.EditFlags("cp2", func(f map[string]string) { f["cert-file"] = "/srv/etcd/server.crt" })
		},
		// The file may well be on the node: nothing is known to break.
		want: []audit.RuleID{audit.RuleFlagFile}, forms: true, connects: true,
	},
	{
		rule: audit.RuleAPIServer, name: "kube-apiserver --etcd-cafile is the Kubernetes CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.K8sCA("cp1", testca.NewCA(t, c.Spec.Algorithm, c.Now))
			c.WriteAPIServerManifest("cp1", func(f map[string]string) { f["etcd-cafile"] = "/etc/kubernetes/pki/ca.crt" })
		},
		want: []audit.RuleID{audit.RuleAPIServer}, forms: true, connects: false,
	},
	{
		rule: audit.RuleAPIServer, name: "kube-apiserver --etcd-certfile from the Kubernetes CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			k8s := testca.NewCA(t, c.Spec.Algorithm, c.Now)
			c.K8sCA("cp1", k8s)
			key := testca.NewKey(t, c.Spec.Algorithm)
			cert := testca.Issue(t, k8s, pki.Request{Kind: pki.KindAPIServerClient}, key, c.Now)
			c.WriteFile(c.Path("cp1", "/etc/kubernetes/pki/apiserver-kubelet-client.crt"), pki.EncodeCert(cert), 0o644)
			keyPEM, err := pki.EncodeKey(key)
			if err != nil {
				t.Fatal(err)
			}
			c.WriteFile(c.Path("cp1", "/etc/kubernetes/pki/apiserver-kubelet-client.key"), keyPEM, 0o600)
			c.WriteAPIServerManifest("cp1", func(f map[string]string) {
				f["etcd-certfile"] = "/etc/kubernetes/pki/apiserver-kubelet-client.crt"
				f["etcd-keyfile"] = "/etc/kubernetes/pki/apiserver-kubelet-client.key"
			})
		},
		want: []audit.RuleID{audit.RuleAPIServer}, forms: true, connects: false,
	},
	{
		rule: audit.RuleAPIServer, name: "kube-apiserver without --etcd-keyfile",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.WriteAPIServerManifest("cp3", func(f map[string]string) { delete(f, "etcd-keyfile") })
		},
		want: []audit.RuleID{audit.RuleAPIServer}, forms: true, connects: false,
	},
	{
		rule: audit.RuleSharedK8sCA, name: "pki/ca.crt is the etcd CA",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.K8sCA("cp2", c.CA)
		},
		want: []audit.RuleID{audit.RuleSharedK8sCA}, forms: true, connects: true,
	},
	{
		rule: audit.RuleKeyPerm, name: "server.key mode 0644",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			chmod(t, c.KeyPath("cp2", pki.KindServer), 0o644)
		},
		want: []audit.RuleID{audit.RuleKeyPerm}, forms: true, connects: true,
	},
	{
		rule: audit.RuleKeyPerm, name: "ca.key mode 0640",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			chmod(t, c.KeyPath("cp1", pki.KindCA), 0o640)
		},
		want: []audit.RuleID{audit.RuleKeyPerm}, forms: true, connects: true,
	},
	{
		rule: audit.RuleCertPerm, name: "ca.crt mode 0666",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			chmod(t, c.CertPath("cp3", pki.KindCA), 0o666)
		},
		want: []audit.RuleID{audit.RuleCertPerm}, forms: true, connects: true,
	},
	{
		rule: audit.RuleWeakKey, name: "server key RSA 1024",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.ReissueFrom(c.CA, "cp2", pki.KindServer, testca.RSAKey(t, 1024))
		},
		want: []audit.RuleID{audit.RuleWeakKey}, forms: true, connects: true,
	},
	{
		rule: audit.RuleWeakSignature, name: "peer.crt signed with SHA-1 (RSA CA)",
		opts: testca.Options{Algorithm: pki.RSA2048},
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindPeer, testca.Signature(x509.SHA1WithRSA))
		},
		want: []audit.RuleID{audit.RuleWeakSignature}, forms: true, connects: false,
	},
	{
		rule: audit.RuleWeakSignature, name: "server.crt signed with ECDSA-SHA1",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			c.Reissue("cp2", pki.KindServer, testca.Signature(x509.ECDSAWithSHA1))
		},
		want: []audit.RuleID{audit.RuleWeakSignature}, forms: true, connects: false,
	},
	{
		rule: audit.RuleFileMissing, name: "peer.key missing (spec, no manifest)",
		noManifests: true,
		breakIt: func(t *testing.T, c *testca.Cluster) {
			if err := os.Remove(c.KeyPath("cp2", pki.KindPeer)); err != nil {
				t.Fatal(err)
			}
		},
		want: []audit.RuleID{audit.RuleFileMissing}, forms: true, connects: false,
	},
	{
		rule: audit.RuleFileMissing, name: "healthcheck-client.key missing next to its cert",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			if err := os.Remove(c.KeyPath("cp1", pki.KindHealthcheckClient)); err != nil {
				t.Fatal(err)
			}
		},
		want: []audit.RuleID{audit.RuleFileMissing}, forms: true, connects: false,
	},
	{
		rule: audit.RuleFileInvalid, name: "server.crt truncated",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			truncate(t, c.CertPath("cp2", pki.KindServer))
		},
		want: []audit.RuleID{audit.RuleFileInvalid}, forms: true, connects: false,
	},
	{
		rule: audit.RuleFileInvalid, name: "ca.crt truncated",
		breakIt: func(t *testing.T, c *testca.Cluster) {
			truncate(t, c.CertPath("cp2", pki.KindCA))
		},
		want: []audit.RuleID{audit.RuleFileInvalid}, forms: true, connects: false,
	},
	{
		rule: audit.RuleInferred, name: "bare pki directories, no manifest or spec",
		dirs: func(c *testca.Cluster) []string {
			var dirs []string
			for _, m := range c.Names() {
				dirs = append(dirs, c.PKIDir(m))
			}
			return dirs
		},
		breakIt: func(t *testing.T, c *testca.Cluster) {},
		want:    []audit.RuleID{audit.RuleInferred}, forms: true, connects: true,
	},
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// truncate cuts a file in half, as an interrupted copy leaves it; a static
// pod manifest is cut in the middle of its command line, where the
// settings are (a cut after them would leave a manifest that still reads
// as the whole one).
func truncate(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cut := len(data) / 2
	if start := bytes.Index(data, []byte("command:")); start >= 0 {
		if end := bytes.Index(data[start:], []byte("image:")); end > 0 {
			cut = start + end/2
		}
	}
	if err := os.WriteFile(p, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFaultMatrix breaks a clean PKI in one way per row and requires
// exactly the expected rules and verdict: a fault that fires an extra rule
// is as much a failure as one that is missed.
// build writes the row's cluster, breaks it, and returns it with the
// directories to check.
func (f fault) build(t *testing.T) (*testca.Cluster, []string) {
	t.Helper()
	opts := f.opts
	opts.Manifests = !f.noManifests
	c := testca.New(t, opts)
	f.breakIt(t, c)
	dirs := []string{c.Dir}
	if f.dirs != nil {
		dirs = f.dirs(c)
	}
	return c, dirs
}

func TestFaultMatrix(t *testing.T) {
	for _, f := range faults {
		t.Run(string(f.rule)+"/"+f.name, func(t *testing.T) {
			t.Parallel()
			c, dirs := f.build(t)
			r, err := audit.CheckDirs(dirs, audit.Options{Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(f.want)
			slices.Sort(want)
			if got := r.RuleIDs(); !slices.Equal(got, want) {
				t.Errorf("rules = %v, want %v\n%s", got, want, findings(r))
			}
			if r.Verdict.ClusterForms != f.forms || r.Verdict.ClientsConnect != f.connects {
				t.Errorf("verdict: forms=%t connects=%t, want forms=%t connects=%t\n%s\n%s",
					r.Verdict.ClusterForms, r.Verdict.ClientsConnect, f.forms, f.connects, r.Verdict.Summary, findings(r))
			}
			for _, fd := range r.Findings {
				if fd.Rule == f.rule && fd.Member == "" {
					t.Errorf("%s fired without naming a member: %v", f.rule, fd.Error())
				}
				// The fix names the command for this member (remedy_test.go
				// checks which), never init --force on a member.
				for _, bad := range []string{"init --force", "MEMBER_DIR", " KIND", "OUT_DIR"} {
					if strings.Contains(fd.Fix, bad) {
						t.Errorf("%s fix contains %q: %s", fd.Rule, bad, fd.Fix)
					}
				}
			}
		})
	}
}

// TestRotationBundleIsNotR2: in the middle of a CA rotation some members
// trust the bundle old+new while every leaf is still from the old CA. The
// members' CA files differ, but every member trusts every leaf, so R2 must
// not fire (the unsafe order, a leaf from the new CA too early, is a row
// of the matrix above).
func TestRotationBundleIsNotR2(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	next := foreignCA(t, c)
	c.WriteCert("cp1", pki.KindCA, c.CA.Cert, next.Cert)
	// rotate-ca stage records the next CA; without it the second CA
	// would be a stowaway (R2-EXTRA-CA).
	c.WriteFile(filepath.Join(layout.NextCADir(c.Dir), "ca.crt"), pki.EncodeCert(next.Cert), 0o644)
	r, err := audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if ids := r.RuleIDs(); len(ids) != 0 {
		t.Errorf("mid-rotation bundle: rules %v, want none", ids)
	}
}

// TestFaultMatrixCoversCatalogue makes a new offline rule come with a fault.
func TestFaultMatrixCoversCatalogue(t *testing.T) {
	covered := map[audit.RuleID]bool{}
	for _, f := range faults {
		if !slices.Contains(f.want, f.rule) {
			t.Errorf("row %q exists for %s but does not expect it", f.name, f.rule)
		}
		covered[f.rule] = true
	}
	// Rules only a distribution's own layout shows are covered by the
	// distribution fixtures instead.
	elsewhere := map[audit.RuleID]string{audit.RuleOtherKeys: "TestDistributionsClean (kubespray, OpenShift)"}
	for _, r := range audit.Catalogue() {
		if elsewhere[r.ID] != "" {
			continue
		}
		if r.Live {
			// Live rules: only a running cluster can break them, and
			// package probe's tests do.
			continue
		}
		if r.Explained {
			// explain names them from messages: TestExplainCorpus and
			// TestExplainSpecific hold them.
			continue
		}
		if !covered[r.ID] {
			t.Errorf("no fault-matrix row for %s: add one to faults in %s", r.ID, "faultmatrix_test.go")
		}
	}
}

// findings renders a report's findings for a failure message.
func findings(r *audit.Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString("  ")
		b.WriteString(f.Error())
		b.WriteString(" [breaks " + f.Breaks + "]\n")
	}
	return b.String()
}

// TestSplitVerdict: three members that each list only themselves are
// three one-member clusters, and the verdict says so.
func TestSplitVerdict(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	for _, m := range c.Names() {
		c.EditFlags(m, func(f map[string]string) { f["initial-cluster"] = f["name"] + "=" + f["initial-advertise-peer-urls"] })
	}
	r, err := audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict.ClusterForms || !strings.Contains(r.Verdict.Summary, "3 separate clusters, not one of 3") {
		t.Errorf("verdict %+v", r.Verdict)
	}
}

// TestTLSLoadableFilesAreClean: key files crypto/tls loads (and so etcd)
// draw nothing: EC PARAMETERS before the key (openssl ecparam -genkey's
// default output), and a key file with its certificate appended.
func TestTLSLoadableFilesAreClean(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	key, err := os.ReadFile(c.KeyPath("cp1", pki.KindPeer))
	if err != nil {
		t.Fatal(err)
	}
	params := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
	c.WriteFile(c.KeyPath("cp1", pki.KindPeer), append([]byte(params), key...), 0o600)
	cert, err := os.ReadFile(c.CertPath("cp2", pki.KindPeer))
	if err != nil {
		t.Fatal(err)
	}
	pkey, err := os.ReadFile(c.KeyPath("cp2", pki.KindPeer))
	if err != nil {
		t.Fatal(err)
	}
	c.WriteFile(c.KeyPath("cp2", pki.KindPeer), append(pkey, cert...), 0o600)
	for _, m := range []string{"cp1", "cp2"} {
		if _, err := tls.LoadX509KeyPair(c.CertPath(m, pki.KindPeer), c.KeyPath(m, pki.KindPeer)); err != nil {
			t.Fatalf("%s: crypto/tls refuses the pair: %v", m, err)
		}
	}
	r, err := audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 {
		t.Errorf("files etcd loads drew findings:\n%s", findings(r))
	}
}
