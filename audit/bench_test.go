package audit_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/distro"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/render"
)

// BenchmarkCheck times CheckDirs over 10, 100 and 1,000 member directories
// of one ECDSA P-256 PKI with split credentials (ca.crt and six leaves,
// seven certificates and seven keys per member) and kubeadm manifests: the
// discovery, reading, parsing and every rule, as etcdpki check runs them.
// The fixture is written once per run of the benchmark (generating 1,000
// members' keys takes seconds) and the sizes check its first members.
//
// No etcd cluster has 1,000 members (etcd recommends at most 7); checking
// that many directories means auditing a fleet's nodes. So each manifest's
// --initial-cluster names the member and its two neighbours, as a 3-member
// cluster's does, rather than all 1,000: otherwise every manifest would
// hold 30 KB of URLs and the input would grow with the square of the
// members. The members are marked as running (--initial-cluster-state=
// existing), since bootstrapping ones would have to list the same members.
func BenchmarkCheck(b *testing.B) {
	start := time.Now()
	c := testca.New(b, testca.Options{Members: 1000, Split: true})
	names := c.Names()
	var dirs []string
	for i, m := range names {
		dirs = append(dirs, c.MemberDir(m))
		c.WriteSettings(m, func(cfg *render.Config) {
			var initial []string
			for _, j := range []int{i - 1, i, i + 1} {
				if j >= 0 && j < len(names) {
					initial = append(initial, names[j]+"=https://"+testca.MemberIP(j+1)+":2380")
				}
			}
			cfg.InitialCluster = strings.Join(initial, ",")
			// Members of a running fleet: etcd ignores --initial-cluster
			// on restart, so the lists need not agree.
			cfg.InitialClusterState = "existing"
		})
	}
	b.Logf("fixture: %d members written in %s", len(names), time.Since(start).Round(time.Millisecond))
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := audit.CheckDirs(dirs[:n], audit.Options{Now: c.Now})
				if err != nil {
					b.Fatal(err)
				}
				if len(r.Findings) != 0 || len(r.Members) != n {
					b.Fatalf("want %d clean members, got %d members and %d findings: %s", n, len(r.Members), len(r.Findings), r.Findings[0].Error())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/member")
		})
	}
	// The same 1,000 members as bundles of etcdpki collect, one per node
	// (issue 17's target: check over 1,000 bundles under 1 s).
	bundles := make([]string, len(dirs))
	dir := b.TempDir()
	for i, d := range dirs {
		ms, err := member.LoadDirs([]string{d}, nil, member.DiscoverOptions{})
		if err != nil {
			b.Fatal(err)
		}
		data, err := member.EncodeBundle(ms, c.Now)
		if err != nil {
			b.Fatal(err)
		}
		bundles[i] = filepath.Join(dir, fmt.Sprintf("node%04d.json", i))
		if err := os.WriteFile(bundles[i], data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("bundles=1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := audit.CheckDirs(bundles, audit.Options{Now: c.Now})
			if err != nil {
				b.Fatal(err)
			}
			if len(r.Findings) != 0 || len(r.Members) != len(bundles) {
				b.Fatalf("want %d clean members, got %d members and %d findings", len(bundles), len(r.Members), len(r.Findings))
			}
		}
	})
}

// BenchmarkCollect is etcdpki collect's work on one kubeadm node (its
// manifest, ca.crt and the four leaves with their keys): read the node as
// check does, record the public facts, encode the JSON (issue 17's
// target: under 50 ms).
func BenchmarkCollect(b *testing.B) {
	c := testca.New(b, testca.Options{Manifests: true})
	d := c.MemberDir("cp1")
	for b.Loop() {
		ms, err := member.LoadDirs([]string{d}, nil, member.DiscoverOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := member.EncodeBundle(ms, c.Now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckKubespray is check on a kubespray cluster, where every
// node holds every member's certificates and keys (3 files a member).
func BenchmarkCheckKubespray(b *testing.B) {
	for _, n := range []int{7, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			if n > 7 && testing.Short() {
				b.Skip("100 members: generating 300 RSA keys takes a while")
			}
			f := distro.Kubespray(b, b.TempDir(), distro.Options{Nodes: distro.DefaultNodes(n)})
			b.ResetTimer()
			for b.Loop() {
				members, err := member.LoadDirs(f.Dirs, nil, member.DiscoverOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if r := audit.Check(members, audit.Options{}); r.Verdict.Errors > 0 {
					b.Fatalf("errors on a clean cluster: %d", r.Verdict.Errors)
				}
			}
		})
	}
}
