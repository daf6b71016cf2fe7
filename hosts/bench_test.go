package hosts

import (
	"context"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testbin"
	"github.com/etcdpki/etcdpki/pki"
)

// BenchmarkStartVerifyClose3 measures what `up --hosts netns --once` does
// with three members, in phases reported as metrics: Start (PKI, network,
// processes, until every member is ready), Verify (through the bridge and
// through each member's 127.0.0.1) and Close (processes, network, temp
// dir). cmd/etcdpki's BenchmarkUpHostsOnce times the whole process.
func BenchmarkStartVerifyClose3(b *testing.B) {
	if err := Supported(); err != nil {
		b.Skip(err)
	}
	etcd := testbin.Etcd(b)
	var start, verify, close time.Duration
	for b.Loop() {
		t0 := time.Now()
		cl, err := Start(context.Background(), Options{Etcd: []string{etcd}, Subnet: subnet(9), Algorithm: pki.ECDSAP256})
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
}
