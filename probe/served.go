package probe

import "crypto/x509"

// Certificate is the served certificate itself, or nil for a ServedCert
// read back from JSON.
func (s *ServedCert) Certificate() *x509.Certificate { return s.cert }
