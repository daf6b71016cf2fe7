package audit

import (
	"fmt"
	"strings"
)

// Severity ranks a finding.
type Severity int

// Severities, lowest first. The zero value is Info.
const (
	Info Severity = iota
	Warning
	Error
)

var severityNames = []string{"info", "warning", "error"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText writes the severity's name, so JSON and YAML reports say
// "error" rather than 2.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses "info", "warning" (or "warn") or "error".
func ParseSeverity(name string) (Severity, error) {
	switch strings.ToLower(name) {
	case "info":
		return Info, nil
	case "warning", "warn":
		return Warning, nil
	case "error":
		return Error, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warning or error)", name)
}

// RuleID is a rule's stable identifier, e.g. "R2-PEER-TRUST": scripts
// and dashboards key on it. The constants below are the only values the
// checker fires.
type RuleID string

// Rule is one entry of the rule catalogue. The catalogue is the single
// source of rule IDs, severities, explanations, the error texts that
// explain matches, and docs/rules.md (generated from it).
type Rule struct {
	// ID is stable: scripts and dashboards key on it.
	ID       RuleID
	Severity Severity
	// Condition is the seed condition (R1–R4) the rule enforces, if any.
	Condition string
	// Title says what the rule checks, in one line.
	Title string
	// Why explains what breaks at runtime when the rule is violated.
	Why string
	// Errors are texts that etcd, Go's TLS stack or clients print when the
	// rule is violated, old and new Go wordings; explain matches them.
	Errors []string
	// Fix says how to repair it, in kubeadm's terms, naming the etcdpki
	// command that does where one does. MEMBER_DIR, NAME, KIND,
	// HEALTHY_MEMBER_DIR, OUT_DIR and MEMBER_DIRS stand for the member's
	// values, which check fills in (a finding's Fix); a parenthesis that
	// opens with distribution names, "(kubeadm: …)" or "(k3s/RKE2: …)",
	// is for those only, and is left out where the finding names the
	// distribution's own remedy.
	Fix string
	// FixCA, when set, is the fix when the file at fault is a CA rather
	// than a leaf (a CA is rotated, not renewed).
	FixCA string
	// Live rules are fired only by the live probe.
	Live bool
	// Observed is what real etcd (3.7, Go 1.26) did when the rule was
	// broken in `etcdpki demo` (the fault named in it), as the demo
	// fault-matrix test reproduces it; empty when no fault shows it.
	Observed string
	// APIServer is what a real kube-apiserver (v1.34.4) logged when the
	// rule was broken under it (interop's TestKubeAPIServer), where it was.
	APIServer string
	// Explained rules are named only by explain: the cause is in a
	// client, the network or the running process, not in the member's
	// files, so check and probe do not fire them.
	Explained bool
}

// Rule IDs. They are constants so the checker cannot fire an ID the
// catalogue lacks (TestCatalogue checks the reverse).
const (
	RuleServerCA         RuleID = "R1-SERVER-CA"
	RulePeerCA           RuleID = "R1-PEER-CA"
	RuleClientCA         RuleID = "R1-CLIENT-CA"
	RuleCAMismatch       RuleID = "R2-CA-MISMATCH"
	RuleCAKey            RuleID = "R2-CA-KEY"
	RuleKeyMismatch      RuleID = "R3-KEY-MISMATCH"
	RuleSharedLeaf       RuleID = "R3-SHARED-LEAF"
	RuleServerSAN        RuleID = "R4-SERVER-SAN"
	RuleServerLoopback   RuleID = "R4-SERVER-LOOPBACK"
	RulePeerSAN          RuleID = "R4-PEER-SAN"
	RulePeerClientSAN    RuleID = "R4-PEER-CLIENT-SAN"
	RuleEKUServer        RuleID = "EKU-SERVER"
	RuleEKUServerGateway RuleID = "EKU-SERVER-GATEWAY"
	RuleEKUPeerServer    RuleID = "EKU-PEER-SERVER"
	RuleEKUPeerClient    RuleID = "EKU-PEER-CLIENT"
	RuleEKUClient        RuleID = "EKU-CLIENT"
	RuleExpired          RuleID = "VALID-EXPIRED"
	RuleNotYetValid      RuleID = "VALID-NOT-YET"
	RuleExpiring         RuleID = "VALID-EXPIRING"
	RuleCAExpiresFirst   RuleID = "VALID-CA-FIRST"
	RuleNotCA            RuleID = "CA-NOT-CA"
	RuleClientCertAuth   RuleID = "FLAG-CLIENT-CERT-AUTH"
	RulePeerClientCert   RuleID = "FLAG-PEER-CLIENT-CERT-AUTH"
	RuleAutoTLS          RuleID = "FLAG-AUTO-TLS"
	RuleTrustedCA        RuleID = "FLAG-TRUSTED-CA"
	RuleFlagFile         RuleID = "FLAG-FILE"
	RuleAPIServer        RuleID = "APISERVER-ETCD"
	RuleSharedK8sCA      RuleID = "CIS-SHARED-CA"
	RuleKeyPerm          RuleID = "CIS-KEY-PERM"
	RuleCertPerm         RuleID = "CIS-CERT-PERM"
	RuleWeakKey          RuleID = "WEAK-KEY"
	RuleWeakSignature    RuleID = "WEAK-SIGNATURE"
	RuleFileMissing      RuleID = "FILE-MISSING"
	RuleFileInvalid      RuleID = "FILE-INVALID"
	RuleInferred         RuleID = "INPUT-INFERRED"
	RulePeerTrust        RuleID = "R2-PEER-TRUST"
	RuleClientTrust      RuleID = "R2-CLIENT-TRUST"
	RuleOtherKeys        RuleID = "NODE-OTHER-KEYS"
	RuleInitialCluster   RuleID = "MEMBERSHIP-INITIAL-CLUSTER"
	RuleClusterToken     RuleID = "MEMBERSHIP-TOKEN"
	RuleSplitClusters    RuleID = "MEMBERSHIP-SPLIT"
	RuleCertAuthImplied  RuleID = "FLAG-CLIENT-CERT-AUTH-IMPLIED"
	RuleChainInFile      RuleID = "FILE-EXTRA-CERTS"
	RuleKeyInCert        RuleID = "KEY-IN-CERT-FILE"
	RuleChainRejected    RuleID = "CHAIN-REJECTED"
	RuleExtraCA          RuleID = "R2-EXTRA-CA"
	RuleSettingsInvalid  RuleID = "SETTINGS-INVALID"
	RuleEtcdVersionFlag  RuleID = "FLAG-ETCD-VERSION"
	// Rules only explain names.
	RuleClientNoCA      RuleID = "CLIENT-NO-CA"
	RuleClientNoCert    RuleID = "CLIENT-NO-CERT"
	RuleClientPlaintext RuleID = "CLIENT-PLAINTEXT"
	RuleClientWrongHost RuleID = "CLIENT-WRONG-HOST"
	RulePeerNAT         RuleID = "PEER-NAT"
	RuleFileUnreadable  RuleID = "FILE-UNREADABLE"
	// Rules only the live probe fires.
	RuleProbeDiscovery     RuleID = "PROBE-DISCOVERY"
	RuleProbeUnreachable   RuleID = "PROBE-UNREACHABLE"
	RuleProbeNotTLS        RuleID = "PROBE-NOT-TLS"
	RuleProbeNotEtcd       RuleID = "PROBE-NOT-ETCD"
	RuleProbeClientRefused RuleID = "PROBE-CLIENT-REFUSED"
	RuleProbeNoClientAuth  RuleID = "PROBE-NO-CLIENT-AUTH"
	RuleProbeForeignCA     RuleID = "PROBE-FOREIGN-CA"
	RuleProbeOldTLS        RuleID = "PROBE-OLD-TLS"
	RuleProbeDiskMismatch  RuleID = "PROBE-DISK-MISMATCH"
)

const (
	unknownAuthority     = "x509: certificate signed by unknown authority"
	failedVerifyClient   = "tls: failed to verify client's certificate: x509: certificate signed by unknown authority"
	failedVerify         = "tls: failed to verify certificate: x509: certificate signed by unknown authority"
	badCertificate       = "remote error: tls: bad certificate"
	unknownCA            = "remote error: tls: unknown certificate authority"
	incompatibleKeyUsage = "x509: certificate specifies an incompatible key usage"
	// A client cert with the wrong usage is reported by the accepting side,
	// which etcd logs as a rejected connection.
	clientKeyUsage        = "rejected connection … x509: certificate specifies an incompatible key usage"
	oldClientUsage        = "tls: failed to verify client's certificate: x509: certificate specifies an incompatible key usage"
	expiredOrNotYetValid  = "x509: certificate has expired or is not yet valid"
	validForNot           = "x509: certificate is valid for"
	keyMismatch           = "tls: private key does not match public key"
	clientDidNotProvide   = "tls: client didn't provide a certificate"
	certificateRequired   = "remote error: tls: certificate required"
	expiredCertificate    = "remote error: tls: expired certificate"
	unsupportedCertificat = "remote error: tls: unsupported certificate"
)

// catalogue is every rule, in the order reports and docs list them. It
// is not exported: callers get copies ([Catalogue], [LookupRule]), so no
// one can change a severity the docs state.
var catalogue = []Rule{
	{
		ID: RuleServerCA, Severity: Error, Condition: "R1",
		Title: "server.crt is signed by the member's etcd CA (ca.crt)",
		Why: "Clients verify the client port's certificate against the etcd CA they were given (kube-apiserver's --etcd-cafile, etcdctl's --cacert). " +
			"A server cert from another CA fails the handshake on the client side, so kube-apiserver cannot reach etcd.",
		Errors: []string{unknownAuthority, failedVerify, badCertificate, unknownCA},
		Fix:    "Re-issue server.crt from the cluster's etcd CA, with the CA key on the node: etcdpki renew MEMBER_DIR --kind KIND (kubeadm: kubeadm certs renew etcd-server). If check finds server.crt signed by the CA and only one client fails, the client was given no CA or another one (CLIENT-NO-CA): fix the client's --cacert, not the certificate.",
	},
	{
		ID: RulePeerCA, Severity: Error, Condition: "R1",
		Title: "peer.crt (and peer-client.crt) is signed by the member's etcd CA",
		Why: "On port 2380 each member verifies the other's peer certificate both ways: as a server cert when it dials and as a client cert when it accepts. " +
			"A peer cert from another CA is rejected by every other member, so the member cannot join and the cluster may lose quorum.",
		Errors:   []string{unknownAuthority, failedVerify, failedVerifyClient, badCertificate, unknownCA},
		Fix:      "Re-issue peer.crt (or peer-client.crt) from the cluster's etcd CA, with the CA key on the node: etcdpki renew MEMBER_DIR --kind KIND (kubeadm: kubeadm certs renew etcd-peer).",
		Observed: "Fault r1-peer-ca (etcd-3's peer.crt from a foreign CA): etcd-1 and etcd-2 log \"rejected connection on peer endpoint: tls: failed to verify certificate: x509: certificate signed by unknown authority\" and \"failed to reach the peer URL: … certificate signed by unknown authority\"; etcd-3 logs \"remote error: tls: bad certificate\" and \"failed to publish local member to cluster through raft: context deadline exceeded\". The other two keep quorum and serve; etcd-3 never becomes ready, and since etcd serves its client port only once ready, its client port accepts TCP but never completes a TLS handshake (probe: PROBE-UNREACHABLE there). Hosts mode (`demo --hosts netns`: each member a separate etcd process in its own network namespace) shows the same.",
	},
	{
		ID: RuleClientCA, Severity: Error, Condition: "R1",
		Title: "client certs (healthcheck-client, apiserver-etcd-client, server-client) are signed by the etcd CA",
		Why: "etcd authenticates client certs against --trusted-ca-file. A client cert from another CA (commonly the Kubernetes CA) is refused during the handshake, " +
			"so kube-apiserver or the liveness probe cannot connect.",
		Errors: []string{failedVerifyClient, failedVerify, badCertificate, unknownCA},
		Fix:    "Re-issue the client certificate from the etcd CA: etcdpki renew MEMBER_DIR --kind KIND (kubeadm: kubeadm certs renew apiserver-etcd-client or etcd-healthcheck-client). kube-apiserver reads its client certificate at start: restart it after renewing that one.",
	},
	{
		ID: RuleCAMismatch, Severity: Error, Condition: "R2",
		Title: "every member holds the same etcd CA (compared by fingerprint)",
		Why: "When member B dials A, B verifies A's peer cert with B's ca.crt, and A verifies B's credential with A's ca.crt. " +
			"Each member's leaves are signed by its own CA, so if the CAs differ the members reject each other and the cluster cannot form.",
		Errors:   []string{unknownAuthority, failedVerify, failedVerifyClient, badCertificate, unknownCA},
		Fix:      "Give the member the cluster's CA and certificates issued from it: etcdpki replace-member HEALTHY_MEMBER_DIR --member NAME --out OUT_DIR issues them from a healthy member's CA, etcdpki install --from OUT_DIR/NAME, run on the member's node, puts them in place, and a restart of etcd there loads the CA, which it reads at start (kubeadm: copy etcd/ca.crt and etcd/ca.key from a healthy control-plane node, then kubeadm certs renew etcd-server etcd-peer etcd-healthcheck-client apiserver-etcd-client). The etcdctl member remove/add sequence replace-member prints is for a rebuilt node, whose data is gone. When no two members share a CA, etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize, moves them all to one.",
		Observed: "Fault r2-own-ca (etcd-3 with a CA of its own): as r1-peer-ca, and when both CAs are called etcd-ca Go adds (possibly because of \"x509: ECDSA verification failure\" while trying to verify candidate authority certificate \"etcd-ca\"). Probe tells R2 from R1 live: etcd-3 serves a cert the cluster CA does not verify and refuses the cluster's client cert (PROBE-CLIENT-REFUSED). Hosts mode (`demo --hosts netns`: each member a separate etcd process in its own network namespace) shows the same.",
	},
	{
		ID: RuleExtraCA, Severity: Error, Condition: "R2",
		Title: "every CA in a trusted CA bundle signs something of the cluster (or is the next CA of a rotation in progress)",
		Why: "etcd trusts every certificate in --trusted-ca-file and --peer-trusted-ca-file. A CA that signs none of the cluster's certificates only widens who is accepted: " +
			"anyone holding its key connects as a client (reading every Kubernetes Secret) or as a peer. Mid-rotation the new CA is expected there; anything else is a stowaway.",
		Fix: "Remove the CA from the bundle (keep the cluster's CA only), then restart etcd one member at a time (it reads its trusted CAs at start). The old CA of a CA rotation is dropped by etcdpki rotate-ca finalize MEMBER_DIRS; a rotation starts with etcdpki rotate-ca stage MEMBER_DIRS, which records the next CA, so that check expects it.",
	},
	{
		ID: RuleCAKey, Severity: Error, Condition: "R2",
		Title:  "ca.key belongs to ca.crt",
		Why:    "A CA key that does not match the CA cert signs certificates nobody trusts: every leaf issued on this node (kubeadm certs renew, join) fails verification.",
		Errors: []string{"private key does not match public key"},
		Fix:    "Restore the ca.key that belongs to ca.crt from a member that holds it (kubeadm: another control-plane node's etcd/ca.key). If no member does, the CA can sign nothing more: move the cluster to a new CA with etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says.",
	},
	{
		ID: RuleKeyMismatch, Severity: Error, Condition: "R3",
		Title:  "each private key matches its certificate",
		Why:    "etcd loads every cert/key pair at start (and the leaves again per handshake); a mismatched pair makes etcd fail to start or fail every handshake.",
		Errors: []string{keyMismatch, "private key does not match public key"},
		Fix:    "Put the key that belongs to the certificate next to it, or issue a new pair: etcdpki renew MEMBER_DIR --kind KIND (kubeadm: kubeadm certs renew).",
	},
	{
		ID: RuleSharedLeaf, Severity: Warning, Condition: "R3",
		Title: "no two members share a leaf key or certificate",
		Why: "Any cert signed by the shared CA works, so a copied leaf is legal, but one leaked key then impersonates every member that holds it, " +
			"and its SANs must cover all of them (or the copy fails R4 on the other nodes).",
		Fix:      "Give each member that holds the copy a key and certificate of its own: etcdpki renew MEMBER_DIR --kind KIND on each, which issues a new key with the SANs of that member's settings (--remove-ip drops another member's address that the copy names; kubeadm: kubeadm certs renew on each node, which keeps the copy's SANs).",
		Observed: "Fault shared-leaf (one server and one peer key pair, naming all members, on every member): everything works; probe sees the same key served by every member. Hosts mode (`demo --hosts netns`: each member a separate etcd process in its own network namespace) shows the same.",
	},
	{
		ID: RuleServerSAN, Severity: Error, Condition: "R4",
		Title:    "server.crt names every host of the member's client URLs (advertise and listen)",
		Why:      "Clients check the dialed host against the server cert's SANs. A missing IP fails the handshake on the client side.",
		Errors:   []string{validForNot, "x509: certificate is not valid for any names", "because it doesn't contain any IP SANs", "x509: certificate relies on legacy Common Name field"},
		Fix:      "Re-issue server.crt with the member's addresses in the SANs: etcdpki renew MEMBER_DIR --kind KIND takes them from the member's settings and keeps the certificate's other names (--remove-ip drops a wrong one). kubeadm certs renew keeps the old SANs, so it does not fix this (kubeadm: list the addresses in etcd.local.serverCertSANs, delete server.crt and server.key, then kubeadm init phase certs etcd-server --config).",
		Observed: "Fault r4-server-ip (etcd-2's server.crt without its own IP): the cluster forms; clients of etcd-2 get \"tls: failed to verify certificate: x509: certificate is valid for 127.0.0.1, ::1, not 127.0.0.2\", which clientv3 reports only as \"context deadline exceeded\", and etcd-2 logs \"rejected connection on client endpoint: remote error: tls: bad certificate\". Hosts mode (each member a separate etcd process in its own network namespace) shows the same through the bridge (\"… not 198.18.0.2\"), while a client on etcd-2's own host, dialing https://127.0.0.1:2379, is served.",
	},
	{
		ID: RuleServerLoopback, Severity: Error, Condition: "R4",
		Title:    "server.crt names 127.0.0.1 (and ::1 when etcd listens on it)",
		Why:      "kube-apiserver on a stacked control plane and the health checks dial https://127.0.0.1:2379; without the loopback IP in the SANs they fail.",
		Errors:   []string{"not 127.0.0.1", "not ::1"},
		Fix:      "Re-issue server.crt with 127.0.0.1 and ::1 in the SANs, as kubeadm does: etcdpki renew MEMBER_DIR --kind KIND. kubeadm certs renew keeps the old SANs, so it does not fix this.",
		Observed: "Fault r4-server-loopback (etcd-2's server.crt without 127.0.0.1 and ::1). Loopback mode shows nothing: nothing dials etcd-2 at 127.0.0.1 there (that address is etcd-1's). Hosts mode (`demo --hosts netns`: each member in its own network namespace, with its own 127.0.0.1) shows what a real node does: a client on etcd-2's own host dialing https://127.0.0.1:2379, as kube-apiserver on a stacked control plane does, gets \"tls: failed to verify certificate: x509: certificate is valid for 198.18.0.2, not 127.0.0.1\" (clientv3: \"context deadline exceeded\"), and etcd-2 logs \"rejected connection on client endpoint: remote error: tls: bad certificate\". Clients through the bridge, and probe, which dials the advertised addresses, see nothing wrong; the cluster forms and serves.",
		APIServer: "kube-apiserver in the member's network namespace with flags --format apiserver (--etcd-servers=https://127.0.0.1:2379) never becomes ready and logs, per retry: " +
			"`grpc: addrConn.createTransport failed to connect to {Addr: \"127.0.0.1:2379\", ServerName: \"127.0.0.1:2379\", …}. Err: connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate is valid for 198.19.167.1, ::1, not 127.0.0.1\"`; " +
			"etcd logs `\"msg\":\"rejected connection on client endpoint\",\"remote-addr\":\"127.0.0.1:32836\",\"server-name\":\"\",\"error\":\"remote error: tls: bad certificate\"`.",
	},
	{
		ID: RulePeerSAN, Severity: Error, Condition: "R4",
		Title: "peer.crt names every host of the member's peer URLs",
		Why: "A member dialing another on 2380 checks the dialed host against the peer cert; peer.crt is also the credential the member presents, " +
			"which the other side checks against the connection's remote address (etcd's checkSAN).",
		Errors:   []string{validForNot, "does not match any of DNSNames", "because it doesn't contain any IP SANs", "x509: certificate relies on legacy Common Name field"},
		Fix:      "Re-issue peer.crt with the member's own addresses in the SANs: etcdpki renew MEMBER_DIR --kind KIND takes them from the member's settings and keeps the certificate's other names (--remove-ip drops a wrong one). kubeadm certs renew keeps the old SANs, so it does not fix this (kubeadm: list the addresses in etcd.local.peerCertSANs, delete peer.crt and peer.key, then kubeadm init phase certs etcd-peer --config). When the rejected address is no member's own (a NAT or a host bridge), no certificate fixes it: see PEER-NAT.",
		Observed: "Fault r4-peer-address (etcd-2's peer.crt without its own IP). In loopback mode the others log \"peer became inactive (message send to peer failed): failed to dial … on stream MsgApp v2 (tls: failed to verify certificate: x509: certificate is valid for 127.0.0.1, ::1, not 127.0.0.2)\" and etcd-2 logs \"remote error: tls: bad certificate\"; the cluster still forms and serves, because etcd-2's own connections leave from 127.0.0.1, which its cert names, so etcd's check of its credential against the remote address passes and raft runs over them. Hosts mode (`demo --hosts netns`: each member in its own network namespace) shows the rest: etcd-2's connections leave from 198.18.0.2, and etcd-1 and etcd-3 log \"rejected connection on peer endpoint\" with remote-addr 198.18.0.2:… and \"tls: \\\"198.18.0.2\\\" does not match any of DNSNames [\\\"etcd-2\\\" \\\"localhost\\\"] (lookup etcd-2 on …)\": checkSAN found the address in no IP SAN, then tried DNS (a reverse lookup of the address, and lookups of the DNS SANs), which matched nothing. Rejected both ways, etcd-2 never becomes ready (probe: PROBE-UNREACHABLE on its client port); the other two keep quorum and serve.",
	},
	{
		ID: RulePeerClientSAN, Severity: Error, Condition: "R4",
		Title: "the separate peer client credential (--peer-client-cert-file) names the member's own address",
		Why: "After the handshake etcd matches the connecting member's client cert against the TCP remote address (IP SANs, else reverse DNS against DNS SANs); " +
			"a credential without the member's address is rejected unless --peer-skip-client-san-verification.",
		Errors: []string{"does not match any of DNSNames"},
		Fix:    "Re-issue peer-client.crt with the member's own addresses in the SANs: etcdpki renew MEMBER_DIR --kind KIND takes them from the member's settings.",
	},
	{
		ID: RuleEKUServer, Severity: Error,
		Title:  "server.crt allows serverAuth",
		Why:    "Go clients require the serverAuth extended key usage on a server cert.",
		Errors: []string{incompatibleKeyUsage},
		Fix:    "Re-issue server.crt with extendedKeyUsage serverAuth (and clientAuth): etcdpki renew MEMBER_DIR --kind KIND issues it from the profile. kubeadm certs renew keeps the old usages, so it does not fix this.",
	},
	{
		ID: RuleEKUServerGateway, Severity: Error,
		Title: "server.crt allows clientAuth unless --client-cert-file is set",
		Why: "etcd's grpc-gateway dials the member's own client port using --cert-file as its client cert; without clientAuth the gateway's connection is refused " +
			"and the HTTP/JSON API (and anything that uses it) fails.",
		Errors:   []string{clientKeyUsage, oldClientUsage, incompatibleKeyUsage, badCertificate, unsupportedCertificat},
		Fix:      "Re-issue server.crt with both serverAuth and clientAuth (kubeadm's profile): etcdpki renew MEMBER_DIR --kind KIND; or give etcd a separate --client-cert-file/--client-key-file. kubeadm certs renew keeps the old usages, so it does not fix this.",
		Observed: "Fault server-no-clientauth (etcd-2's server.crt serverAuth only): gRPC clients work, but etcd-2's HTTP/JSON API answers 503 {\"code\":14,\"message\":\"connection error: desc = \\\"error reading server preface: remote error: tls: bad certificate\\\"\"} and etcd-2 logs \"rejected connection on client endpoint: tls: failed to verify certificate: x509: certificate specifies an incompatible key usage\" — the grpc-gateway's own connection. Hosts mode (`demo --hosts netns`: each member a separate etcd process in its own network namespace) shows the same.",
	},
	{
		ID: RuleEKUPeerServer, Severity: Error,
		Title:    "peer.crt allows serverAuth",
		Why:      "peer.crt serves port 2380; other members dialing it reject a cert without serverAuth, so the member cannot be reached.",
		Errors:   []string{incompatibleKeyUsage},
		Fix:      "Re-issue peer.crt with serverAuth and clientAuth: etcdpki renew MEMBER_DIR --kind KIND. kubeadm certs renew keeps the old usages, so it does not fix this.",
		Observed: "Fault peer-no-serverauth (etcd-3's peer.crt clientAuth only): the others log \"failed to dial … (tls: failed to verify certificate: x509: certificate specifies an incompatible key usage)\". etcd-3 still joins and serves: raft also runs over the connections etcd-3 opens. Hosts mode (`demo --hosts netns`: each member a separate etcd process in its own network namespace) shows the same.",
	},
	{
		ID: RuleEKUPeerClient, Severity: Error,
		Title: "the peer credential (peer.crt, or peer-client.crt when set) allows clientAuth",
		Why: "peer.crt is also the client cert a member presents to the others unless --peer-client-cert-file is set; without clientAuth every other member " +
			"refuses its connections and the member cannot join.",
		Errors:   []string{clientKeyUsage, oldClientUsage, incompatibleKeyUsage, badCertificate, unsupportedCertificat},
		Fix:      "Re-issue the peer credential (peer.crt, or peer-client.crt when set) with clientAuth, and peer.crt with serverAuth too: etcdpki renew MEMBER_DIR --kind KIND; or set a separate clientAuth credential with --peer-client-cert-file. kubeadm certs renew keeps the old usages, so it does not fix this.",
		Observed: "Fault peer-no-clientauth (etcd-3's peer.crt serverAuth only): the others log \"rejected connection on peer endpoint: tls: failed to verify certificate: x509: certificate specifies an incompatible key usage\" and etcd-3 \"failed to dial … (remote error: tls: bad certificate)\". etcd-3 still joins and serves: raft also runs over the connections the others open to it. Probe cannot see this one: it is the credential etcd-3 presents, not what it serves. Hosts mode (`demo --hosts netns`: each member a separate etcd process in its own network namespace) shows the same.",
	},
	{
		ID: RuleEKUClient, Severity: Error,
		Title:  "client certs allow clientAuth",
		Why:    "etcd refuses a client cert without the clientAuth extended key usage.",
		Errors: []string{clientKeyUsage, oldClientUsage, incompatibleKeyUsage, badCertificate, unsupportedCertificat},
		Fix:    "Re-issue the client certificate with extendedKeyUsage clientAuth: etcdpki renew MEMBER_DIR --kind KIND. kubeadm certs renew keeps the old usages, so it does not fix this.",
	},
	{
		ID: RuleExpired, Severity: Error,
		Title:    "no certificate has expired",
		Why:      "An expired cert fails every handshake it is part of: an expired peer cert keeps the member out of the cluster, an expired server cert locks out all clients.",
		Errors:   []string{expiredOrNotYetValid, "certificate has expired", expiredCertificate},
		Fix:      "Renew the certificate: etcdpki renew MEMBER_DIR --kind KIND (kubeadm: kubeadm certs renew). etcd serves the new one from its next handshake, without a restart; kube-apiserver reads its client certificate at start, so restart it after renewing that one.",
		FixCA:    "The CA has expired, so nothing it signed verifies: move the cluster to a new CA with etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says. kubeadm certs renew does not renew CAs.",
		Observed: "Fault expired-peer (etcd-3's peer.crt expired a year ago): the others log \"rejected connection on peer endpoint: tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time … is after …\"; etcd-3 never becomes ready. Hosts mode (`demo --hosts netns`: each member a separate etcd process in its own network namespace) shows the same.",
	},
	{
		ID: RuleNotYetValid, Severity: Error,
		Title: "no certificate is valid only in the future",
		Why: "A certificate is rejected like an expired one while the verifier's clock reads a time before its NotBefore: Go says \"current time T is before NotBefore\" (crypto/x509 verify.go). " +
			"That is a clock skew, not an expiry: the machine that issued it runs ahead, or the verifying node's clock is behind (a VM restored from a snapshot, no NTP). It heals itself once the clocks agree.",
		Errors: []string{expiredOrNotYetValid, "is not yet valid", "is before"},
		Fix:    "Fix the clocks (NTP: timedatectl, chronyc tracking) on both the node that issued the certificate and the one that rejects it; no certificate needs to change. If the issuer's clock was ahead, re-issue to stop waiting: etcdpki renew MEMBER_DIR --kind KIND backdates NotBefore by a few minutes (kubeadm: kubeadm certs renew).",
		FixCA:  "Fix the clocks (NTP): the CA becomes valid at its NotBefore. Not to wait, move to a new CA with etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says.",
	},
	{
		ID: RuleExpiring, Severity: Warning,
		Title: "no certificate expires within --warn-within (default 30 days)",
		Why:   "Certificates about to expire will break the cluster as soon as they do.",
		Fix:   "Renew it ahead of time: etcdpki renew MEMBER_DIR --kind KIND (kubeadm: kubeadm certs renew).",
		FixCA: "Rotate the CA before it expires: etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says. kubeadm certs renew does not renew CAs.",
	},
	{
		ID: RuleCAExpiresFirst, Severity: Warning,
		Title: "the CA does not expire before a certificate it signed",
		Why:   "A leaf stops verifying when its CA expires, whatever its own NotAfter says.",
		Fix:   "Plan a CA rotation before the CA's NotAfter: etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says; the leaves the new CA issues end before it does.",
	},
	{
		ID: RuleChainRejected, Severity: Error, Condition: "R1",
		Title: "Go's verifier (x509.Verify, as etcd and its clients run it) accepts each leaf's chain to its port's CA, for the usage of each role",
		Why: "A signature from the right CA is not enough: crypto/x509 also refuses a chain whose CA has name constraints that exclude the leaf's names, " +
			"a certificate with a critical extension it does not handle, or a CA whose own extended key usages exclude the leaf's use. etcd and every Go client then fail the handshake as if the CA were unknown.",
		Errors: []string{"x509: a root or intermediate certificate is not authorized to sign for this name", "x509: unhandled critical extension",
			"x509: certificate specifies an incompatible key usage", "is not permitted by any constraint", "x509: a root or intermediate certificate is not authorized for an extended key usage"},
		Fix: "If the CA is at fault (name constraints or extended key usages that exclude the leaf), move to a CA without them: etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says. If the leaf carries a critical extension Go does not handle, re-issue it: etcdpki renew MEMBER_DIR --kind KIND.",
	},
	{
		ID: RuleNotCA, Severity: Error,
		Title:  "ca.crt is a CA: basic constraints CA:TRUE and keyCertSign",
		Why:    "Go refuses to build a chain through a certificate that is not marked as a CA, so nothing it signed verifies.",
		Errors: []string{"parent certificate cannot sign this kind of certificate", "x509: invalid signature: parent certificate cannot sign"},
		Fix:    "Move the cluster to a proper CA (CA:TRUE, keyCertSign): etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says.",
	},
	{
		ID: RuleClientCertAuth, Severity: Error,
		Title: "--client-cert-auth=true on the client port",
		Why: "Without client certificate authentication (and without a trusted CA file, which implies it) anyone who reaches port 2379 reads and writes all of etcd, " +
			"including every Kubernetes Secret.",
		Fix:      "Set --client-cert-auth=true and --trusted-ca-file in the member's settings (manifests/etcd.yaml). For a member etcdpki init made, etcdpki flags MEMBER_DIR prints its flags.",
		Observed: "Fault client-cert-auth-off (etcd-2 with --client-cert-auth=false and no --trusted-ca-file): etcd logs nothing and serves a client that sends no certificate, or one from a foreign CA (probe: PROBE-NO-CLIENT-AUTH, PROBE-FOREIGN-CA). With --trusted-ca-file still set, etcd keeps requiring client certs. Hosts mode (`demo --hosts netns`: each member a separate etcd process in its own network namespace) shows the same.",
	},
	{
		ID: RulePeerClientCert, Severity: Error,
		Title: "--peer-client-cert-auth=true on the peer port",
		Why:   "Without it (and without --peer-trusted-ca-file) any host that reaches port 2380 can pose as a member.",
		Fix:   "Set --peer-client-cert-auth=true and --peer-trusted-ca-file in the member's settings (manifests/etcd.yaml). For a member etcdpki init made, etcdpki flags MEMBER_DIR prints its flags.",
	},
	{
		ID: RuleAutoTLS, Severity: Error,
		Title: "--auto-tls and --peer-auto-tls are off",
		Why:   "Auto TLS uses self-signed certs that nobody verifies: the traffic is encrypted but anyone can impersonate a member.",
		Fix:   "Remove --auto-tls/--peer-auto-tls from the member's settings (manifests/etcd.yaml) and use certificates from the etcd CA. For a member etcdpki init made, etcdpki flags MEMBER_DIR prints its flags.",
	},
	{
		ID: RuleTrustedCA, Severity: Error,
		Title: "--trusted-ca-file and --peer-trusted-ca-file are set",
		Why:   "Without a trusted CA file etcd cannot verify client and peer certs.",
		Fix:   "Point both at the etcd CA in the member's settings (manifests/etcd.yaml; kubeadm: /etc/kubernetes/pki/etcd/ca.crt). For a member etcdpki init made, etcdpki flags MEMBER_DIR prints its flags.",
	},
	{
		ID: RuleFlagFile, Severity: Error,
		Title:  "every file the etcd flags reference exists and is readable",
		Why:    "etcd refuses to start when a --cert-file, --key-file or CA file cannot be loaded.",
		Errors: []string{"open /etc/kubernetes/pki", "no such file or directory"},
		Fix:    "Put the file where the flag says, or fix the flag. For a member etcdpki init made, etcdpki flags MEMBER_DIR prints the paths init wrote.",
	},
	{
		ID: RuleEtcdVersionFlag, Severity: Error,
		Title: "every flag on the member's command line is one its etcd version defines",
		Why: "etcd parses its command line with its own flag set and exits on a flag it does not define, so the member never starts. " +
			"The flags moved between versions: etcd 3.6 spells the initial corruption check --feature-gates=InitialCorruptCheck=true and has --watch-progress-notify-interval, " +
			"which etcd 3.4 and 3.5 do not know (they have --experimental-initial-corrupt-check and --experimental-watch-progress-notify-interval, which etcd 3.7 removed); " +
			"etcd 3.4 has no --client-cert-file or --peer-client-cert-file. The version is the static pod's image tag, or check's --etcd-version; docs/versions.md lists every flag that differs.",
		Errors: []string{"flag provided but not defined"},
		Fix:    "Use the flag the member's etcd version knows (the finding names it), or run the etcd version the flags were written for. For a member etcdpki init made, etcdpki flags MEMBER_DIR --etcd-version VERSION prints flags that version knows (kubeadm: --format manifest --kubernetes-version 1.N prints the static pod that release writes).",
	},
	{
		ID: RuleAPIServer, Severity: Error,
		Title: "kube-apiserver's --etcd-cafile/--etcd-certfile/--etcd-keyfile fit the etcd CA",
		Why:   "kube-apiserver verifies etcd with --etcd-cafile and authenticates with --etcd-certfile; the wrong CA or a cert from another CA keeps it from reaching etcd.",
		Errors: []string{unknownAuthority, "transport: authentication handshake failed: remote error: tls: bad certificate", clientDidNotProvide, certificateRequired,
			"error reading server preface: remote error: tls: unknown certificate authority"},
		Fix: "Point --etcd-cafile at etcd/ca.crt and use apiserver-etcd-client.crt/key issued by the etcd CA (etcdpki renew MEMBER_DIR --kind apiserver-etcd-client re-issues it), then restart kube-apiserver. For a member etcdpki init made, etcdpki flags MEMBER_DIR --format apiserver prints kube-apiserver's --etcd-* flags.",
		APIServer: "kube-apiserver started with --etcd-certfile/--etcd-keyfile from another CA never becomes ready: under TLS 1.3 etcd's alert arrives after the client's handshake, so it logs " +
			"`grpc: addrConn.createTransport failed to connect to {Addr: \"127.0.0.1:30957\", …}. Err: connection error: desc = \"error reading server preface: remote error: tls: unknown certificate authority\"` " +
			"(then `write: broken pipe` on retries) and exits after its 20 s dial timeout with `\"command failed\" err=\"context deadline exceeded\"`; " +
			"etcd logs `\"msg\":\"rejected connection on client endpoint\",…,\"error\":\"tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of \\\"x509: ECDSA verification failure\\\" while trying to verify candidate authority certificate \\\"etcd-ca\\\")\"` (both CAs named etcd-ca).",
	},
	{
		ID: RuleClientNoCA, Severity: Error, Explained: true,
		Title: "every client is given the etcd CA to verify the members with (etcdctl --cacert, kube-apiserver --etcd-cafile)",
		Why: "A Go client given no CA file verifies the server against the system's roots (crypto/x509 SystemCertPool), which never hold a private etcd CA, so every member's certificate is \"signed by unknown authority\" to it; " +
			"the client aborts the handshake and etcd logs the client's alert as \"remote error: tls: bad certificate\". The certificates are fine: re-issuing them changes nothing.",
		Errors: []string{"client: etcd cluster is unavailable or misconfigured; error #0: x509: certificate signed by unknown authority", "x509: failed to load system roots and no roots provided", "unable to get local issuer certificate"},
		Fix:    "Give the client the etcd CA: etcdctl --cacert=/etc/kubernetes/pki/etcd/ca.crt (or ETCDCTL_CACERT), kube-apiserver --etcd-cafile, a backup tool its CA option. etcdpki flags MEMBER_DIR --format etcdctl prints etcdctl's environment; etcdpki inspect https://HOST:2379 --cacert CA proves the CA verifies what the member serves.",
	},
	{
		ID: RuleClientNoCert, Severity: Error, Explained: true,
		Title: "every client of a port that requires client certificates presents one (health probes use the metrics port)",
		Why: "With --client-cert-auth (or a --trusted-ca-file) etcd requires a client certificate (transport.TLSInfo.ServerConfig: tls.RequireAndVerifyClientCert) and refuses a client that sends none: Go's server logs \"tls: client didn't provide a certificate\" " +
			"(crypto/tls handshake_server.go processCertsFromClient) and the client reads \"remote error: tls: certificate required\" under TLS 1.3 (Go 1.21+), \"bad certificate\" or \"handshake failure\" under TLS 1.2. " +
			"The kubelet's HTTPS probes never send one (pkg/probe/http: a tls.Config without certificates), nor does kube-apiserver's componentstatus check without --etcd-certfile, nor etcdctl without --cert.",
		Errors: []string{clientDidNotProvide, "probe failed: … remote error: tls: certificate required"},
		Fix:    "Give the client a certificate from the etcd CA (etcdctl --cert/--key or ETCDCTL_CERT/ETCDCTL_KEY; etcdpki renew MEMBER_DIR --kind healthcheck-client issues one). Point liveness probes at the plain-HTTP metrics listener instead, as kubeadm does: --listen-metrics-urls=http://127.0.0.1:2381 and an httpGet probe of /livez and /readyz (/health before kubeadm 1.31) on 127.0.0.1:2381 (cmd/kubeadm/app/phases/etcd/local.go).",
	},
	{
		ID: RuleClientPlaintext, Severity: Error, Explained: true,
		Title: "every client speaks TLS to the TLS ports (https:// endpoints)",
		Why: "A client that dials an https member with http:// (or with a bare host:port and no TLS flags, which etcdctl dials in plain text) sends a first record that is not a TLS handshake: etcd logs \"rejected connection … tls: first record does not look like a TLS handshake\" (crypto/tls conn.go, RecordHeaderError) and closes the connection, " +
			"so the client reads EOF, \"connection closed\" or, from older Go servers, a TLS alert as a \"malformed HTTP response \\x15\\x03\\x01…\". This is the opposite of PROBE-NOT-TLS, where the member serves plain text.",
		Errors: []string{`malformed HTTP response "\x15\x03\x01`, "rejected connection … first record does not look like a TLS handshake"},
		Fix:    "Use https:// in the client's endpoints (etcdctl --endpoints=https://HOST:2379, kube-apiserver --etcd-servers, a load balancer's health check) with the etcd CA and a client certificate; the remote address etcd logs is the client to fix.",
	},
	{
		ID: RuleClientWrongHost, Severity: Error, Explained: true,
		Title: "clients dial a name or address the member's certificate names",
		Why: "A client checks the host it dialed against the server certificate's SANs (crypto/x509 VerifyHostname). A client that dials a short host name, an alias or an address the member does not advertise fails with \"certificate is valid for NAME, not HOST\" " +
			"although the certificate names the member correctly: the client's endpoint is what is wrong.",
		Fix: "Dial the member by a name its certificate has (the FQDN it names, or its advertised IP): fix the client's --endpoints (etcdctl, ETCDCTL_ENDPOINTS) or --etcd-servers. If the alias is meant to stay, add it to the certificate: etcdpki renew MEMBER_DIR --kind server --add-dns NAME.",
	},
	{
		ID: RulePeerNAT, Severity: Error, Explained: true,
		Title: "peer connections reach each member from the other members' own addresses (no NAT or gateway between members)",
		Why: "The member accepting a peer connection matches the connecting member's certificate against the TCP source address (checkSAN, client/pkg/transport/listener_tls.go; peer listeners only, via wrapTLS in listener.go). " +
			"When the traffic is NATed, masqueraded or routed through a host bridge (a Vagrant or libvirt host, a docker bridge on the same subnet, a cloud NAT), the source is the gateway's address, which no member's certificate names, and etcd logs \"tls: \\\"GATEWAY\\\" does not match any of DNSNames\". No certificate fixes this.",
		Fix: "Route peer traffic between the members' own addresses (use the network whose addresses the members advertise; remove the NAT or the clashing bridge). Where the path cannot change, --peer-skip-client-san-verification (etcd 3.6+; --experimental-peer-skip-client-san-verification in 3.4 and 3.5) turns the source-address check off; the peer CA still authenticates members.",
	},
	{
		ID: RuleFileUnreadable, Severity: Error, Explained: true,
		Title: "etcd and its clients can read their certificate and key files",
		Why: "etcd, kube-apiserver and etcdctl open their files as the user they run as; a user without read access to the file (or search access to a directory above it) fails with \"open FILE: permission denied\": etcd and kube-apiserver exit at start, etcdctl refuses to run. " +
			"Common causes: etcd run as user etcd with root-owned 0600 keys, etcdctl run without sudo, a distribution's service user (k0s' kube-apiserver user) without access to the etcd directory.",
		Errors: []string{"permission denied"},
		Fix:    "Give the process's user read access to its own files only (chown USER the key, keep it 0600; or run etcdctl with sudo). etcdpki check MEMBER_DIR reports the files' modes (CIS-KEY-PERM); never make keys world-readable to fix this.",
	},
	{
		ID: RuleSharedK8sCA, Severity: Warning,
		Title: "the etcd CA is not the Kubernetes cluster CA (pki/ca.crt) (CIS 2.7)",
		Why:   "With one CA for both, every client cert the cluster CA signs (any kubelet, any user) is also accepted by etcd.",
		Fix:   "Use a separate etcd CA, as kubeadm does: etcdpki rotate-ca stage MEMBER_DIRS makes a new etcd CA, and reissue and finalize move etcd and its clients to it, as etcdpki rotate-ca status says.",
	},
	{
		ID: RuleKeyPerm, Severity: Warning,
		Title: "private key files are not readable by group or others (CIS 1.1.19–1.1.21)",
		Why:   "Anyone who can read an etcd key can impersonate the member or its clients.",
		Fix:   "chmod 600 the key files.",
	},
	{
		ID: RuleCertPerm, Severity: Warning,
		Title: "certificate files are not writable by group or others (CIS 1.1.19–1.1.21)",
		Why:   "Anyone who can replace a CA or cert file can make etcd trust their own CA.",
		Fix:   "chmod 644 the certificate files.",
	},
	{
		ID: RuleWeakKey, Severity: Error,
		Title:  "RSA keys are at least 2048 bits",
		Why:    "Go 1.24 and later refuse RSA keys under 1024 bits and short RSA keys are breakable.",
		Errors: []string{"tls: server's certificate contains an unsupported type of public key", "insecure RSA key size", "x509: RSA key size"},
		Fix:    "Re-issue with a new key (rsa-2048 or stronger, or ECDSA): etcdpki renew MEMBER_DIR --kind KIND (kubeadm: kubeadm certs renew).",
		FixCA:  "Move the cluster to a CA with a strong key: etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says.",
	},
	{
		ID: RuleWeakSignature, Severity: Error,
		Title:  "no certificate is signed with SHA-1 (or MD5)",
		Why:    "Go no longer verifies SHA-1 signatures on certificates, so the chain fails even though the CA is right.",
		Errors: []string{"x509: cannot verify signature: insecure algorithm", "insecure algorithm SHA1"},
		Fix:    "Re-issue with SHA-256, as any current tool signs by default: etcdpki renew MEMBER_DIR --kind KIND (kubeadm: kubeadm certs renew).",
		FixCA:  "Move the cluster to a CA signed with SHA-256: etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says.",
	},
	{
		ID: RuleFileMissing, Severity: Error,
		Title:  "every certificate and key a member needs is present",
		Why:    "etcd (or the client that needs the file) cannot start without it.",
		Errors: []string{"no such file or directory"},
		Fix:    "Restore the file from a backup, or issue it: etcdpki renew MEMBER_DIR --kind KIND issues a missing leaf from the CA on the node.",
		FixCA:  "Restore the CA file from a member that holds it (every member holds the same one), or give the member a full set: etcdpki replace-member HEALTHY_MEMBER_DIR --member NAME --out OUT_DIR, then etcdpki install --from OUT_DIR/NAME on its node.",
	},
	{
		ID: RuleFileInvalid, Severity: Error,
		Title: "every certificate and key file parses (PEM, not encrypted, the right kind)",
		Why:   "etcd cannot load a truncated, binary (DER), encrypted or mismatched file and refuses to start.",
		Errors: []string{"tls: failed to find any PEM data", "failed to find certificate PEM data", "tls: failed to parse private key", "x509: malformed certificate",
			"tls: found a certificate rather than a key in the PEM for the private key", "asn1: structure error"},
		Fix:   "Replace the file with a valid PEM file (openssl x509 -inform der converts DER), or issue a new pair: etcdpki renew MEMBER_DIR --kind KIND.",
		FixCA: "Replace the file with a valid PEM copy from a member that holds it (openssl x509 -inform der converts DER), or give the member a full set: etcdpki replace-member HEALTHY_MEMBER_DIR --member NAME --out OUT_DIR, then etcdpki install --from OUT_DIR/NAME on its node.",
	},
	{
		ID: RulePeerTrust, Severity: Error, Condition: "R2",
		Title: "on the peer port, every member's --peer-trusted-ca-file trusts every other member's peer certificate and peer credential",
		Why: "The peer port folds two of the seed's three CAs into one flag: the CA a member verifies the others' serving certs with when it dials them, and the one it authenticates members that dial it with. " +
			"A member whose peer trusted CA differs from the others' (and whose peer certs come from it) is refused both ways, so it cannot join. Separate peer and client CAs (k3s, RKE2, kops) are legal; what matters is that every member holds the same peer CA.",
		Errors: []string{unknownAuthority, failedVerify, failedVerifyClient, badCertificate, unknownCA},
		Fix:    "Give the member the cluster's peer CA and peer certificates from it: etcdpki replace-member HEALTHY_MEMBER_DIR --member NAME --out OUT_DIR issues them from a healthy member's CA, etcdpki install --from OUT_DIR/NAME, run on the member's node, puts them in place, and a restart of etcd there loads the CA, which it reads at start (k3s/RKE2: copy peer-ca.crt and peer-ca.key from another server, then k3s or rke2 certificate rotate --service etcd). In a CA rotation, a peer certificate from the next CA before every member trusts it is the wrong order: etcdpki rotate-ca status MEMBER_DIRS says what to do next.",
	},
	{
		ID: RuleClientTrust, Severity: Error, Condition: "R2",
		Title: "on the client port, each member's --trusted-ca-file trusts the clients' credentials, and the clients' CA files trust its serving certificate",
		Why: "The third CA of the seed authenticates clients on port 2379. A member whose client-port CA differs from the others' still joins (the peer port is judged by its own CA), " +
			"but clients configured with the cluster's client CA and credentials (kube-apiserver, etcdctl, backups) fail on it: it refuses their certificates, and they cannot verify its serving certificate.",
		Errors: []string{unknownAuthority, failedVerify, failedVerifyClient, badCertificate, unknownCA, certificateRequired},
		Fix:    "Give the member the cluster's client CA and the serving and client certificates from it: etcdpki replace-member HEALTHY_MEMBER_DIR --member NAME --out OUT_DIR issues them from a healthy member's CA, etcdpki install --from OUT_DIR/NAME, run on the member's node, puts them in place, and a restart of etcd there loads the CA, which it reads at start (k3s/RKE2: copy server-ca.crt and server-ca.key in tls/etcd from another server, then k3s or rke2 certificate rotate --service etcd). In a CA rotation, a certificate from the next CA before every client trusts it is the wrong order: etcdpki rotate-ca status MEMBER_DIRS says what to do next.",
	},
	{
		ID: RuleOtherKeys, Severity: Warning,
		Title: "a node holds only its own members' private keys",
		Why: "kubespray copies every member's key (and the CA key) to every etcd node, OpenShift every node's etcd keys to every master: one stolen node then impersonates every member and every client whose key it holds. " +
			"It is how those distributions work, so it is a warning, not an error.",
		Fix: "Keep those nodes as protected as the CA itself; where the distribution allows it, remove the other members' keys from each node.",
	},
	{
		ID: RuleInitialCluster, Severity: Error,
		Title: "--initial-cluster agrees across members and with each member's name and advertised peer URLs",
		Why: "A new member checks that --initial-cluster names it with its own --initial-advertise-peer-urls; members bootstrapping together must list the same members with the same URLs, " +
			"or etcd refuses to start (\"couldn't find local name … in the initial cluster configuration\", \"--initial-cluster has … but missing from --initial-advertise-peer-urls\") or the members form different clusters.",
		Errors: []string{"couldn't find local name", "in the initial cluster configuration", "missing from --initial-advertise-peer-urls", "member count is unequal", "unmatched member while checking PeerURLs"},
		Fix:    "Give every member the same --initial-cluster, listing each member's name with its --initial-advertise-peer-urls. For a member etcdpki init made, etcdpki flags MEMBER_DIR prints it.",
	},
	{
		ID: RuleClusterToken, Severity: Error,
		Title:  "--initial-cluster-token is the same on every member",
		Why:    "The token seeds the cluster ID; members bootstrapped with different tokens form different clusters and refuse each other (\"request cluster ID mismatch\").",
		Errors: []string{"request cluster ID mismatch", "cluster ID mismatch"},
		Fix:    "Use one --initial-cluster-token for all members of a cluster. For a member etcdpki init made, etcdpki flags MEMBER_DIR prints it.",
	},
	{
		ID: RuleSplitClusters, Severity: Error,
		Title:  "the members' settings describe one cluster, not several",
		Why:    "Members whose --initial-cluster lists only themselves (or groups that list only each other) each bootstrap a cluster of their own: three one-member clusters, not one of three.",
		Errors: []string{"request cluster ID mismatch"},
		Fix:    "Bootstrap once with every member in --initial-cluster (state new), or add members to one cluster with etcdctl member add and --initial-cluster-state=existing.",
	},
	{
		ID: RuleCertAuthImplied, Severity: Warning,
		Title: "--client-cert-auth / --peer-client-cert-auth are set explicitly when a trusted CA file is set",
		Why:   "etcd requires and verifies client certificates anyway when a trusted CA file is set (transport.TLSInfo.ServerConfig), so nothing is open; but the setting reads as if it were.",
		Fix:   "Set --client-cert-auth=true and --peer-client-cert-auth=true. For a member etcdpki init made, etcdpki flags MEMBER_DIR prints its flags.",
	},
	{
		ID: RuleKeyInCert, Severity: Error,
		Title: "no certificate file holds a private key",
		Why: "crypto/tls (and so etcd) loads a certificate file with a key appended, skipping the key; but certificate files are shared and world-readable (0644), " +
			"so whoever can read the certificate has the member's key and can impersonate it.",
		Fix:   "Remove the key block from the certificate file (keep it in the key file, mode 0600), and replace the key, which has been exposed: etcdpki renew MEMBER_DIR --kind KIND issues a new one (kubeadm: kubeadm certs renew).",
		FixCA: "Remove the key block from ca.crt (keep it in ca.key, mode 0600). The CA key has been exposed to everyone who could read ca.crt: move the cluster to a new CA with etcdpki rotate-ca stage MEMBER_DIRS, then reissue and finalize as etcdpki rotate-ca status says.",
	},
	{
		ID: RuleChainInFile, Severity: Info,
		Title: "a certificate file holds only its certificate and the chain to its CA",
		Why:   "etcd (crypto/tls) sends the whole file as the chain; certificates in it that are not the leaf's issuers are sent too and help no one. A leaf followed by its CA (k3s, RKE2) is a chain and draws nothing.",
		Fix:   "Keep the leaf and its intermediates only.",
	},
	{
		ID: RuleSettingsInvalid, Severity: Error,
		Title: "the member's etcd settings (manifest, config file, environment file, unit) read as etcd reads them",
		Why: "etcd refuses to start on a value its flag set rejects (a URL that is not one, a boolean that is not), on a config file that is not YAML, " +
			"or on an ETCD_* variable shadowed by a command-line flag; and a settings file that cannot be read leaves the member's name, addresses and files unknown to check.",
		Errors: []string{"invalid value", "is not a valid flag", "conflicting environment variable is shadowed", "error converting YAML to JSON", "unexpected error setting up"},
		Fix:    "Fix the value the detail names in the file it names (etcd --help lists its flags; the config file uses the same names). For a member etcdpki init made, etcdpki flags MEMBER_DIR prints its flags.",
	},
	{
		ID: RuleInferred, Severity: Info,
		Title: "the member's name and addresses come from its etcd configuration",
		Why:   "Without a manifest, config file or spec, the name and addresses are taken from the server certificate itself, so R4 cannot catch a missing address.",
		Fix:   "Include manifests/etcd.yaml (or an etcd config/flags file), or pass --config with the cluster spec.",
	},
	{
		ID: RuleProbeDiscovery, Live: true, Severity: Error,
		Title: "the cluster answers MemberList through the given endpoints (live)",
		Why:   "etcdctl and kube-apiserver start from the same endpoints; if none answers, clients cannot use the cluster.",
		Fix:   "See the endpoint findings: the TLS error of each endpoint says why.",
	},
	{
		ID: RuleProbeUnreachable, Live: true, Severity: Error,
		Title:  "every client and peer URL accepts a TLS handshake within the timeout (live)",
		Why:    "A member whose peer URL cannot be reached is cut off from the others; an unreachable client URL fails its clients.",
		Errors: []string{"connection refused", "i/o timeout", "no route to host", "couldn't parse external etcd version \"\""},
		Fix:    "Check that the member runs and listens on the advertised address, and the network between.",
	},
	{
		ID: RuleProbeNotTLS, Live: true, Severity: Error,
		Title:  "every URL serves TLS (live)",
		Why:    "An https:// URL answered in plain text: the member runs without --cert-file (or --peer-cert-file), so clients and peers that expect TLS fail.",
		Errors: []string{"tls: first record does not look like a TLS handshake", "server gave HTTP response to HTTPS client"},
		Fix:    "Give the member its TLS flags, or fix the URL's scheme. For a member etcdpki init made, etcdpki flags --dir DIR --member NAME prints them.",
	},
	{
		ID: RuleProbeNotEtcd, Live: true, Severity: Error,
		Title: "every URL is an etcd endpoint (live)",
		Why:   "The URL answers TLS but not as etcd (GET /version): a wrong port or a proxy in the way.",
		Fix:   "Fix the member's advertised URLs or the endpoint list.",
	},
	{
		ID: RuleProbeClientRefused, Live: true, Severity: Error,
		Title:  "each endpoint accepts the probe's client certificate and, on the client port, serves a read (live)",
		Why:    "The client cert given to probe (usually apiserver-etcd-client or healthcheck-client) is what kube-apiserver and etcdctl present; if it is refused, they are too.",
		Errors: []string{certificateRequired, badCertificate, unknownCA},
		Fix:    "Issue the client certificate from the CA in the member's --trusted-ca-file (and --peer-trusted-ca-file): etcdpki renew MEMBER_DIR --kind KIND on the node that holds it. When that member's CA is the odd one (etcdpki check reports R2 on it), give it the cluster's with etcdpki replace-member instead.",
	},
	{
		ID: RuleProbeNoClientAuth, Live: true, Severity: Error,
		Title: "each endpoint refuses a client without a certificate (live)",
		Why:   "An endpoint that serves a client without a certificate lets anyone who reaches it read and write etcd (or, on the peer port, pose as a member).",
		Fix:   "Set --client-cert-auth=true / --peer-client-cert-auth=true and the trusted CA files. For a member etcdpki init made, etcdpki flags --dir DIR --member NAME prints its flags.",
	},
	{
		ID: RuleProbeForeignCA, Live: true, Severity: Error,
		Title: "each endpoint refuses a client certificate from a foreign CA (live)",
		Why:   "An endpoint that accepts a client cert from any CA authenticates nobody.",
		Fix:   "Point --trusted-ca-file / --peer-trusted-ca-file at the etcd CA only. For a member etcdpki init made, etcdpki flags --dir DIR --member NAME prints its flags.",
	},
	{
		ID: RuleProbeOldTLS, Live: true, Severity: Warning,
		Title: "each endpoint refuses TLS 1.0 and 1.1 (live)",
		Why:   "TLS 1.0 and 1.1 are deprecated (RFC 8996); etcd refuses them unless --tls-min-version lowers the floor.",
		Fix:   "Remove --tls-min-version=TLS1.0/TLS1.1.",
	},
	{
		ID: RuleProbeDiskMismatch, Live: true, Severity: Warning,
		Title: "each member serves the certificate that is on its disk (live)",
		Why:   "etcd re-reads leaf certs per handshake, so a difference means the files checked offline are not the ones in use (a stale copy, or a member pointed elsewhere).",
		Fix:   "Check the member's --cert-file/--peer-cert-file and which directory was copied.",
	},
}

var ruleIndex = func() map[RuleID]int {
	m := make(map[RuleID]int, len(catalogue))
	for i := range catalogue {
		m[catalogue[i].ID] = i
	}
	return m
}()

// Catalogue returns every rule, in the order reports and docs list them:
// a copy, so changing it changes nothing else.
func Catalogue() []Rule {
	out := make([]Rule, len(catalogue))
	for i, r := range catalogue {
		r.Errors = append([]string(nil), r.Errors...)
		out[i] = r
	}
	return out
}

// LookupRule returns a copy of the catalogue entry for id.
func LookupRule(id RuleID) (*Rule, bool) {
	i, ok := ruleIndex[id]
	if !ok {
		return nil, false
	}
	r := catalogue[i]
	r.Errors = append([]string(nil), r.Errors...)
	return &r, true
}
