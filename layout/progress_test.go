package layout_test

import (
	"testing"

	"github.com/etcdpki/etcdpki/layout"
)

// TestInitProgress: Init reports key generation from 0 to the number of
// keys it makes: the CA's and four leaves per member.
func TestInitProgress(t *testing.T) {
	c := newCluster(t, 2, nil)
	var done []int
	total := 0
	_, err := layout.Init(c, t.TempDir(), layout.InitOptions{Progress: func(d, n int) { done, total = append(done, d), n }})
	if err != nil {
		t.Fatal(err)
	}
	if total != 9 || len(done) != 10 || done[0] != 0 || done[9] != 9 {
		t.Errorf("progress %v of %d, want 0…9 of 9", done, total)
	}
}
