package inspect_test

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/expiry"
	"github.com/etcdpki/etcdpki/inspect"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// TestTerminalEscapesNeverPrinted: a CN and SANs with terminal escape
// sequences (clear screen, set title, bidi override) are shown escaped by
// inspect's and expiry's text output, never raw.
func TestTerminalEscapesNeverPrinted(t *testing.T) {
	evil := "cp1\x1b[2J\x1b]0;pwned\x07\u202e"
	c := testca.New(t, testca.Options{Members: 1})
	c.Reissue("cp1", pki.KindServer, func(x *x509.Certificate) {
		x.Subject.CommonName = evil
		x.DNSNames = append(x.DNSNames, "cp1\x1b[2J.example")
	})
	r, err := inspect.File(c.CertPath("cp1", pki.KindServer), inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	ms, err := member.LoadDirs([]string{c.Dir}, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := expiry.Scan(ms, time.Now()).WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("text output holds %q raw:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, `cp1\x1b[2J`) {
		t.Errorf("the CN is not shown escaped:\n%s", out)
	}
}
