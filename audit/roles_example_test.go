package audit_test

import (
	"fmt"
	"net"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/pki"
)

// Roles says where a certificate can serve in an etcd cluster: a
// --split-credentials peer certificate (serverAuth only) serves the peer
// port only next to a separate peer client credential.
func ExampleRoles() {
	now := time.Now()
	caKey, _ := pki.GenerateKey(pki.ECDSAP256)
	ca, _ := pki.NewCA(caKey, "", 0, now)
	key, _ := pki.GenerateKey(pki.ECDSAP256)
	cert, _ := ca.Issue(pki.Request{Kind: pki.KindPeer, CommonName: "cp1", Split: true,
		IPs: []net.IP{net.ParseIP("10.0.0.11"), net.ParseIP("127.0.0.1")}}, key.Public(), now)
	for _, fit := range audit.Roles(cert) {
		fmt.Printf("%s: ok=%t %s %s\n", fit.Role, fit.OK, fit.Rule, fit.Why)
	}
	// Output:
	// server: ok=false EKU-SERVER-GATEWAY only with --client-cert-file: lacks clientAuth, and etcd's grpc-gateway presents --cert-file when it dials its own client port
	// peer: ok=false EKU-PEER-CLIENT only with --peer-client-cert-file: lacks clientAuth (etcd uses peer.crt as a client cert too)
	// client: ok=false EKU-CLIENT lacks clientAuth (has serverAuth): etcd refuses it with "x509: certificate specifies an incompatible key usage"
	// CA: ok=false  a leaf (not a CA): it cannot sign certificates
}
