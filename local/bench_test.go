package local

import (
	"context"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/pki"
)

// BenchmarkUpOnce3 and BenchmarkUpOnce5 measure what `etcdpki up --once`
// does: generate the PKI into a temp dir, boot the cluster from it, verify
// through every member and shut down. The phases are reported as metrics
// (ms per phase) next to the total.
func BenchmarkUpOnce3(b *testing.B) { benchmarkUpOnce(b, 3) }

func BenchmarkUpOnce5(b *testing.B) { benchmarkUpOnce(b, 5) }

func benchmarkUpOnce(b *testing.B, members int) {
	for _, alg := range []pki.Algorithm{pki.ECDSAP256, pki.RSA2048} {
		b.Run(string(alg), func(b *testing.B) {
			var start, verify, close time.Duration
			for b.Loop() {
				t0 := time.Now()
				cl, err := Start(context.Background(), Options{
					Members: members, Algorithm: alg,
					ClientPort: portBenchmark, PeerPort: portBenchmark + 1, MetricsPort: portBenchmark + 2,
				})
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := cl.Verify(context.Background()); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if err := cl.Close(); err != nil {
					b.Fatal(err)
				}
				start += t1.Sub(t0)
				verify += t2.Sub(t1)
				close += time.Since(t2)
			}
			n := float64(b.N)
			b.ReportMetric(float64(start.Milliseconds())/n, "start-ms/op")
			b.ReportMetric(float64(verify.Milliseconds())/n, "verify-ms/op")
			b.ReportMetric(float64(close.Milliseconds())/n, "close-ms/op")
		})
	}
}
