package audit

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/internal/golden"
)

// TestRulesDoc keeps docs/rules.md identical to the catalogue.
func TestRulesDoc(t *testing.T) {
	golden.Check(t, filepath.Join("..", "docs", "rules.md"), RulesMarkdown(), "run: go test ./audit -run TestRulesDoc -update")
}

// TestCatalogue checks the catalogue's own consistency.
func TestCatalogue(t *testing.T) {
	seen := map[RuleID]bool{}
	for _, r := range Catalogue() {
		if seen[r.ID] {
			t.Errorf("duplicate rule ID %s", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Why == "" || r.Fix == "" {
			t.Errorf("%s: title, why and fix are required", r.ID)
		}
	}
}

// TestExplainEveryDocumentedError: every error text in the catalogue (and
// so in docs/rules.md) is explained, and by a list that includes its rule.
func TestExplainEveryDocumentedError(t *testing.T) {
	for _, r := range Catalogue() {
		for _, e := range r.Errors {
			found := false
			for _, m := range Explain("etcd: " + e + ": details") {
				if m.Rule.ID == r.ID {
					found = true
				}
			}
			if !found {
				t.Errorf("explain(%q) does not name %s", e, r.ID)
			}
		}
	}
}

func TestExplainSpecific(t *testing.T) {
	cases := []struct {
		msg   string
		first RuleID // or, after "|", any of several
	}{
		{`x509: certificate is valid for 10.0.0.11, 127.0.0.1, ::1, not 10.0.0.12`, RuleServerSAN},
		{`Get "https://127.0.0.1:2379": x509: certificate is valid for 10.0.0.11, not 127.0.0.1`, RuleServerLoopback},
		{`tls: private key does not match public key`, RuleKeyMismatch},
		{`x509: certificate has expired or is not yet valid: current time 2027-01-01T00:00:00Z is after 2026-12-01T00:00:00Z`, RuleExpired},
		{`rejected connection from "127.0.0.1:51234" (error "tls: failed to verify client's certificate: x509: certificate specifies an incompatible key usage", ServerName "")`, RuleEKUServerGateway + "|" + RuleEKUPeerClient + "|" + RuleEKUClient},
		{`x509: cannot verify signature: insecure algorithm SHA1-RSA`, RuleWeakSignature},
	}
	for _, c := range cases {
		got := Explain(c.msg)
		if len(got) == 0 {
			t.Errorf("Explain(%q) = nothing, want %s first", c.msg, c.first)
			continue
		}
		if !strings.Contains("|"+string(c.first)+"|", "|"+string(got[0].Rule.ID)+"|") {
			var ids []RuleID
			for _, m := range got {
				ids = append(ids, m.Rule.ID)
			}
			t.Errorf("Explain(%q) = %v, want %s first", c.msg, ids, c.first)
		}
	}
	if got := Explain("everything is fine"); len(got) != 0 {
		t.Errorf("Explain(unrelated) = %d matches, want none", len(got))
	}
}
