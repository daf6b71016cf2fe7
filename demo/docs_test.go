package demo

import (
	"bytes"
	"flag"
	"github.com/etcdpki/etcdpki/audit"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/demo.md from the fault catalogue")

// TestFaultsDoc keeps docs/demo.md identical to the fault catalogue.
func TestFaultsDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "demo.md")
	want := FaultsMarkdown()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with demo/faults.go; run: go test ./demo -run TestFaultsDoc -update", path)
	}
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
		for _, id := range append(append([]string{}, f.Check...), f.Probe...) {
			if _, ok := lookupRule(id); !ok {
				t.Errorf("fault %s: unknown rule %s", f.Name, id)
			}
		}
	}
}

func lookupRule(id string) (any, bool) {
	r, ok := audit.LookupRule(id)
	return r, ok
}
