package probe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
)

// Benchmarks of a whole probe, each operation one probe.Run. Figures are
// wall time: the probe waits on the network (and on timeouts), not on
// the CPU. Ports: clusters on 25779-25781 and 25879-25881, everything
// else on port 0.
//
//	go test -run '^$' -bench . -benchtime 10x ./probe

// BenchmarkProbeHealthy3 probes a healthy 3-member cluster (6 endpoints,
// discovery included), started once outside the timer; the issue's
// target is under 1 s per probe.
func BenchmarkProbeHealthy3(b *testing.B) {
	_, opts := startCluster(b, 25779)
	var worst time.Duration
	for b.Loop() {
		began := time.Now()
		r, err := Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(began))
		if len(r.Findings) != 0 || len(r.Endpoints) != 6 {
			b.Fatalf("%d endpoints, findings %v; want 6 endpoints, no findings", len(r.Endpoints), r.Findings)
		}
	}
	b.ReportMetric(float64(worst.Milliseconds()), "max-ms")
}

// BenchmarkProbeBlackhole probes 50 endpoints of which 10 black-hole (accept
// TCP, never speak), with a 1 s timeout: the probe should take about one
// timeout, not ten. The 40 others are not etcd members (50 members would
// need 50 embedded etcd servers on 2 cores) but the test's fakes: TLS
// servers with certificates from the cluster CA that verify client
// certificates and answer /version and the gRPC KV read as etcd does. Each
// costs the probe what a member costs (five TLS handshakes and a gRPC
// read), so the figure is the probe's, not the fakes'.
func BenchmarkProbeBlackhole(b *testing.B) {
	c, opts := testPKI(b)
	opts.Timeout = time.Second
	// Every fifth endpoint is a hole, spread as in an endpoint list.
	for i := 1; i <= 50; i++ {
		ip := fmt.Sprintf("127.0.1.%d", i)
		if i%5 == 0 {
			opts.Endpoints = append(opts.Endpoints, blackHole(b, ip+":0"))
			continue
		}
		opts.Endpoints = append(opts.Endpoints, fake{Addr: ip + ":0", Cert: servingCert(b, c.CA, []string{ip}, c.Now), ClientCAs: pool(c.CA.Cert)}.start(b))
	}
	benchmarkBlackholes(b, opts, 10)
}

// BenchmarkProbeHealthy3Blackhole10 probes a real 3-member cluster plus 10
// black holes, with a 1 s timeout. The holes come first in the endpoint
// list, so discovery (MemberList) must not wait for them in turn.
func BenchmarkProbeHealthy3Blackhole10(b *testing.B) {
	cl, opts := startCluster(b, 25879)
	opts.Timeout = time.Second
	opts.Endpoints = nil
	for i := 1; i <= 10; i++ {
		opts.Endpoints = append(opts.Endpoints, blackHole(b, fmt.Sprintf("127.0.3.%d:0", i)))
	}
	opts.Endpoints = append(opts.Endpoints, cl.Endpoints()...)
	benchmarkBlackholes(b, opts, 10)
}

// benchmarkBlackholes runs the probe and checks that exactly the holes
// are findings; it reports the time in timeouts.
func benchmarkBlackholes(b *testing.B, opts Options, holes int) {
	var total time.Duration
	for b.Loop() {
		began := time.Now()
		r, err := Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(began)
		unreachable := 0
		for _, f := range r.Findings {
			if f.Rule != audit.RuleProbeUnreachable {
				b.Fatalf("unexpected finding %v", f.Error())
			}
			unreachable++
		}
		if unreachable != holes {
			b.Fatalf("%d unreachable endpoints, want %d", unreachable, holes)
		}
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(opts.Timeout), "timeouts/op")
}

// BenchmarkProbeDiscovered300Blackholes has MemberList name 300 members
// whose client URLs black-hole, with a 1 s timeout: the probe dials
// MaxDiscovered of them and should take about one timeout, never more than
// Timeout+Slack.
func BenchmarkProbeDiscovered300Blackholes(b *testing.B) {
	c, opts := testPKI(b)
	opts.Timeout = time.Second
	opts.NoDiscover = false
	opts.Endpoints = []string{blackHoledMembers(b, c, "127.0.0.130", 300)}
	var total, worst time.Duration
	for b.Loop() {
		began := time.Now()
		if _, err := Run(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
		d := time.Since(began)
		total, worst = total+d, max(worst, d)
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(opts.Timeout), "timeouts/op")
	b.ReportMetric(float64(worst.Milliseconds()), "max-ms")
}
