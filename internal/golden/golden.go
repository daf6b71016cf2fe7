// Package golden compares generated files with their committed copies in
// tests, and rewrites them when the test binary runs with -update.
package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and generated docs")

// Check fails t unless the file at path holds exactly want; with -update
// it writes want there first. hint says how to regenerate the file.
func Check(t testing.TB, path string, want []byte, hint string) {
	t.Helper()
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
		t.Errorf("%s is out of date; %s", path, hint)
	}
}
