package local

import (
	"context"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testca"
	members "github.com/etcdpki/etcdpki/member"
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

// BenchmarkUpFrom is up --from on three kubeadm node trees (no
// cluster.yaml): plan and boot until every member is ready, verify every
// serving certificate with the members' real addresses as the server
// name, and a write and read through every member (target: ready under
// 1.5 s). It then restarts one member until it is ready and serves a
// read again (target: under 2 s).
func BenchmarkUpFrom(b *testing.B) {
	c := testca.New(b, testca.Options{Manifests: true})
	dirs := []string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}
	var ready, names, verify, restart, closing time.Duration
	for b.Loop() {
		t0 := time.Now()
		ms, err := members.LoadDirs(dirs, nil, members.DiscoverOptions{})
		if err != nil {
			b.Fatal(err)
		}
		plan, err := PlanFrom(ms, FromOptions{BasePort: portBenchmark})
		if err != nil {
			b.Fatal(err)
		}
		cl, err := StartFrom(context.Background(), plan, Options{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for _, nc := range cl.VerifyNames(context.Background()) {
			if nc.Err != "" {
				b.Fatal(nc.Err)
			}
		}
		t2 := time.Now()
		if err := cl.Verify(context.Background()); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := cl.RestartMember(context.Background(), "cp2"); err != nil {
			b.Fatal(err)
		}
		if err := cl.Verify(context.Background()); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		if err := cl.Close(); err != nil {
			b.Fatal(err)
		}
		ready += t1.Sub(t0)
		names += t2.Sub(t1)
		verify += t3.Sub(t2)
		restart += t4.Sub(t3)
		closing += time.Since(t4)
	}
	n := float64(b.N)
	b.ReportMetric(float64(ready.Milliseconds())/n, "ready-ms/op")
	b.ReportMetric(float64(names.Milliseconds())/n, "names-ms/op")
	b.ReportMetric(float64(verify.Milliseconds())/n, "verify-ms/op")
	b.ReportMetric(float64(restart.Milliseconds())/n, "restart-healthy-ms/op")
	b.ReportMetric(float64(closing.Milliseconds())/n, "close-ms/op")
}
