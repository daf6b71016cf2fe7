// Package probe audits a running etcd cluster's TLS from the outside: it
// discovers the members (MemberList), then handshakes with every client
// and peer URL concurrently, with bounded timeouts, and checks what is
// actually served — the chain, the names, the expiry — and what is
// refused: a client without a certificate, a client certificate from a
// foreign CA, TLS 1.0 and 1.1. A whole probe ends within its timeout plus
// [Slack], and dials at most [MaxDiscovered] of the URLs MemberList lists;
// what either limit leaves out is a finding.
//
// Raw TLS handshakes are used on purpose: gRPC hides a TLS failure behind
// "context deadline exceeded". Findings use the same rule catalogue and
// report format as the offline checker (package audit).
package probe
