package audit

import (
	"crypto/x509"
	"fmt"
	"slices"
)

// Role is a place a certificate can take in an etcd cluster.
type Role string

// The roles, in the order Roles reports them.
const (
	// RoleServer serves the client port (--cert-file).
	RoleServer Role = "server"
	// RolePeer serves the peer port and is the member's identity when it
	// dials the others (--peer-cert-file).
	RolePeer Role = "peer"
	// RoleClient is a client credential: healthcheck-client,
	// apiserver-etcd-client, etcdctl's --cert, the split credentials.
	RoleClient Role = "client"
	// RoleCA signs the others (--trusted-ca-file, --peer-trusted-ca-file).
	RoleCA Role = "CA"
)

// RoleFit says whether a certificate can fill a role and why (not).
type RoleFit struct {
	Role Role `json:"role"`
	OK   bool `json:"ok"`
	// WithSplit is true when the certificate fills the role only next to
	// a separate client credential (--client-cert-file or
	// --peer-client-cert-file, etcd 3.5+), because it lacks clientAuth.
	WithSplit bool `json:"withSplit,omitempty"`
	// Why says what the certificate has, or what it lacks and what in
	// etcd needs it.
	Why string `json:"why"`
	// Rule is the check rule the certificate would break in this role.
	Rule RuleID `json:"rule,omitempty"`
}

// Roles judges cert for each role by the same key-usage, name and CA
// reasoning as the checker (a certificate without an EKU extension may be
// used for anything, as Go's verifier has it). Validity is not judged:
// an expired certificate fills no role, whatever this says.
func Roles(cert *x509.Certificate) []RoleFit {
	fits := []RoleFit{serverFit(cert), peerFit(cert), clientFit(cert), caFit(cert)}
	if len(cert.UnhandledCriticalExtensions) > 0 {
		// crypto/x509 refuses any chain through such a certificate,
		// whatever its usages say.
		for i := range fits {
			fits[i].OK, fits[i].WithSplit, fits[i].Rule = false, false, RuleChainRejected
			fits[i].Why = fmt.Sprintf("has a critical extension Go does not handle (%v): Go's verifier, and so etcd and its clients, refuse it in any role", cert.UnhandledCriticalExtensions)
		}
	}
	return fits
}

func serverFit(cert *x509.Certificate) RoleFit {
	fit := RoleFit{Role: RoleServer}
	server, client := hasEKU(cert, x509.ExtKeyUsageServerAuth), hasEKU(cert, x509.ExtKeyUsageClientAuth)
	switch {
	case cert.IsCA:
		fit.Why = "a CA certificate; serve with a leaf it signs"
	case !server:
		fit.Why, fit.Rule = fmt.Sprintf("lacks serverAuth (has %s): clients refuse it with \"%s\"", ekuNames(cert), incompatibleKeyUsage), RuleEKUServer
	case !hasSANs(cert):
		fit.Why, fit.Rule = "names no host (no SANs): clients match the address they dial against the SANs, and Go ignores the CN", RuleServerSAN
	case !client:
		fit.WithSplit, fit.Rule = true, RuleEKUServerGateway
		fit.Why = "only with --client-cert-file: lacks clientAuth, and etcd's grpc-gateway presents --cert-file when it dials its own client port"
	case cert.VerifyHostname("127.0.0.1") != nil:
		fit.Why, fit.Rule = fmt.Sprintf("does not name 127.0.0.1 (SANs %s), which kube-apiserver and health checks dial", sanList(cert)), RuleServerLoopback
	default:
		fit.OK, fit.Why = true, fmt.Sprintf("serverAuth and clientAuth; names %s", sanList(cert))
	}
	return fit
}

func peerFit(cert *x509.Certificate) RoleFit {
	fit := RoleFit{Role: RolePeer}
	server, client := hasEKU(cert, x509.ExtKeyUsageServerAuth), hasEKU(cert, x509.ExtKeyUsageClientAuth)
	switch {
	case cert.IsCA:
		fit.Why = "a CA certificate; members need a leaf it signs"
	case !server:
		fit.Why, fit.Rule = fmt.Sprintf("lacks serverAuth (has %s): the other members dial this one and refuse it", ekuNames(cert)), RuleEKUPeerServer
	case !hasSANs(cert):
		fit.Why, fit.Rule = "names no host (no SANs): the other members match the peer address they dial against the SANs", RulePeerSAN
	case !client:
		fit.WithSplit, fit.Rule = true, RuleEKUPeerClient
		fit.Why = "only with --peer-client-cert-file: lacks clientAuth (etcd uses peer.crt as a client cert too)"
	default:
		fit.OK, fit.Why = true, fmt.Sprintf("serverAuth and clientAuth; names %s", sanList(cert))
	}
	return fit
}

func clientFit(cert *x509.Certificate) RoleFit {
	fit := RoleFit{Role: RoleClient}
	switch {
	case cert.IsCA:
		fit.Why = "a CA certificate; clients need a leaf it signs"
	case !hasEKU(cert, x509.ExtKeyUsageClientAuth):
		fit.Why, fit.Rule = fmt.Sprintf("lacks clientAuth (has %s): etcd refuses it with \"%s\"", ekuNames(cert), incompatibleKeyUsage), RuleEKUClient
	default:
		fit.OK, fit.Why = true, fmt.Sprintf("clientAuth; CN %q", cert.Subject.CommonName)
		if slices.Contains(cert.Subject.Organization, "system:masters") {
			fit.Why += " in system:masters"
		}
	}
	return fit
}

func caFit(cert *x509.Certificate) RoleFit {
	fit := RoleFit{Role: RoleCA}
	switch {
	case !cert.BasicConstraintsValid && cert.KeyUsage&x509.KeyUsageCertSign != 0:
		// Meant as a CA (keyCertSign) but without basic constraints: Go
		// refuses it as a parent.
		fit.Why, fit.Rule = "not a CA: has keyCertSign but basic constraints CA:TRUE are missing", RuleNotCA
	case !cert.BasicConstraintsValid || !cert.IsCA:
		// A leaf is not a CA, and that is no fault of it: no rule.
		fit.Why = "a leaf (not a CA): it cannot sign certificates"
	case cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0:
		fit.Why, fit.Rule = "lacks the keyCertSign key usage", RuleNotCA
	case string(cert.RawIssuer) == string(cert.RawSubject):
		fit.OK, fit.Why = true, "CA:TRUE, self-signed root"
	default:
		fit.OK, fit.Why = true, fmt.Sprintf("CA:TRUE, intermediate signed by %q", cert.Issuer.CommonName)
	}
	return fit
}

func hasSANs(cert *x509.Certificate) bool {
	return len(cert.DNSNames)+len(cert.IPAddresses) > 0
}
