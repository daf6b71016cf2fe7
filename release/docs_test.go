package release

import (
	"path/filepath"
	"testing"

	"github.com/etcdpki/etcdpki/internal/golden"
)

// TestVersionsDoc keeps docs/versions.md generated from the tables.
func TestVersionsDoc(t *testing.T) {
	golden.Check(t, filepath.Join("..", "docs", "versions.md"), Markdown(), "run: go test ./release -run TestVersionsDoc -update")
}
