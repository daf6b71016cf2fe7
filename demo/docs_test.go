package demo

import (
	"path/filepath"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/golden"
)

// TestFaultsDoc keeps docs/demo.md identical to the fault catalogue.
func TestFaultsDoc(t *testing.T) {
	golden.Check(t, filepath.Join("..", "docs", "demo.md"), FaultsMarkdown(), "run: go test ./demo -run TestFaultsDoc -update")
}

// TestFaultsWellFormed checks the catalogue itself: unique names, a
// summary, and rule IDs the catalogue knows.
func TestFaultsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Faults {
		if seen[f.Name] || f.Name == "" || f.Summary == "" {
			t.Errorf("fault %q: names must be unique and non-empty, with a summary", f.Name)
		}
		seen[f.Name] = true
		if f.apply == nil && f.configure == nil {
			t.Errorf("fault %s breaks nothing", f.Name)
		}
		for _, id := range append(append([]audit.RuleID{}, f.Check...), f.Probe...) {
			if _, ok := lookupRule(id); !ok {
				t.Errorf("fault %s: unknown rule %s", f.Name, id)
			}
		}
	}
}

func lookupRule(id audit.RuleID) (any, bool) {
	r, ok := audit.LookupRule(id)
	return r, ok
}
