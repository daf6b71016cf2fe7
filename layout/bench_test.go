package layout_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// BenchmarkInit measures a whole init into an empty directory: key
// generation (which dominates for RSA), signing, PEM encoding and the
// fsynced writes. Try -benchtime=5x for rsa-4096.
func BenchmarkInit(b *testing.B) {
	for _, alg := range pki.Algorithms() {
		for _, n := range []int{3, 7} {
			b.Run(fmt.Sprintf("%s/members=%d", alg, n), func(b *testing.B) {
				var members []string
				for i := 1; i <= n; i++ {
					members = append(members, fmt.Sprintf("cp%d=10.0.0.%d", i, 10+i))
				}
				c, err := spec.FromFlags(spec.Cluster{Algorithm: alg}, members)
				if err != nil {
					b.Fatal(err)
				}
				parent := b.TempDir()
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					out, err := os.MkdirTemp(parent, "out")
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if _, err := layout.Init(c, out, layout.InitOptions{AnyAlgorithm: true}); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := os.RemoveAll(out); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				// 1 CA key, and 4 leaf keys per member.
				b.ReportMetric(float64(1+4*n), "keys/op")
			})
		}
	}
}
