package inspect

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/expiry"
	"github.com/etcdpki/etcdpki/internal/output"
)

// WriteJSON writes the result as indented JSON (schema: SchemaVersion).
func (r *Result) WriteJSON(w io.Writer) error { return output.JSON(w, r) }

// WriteText writes the result for people.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	switch r.Kind {
	case KindKey:
		k := r.Key
		fmt.Fprintf(&b, "%s: private key (contents not shown)\n", output.Safe(r.Source))
		field(&b, "type", k.Type)
		field(&b, "public key SHA-256", k.PublicKeyFingerprint)
		if k.Matches != nil {
			field(&b, "matches", fmt.Sprintf("%s %s", yesNo(*k.Matches), k.MatchesCert))
		}
	case KindEndpoint:
		e := r.Endpoint
		fmt.Fprintf(&b, "%s: %s", output.Safe(r.Source), e.TLSVersion)
		if e.ClientCert != "" {
			fmt.Fprintf(&b, ", client certificate %q", e.ClientCert)
		} else {
			b.WriteString(", no client certificate")
		}
		b.WriteString("\n")
		if e.HandshakeError != "" {
			field(&b, "handshake", "ended by the server after it served its certificate: "+e.HandshakeError)
		}
		if e.ChainOK != nil {
			chain := "verifies against the given CA"
			if !*e.ChainOK {
				chain = "does NOT verify: " + e.ChainError
			}
			field(&b, "chain", chain)
			field(&b, "name", map[bool]string{true: e.VerifiedFor + " is named", false: e.VerifiedFor + " is NOT named"}[*e.NameOK])
		}
	}
	for i, c := range r.Certs {
		switch {
		case r.Kind == KindEndpoint && i == 0:
			fmt.Fprintf(&b, "served certificate:\n")
		case r.Kind == KindEndpoint:
			fmt.Fprintf(&b, "chain certificate %d:\n", i)
		case len(r.Certs) > 1:
			fmt.Fprintf(&b, "%s: certificate %d of %d\n", output.Safe(r.Source), i+1, len(r.Certs))
		default:
			fmt.Fprintf(&b, "%s: certificate\n", output.Safe(r.Source))
		}
		writeCert(&b, &c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCert(b *strings.Builder, c *Cert) {
	field(b, "subject", c.Subject)
	field(b, "issuer", c.Issuer)
	field(b, "serial", c.Serial)
	field(b, "validity", fmt.Sprintf("%s to %s (%s)", c.NotBefore.Format(expiry.TimeFormat), c.NotAfter.Format(expiry.TimeFormat), validity(c)))
	var sans []string
	if len(c.DNSNames) > 0 {
		sans = append(sans, "DNS "+strings.Join(c.DNSNames, ", "))
	}
	if len(c.IPs) > 0 {
		sans = append(sans, "IP "+strings.Join(c.IPs, ", "))
	}
	field(b, "SANs", orNone(strings.Join(sans, "; ")))
	field(b, "key usage", orNone(strings.Join(c.KeyUsage, ", ")))
	field(b, "ext key usage", orNone(strings.Join(c.ExtKeyUsage, ", ")))
	if c.IsCA {
		field(b, "basic constraints", "CA:TRUE")
	}
	field(b, "public key", fmt.Sprintf("%s, SHA-256 %s", c.PublicKey, c.PublicKeyFingerprint))
	if c.MatchesKey != nil {
		field(b, "matches key", yesNo(*c.MatchesKey))
	}
	field(b, "signature", c.SignatureAlgorithm)
	field(b, "SHA-256", c.Fingerprint)
	b.WriteString("  etcd roles:\n")
	for _, f := range c.Roles {
		fmt.Fprintf(b, "    %-7s %-3s — %s", string(f.Role)+":", yesNo(f.OK), output.Safe(f.Why))
		if f.Rule != "" {
			fmt.Fprintf(b, " (%s)", f.Rule)
		}
		b.WriteString("\n")
	}
}

func validity(c *Cert) string {
	left := time.Duration(c.ResidualSeconds) * time.Second
	switch c.Validity {
	case "expired":
		return "EXPIRED " + expiry.ShortDuration(-left) + " ago"
	case "not yet valid":
		return "NOT YET VALID"
	}
	return "valid, expires in " + expiry.ShortDuration(left)
}

func field(b *strings.Builder, name, value string) {
	// Certificate fields are the certificate author's: never raw to a
	// terminal.
	fmt.Fprintf(b, "  %-19s %s\n", name+":", output.Safe(value))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
