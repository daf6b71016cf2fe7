package exporter_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/exporter"
	"github.com/etcdpki/etcdpki/internal/testca"
)

// aggregating is an exporter of cp1 of an 8-member cluster whose 7 peers'
// exporters serve their bundles over loopback HTTP, scanned once.
func aggregating(b *testing.B) *exporter.Exporter {
	b.Helper()
	c := testca.New(b, testca.Options{Members: 8, Manifests: true})
	var peers []string
	for _, name := range c.Names()[1:] {
		peers = append(peers, peerServer(b, c, name).URL+"/bundle")
	}
	e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: peers, Now: func() time.Time { return c.Now }})
	if err := e.Scan(b.Context()); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkScrapePeers7 is a Prometheus scrape of /metrics of an
// aggregating exporter with 7 peers (target: under 200 ms). A scrape
// reads the last scan; BenchmarkScanPeers7 is the scan.
func BenchmarkScrapePeers7(b *testing.B) {
	ts := httptest.NewServer(aggregating(b).Handler())
	defer ts.Close()
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(ts.URL + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
}

// BenchmarkScanPeers7 is one scan of that exporter: its own tree read,
// the 7 peers' bundles fetched and read, check over the 8 members.
func BenchmarkScanPeers7(b *testing.B) {
	e := aggregating(b)
	b.ResetTimer()
	for b.Loop() {
		if err := e.Scan(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
