package audit

import (
	"path/filepath"
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
