package audit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// logGroup is one kind of line of a generated log, with how often it
// comes and what ExplainLog must make of it.
type logGroup struct {
	every  int // one line in every this many
	line   func(t time.Time, i int) string
	remote string
	member string
	rule   RuleID // "" for lines that are no TLS failure
	notTLS bool
}

// logStart is the generated log's first time stamp; a line follows every
// logStep.
var logStart = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

const logStep = 400 * time.Millisecond

// testLogGroups is the generated log of etcd-1 (10.0.0.11) in a
// three-member cluster, mixing the formats a node's logs come in:
// journalctl over etcd 3.6 JSON, kubectl logs --timestamps of a kubeadm
// static pod, crictl's CRI lines, 3.4's text, kube-apiserver's klog.
var testLogGroups = []logGroup{
	{every: 20, remote: "10.0.0.12", member: "etcd-2", rule: RulePeerCA, line: func(t time.Time, i int) string {
		return fmt.Sprintf(`%s cp1 etcd[812]: {"level":"warn","ts":"%s","caller":"embed/config_logging.go:188","msg":"rejected connection on peer endpoint","remote-addr":"10.0.0.12:%d","server-name":"","error":"tls: failed to verify certificate: x509: certificate signed by unknown authority"}`,
			t.Format("Jan 02 15:04:05"), t.Format("2006-01-02T15:04:05.000000Z"), 40000+i%20000)
	}},
	{every: 33, remote: "10.0.0.13", member: "etcd-3", rule: RulePeerSAN, line: func(t time.Time, i int) string {
		return fmt.Sprintf(`%s stderr F %s I | embed: rejected connection from "10.0.0.13:%d" (error "tls: \"10.0.0.13\" does not match any of DNSNames [\"etcd-3\" \"localhost\"] (lookup etcd-3 on 10.96.0.10:53: no such host)", ServerName "", IPAddresses ["127.0.0.1"], DNSNames ["etcd-3" "localhost"])`,
			t.Format(time.RFC3339Nano), t.Format("2006-01-02 15:04:05.000000"), 50000+i%10000)
	}},
	{every: 50, remote: "10.0.0.50", rule: RuleClientNoCert, line: func(t time.Time, i int) string {
		return fmt.Sprintf(`%s {"level":"warn","ts":"%s","caller":"embed/config_logging.go:188","msg":"rejected connection on client endpoint","remote-addr":"10.0.0.50:%d","server-name":"","error":"tls: client didn't provide a certificate"}`,
			t.Format(time.RFC3339Nano), t.Format("2006-01-02T15:04:05.000000Z"), 30000+i%1000)
	}},
	{every: 97, remote: "127.0.0.1", rule: RuleAPIServer, line: func(t time.Time, i int) string {
		return fmt.Sprintf(`%s cp1 kube-apiserver[901]: W%s    901 logging.go:55] [core] [Channel #%d SubChannel #2]grpc: addrConn.createTransport failed to connect to {Addr: "127.0.0.1:2379", ServerName: "127.0.0.1:2379", }. Err: connection error: desc = "error reading server preface: remote error: tls: unknown certificate authority"`,
			t.Format("Jan 02 15:04:05"), t.Format("0102 15:04:05.000000"), i%7)
	}},
	{every: 25, notTLS: true, line: func(t time.Time, i int) string {
		return fmt.Sprintf(`%s cp1 etcd[812]: {"level":"warn","ts":"%s","caller":"embed/config_logging.go:188","msg":"rejected connection on client endpoint","remote-addr":"10.0.0.1:%d","server-name":"","error":"EOF"}`,
			t.Format("Jan 02 15:04:05"), t.Format("2006-01-02T15:04:05.000000Z"), 20000+i%30000)
	}},
}

// noiseLines are what a healthy etcd logs around the failures, some with
// TLS words in them.
var noiseLines = []string{
	`{"level":"info","ts":"2026-11-30T10:00:00.000000Z","caller":"etcdserver/server.go:1372","msg":"triggering snapshot","local-member-id":"8e9e05c52164694d","local-member-applied-index":100001}`,
	`{"level":"info","ts":"2026-11-30T10:00:00.000000Z","caller":"embed/serve.go:250","msg":"serving client traffic securely","traffic":"grpc+http","address":"10.0.0.11:2379"}`,
	`{"level":"info","ts":"2026-11-30T10:00:00.000000Z","caller":"embed/etcd.go:310","msg":"starting an etcd server","client-cert-auth":true,"peer-client-cert-auth":true,"tls-min-version":"TLS1.2"}`,
	`2026-11-30 10:00:00.000000 I | mvcc: store.index: compact 1234`,
	`I1130 10:00:00.000000       1 controller.go:615] quota admission added evaluator for: leases.coordination.k8s.io`,
	`Nov 30 10:00:00 cp1 kubelet[700]: I1130 10:00:00.000000     700 certificate_manager.go:356] kubernetes.io/kubelet-serving: Rotating certificates`,
}

// genLog is a log of n lines, one every logStep from logStart, written as it
// is read, so that its size does not count against the reader's memory.
type genLog struct {
	n, i int
	buf  []byte
}

func (g *genLog) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i < g.n {
		g.buf = append(g.buf, logLine(g.i)...)
		g.buf = append(g.buf, '\n')
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	k := copy(p, g.buf)
	g.buf = g.buf[k:]
	return k, nil
}

// logLine is line i: the first group whose period divides i, else noise.
func logLine(i int) string {
	t := logStart.Add(time.Duration(i) * logStep)
	for _, g := range testLogGroups {
		if i%g.every == 0 {
			return g.line(t, i)
		}
	}
	return noiseLines[i%len(noiseLines)]
}

// expectedGroups counts, per group, the lines of an n-line log, and the
// first and last time of each.
func expectedGroups(n int) (counts []int, first, last []time.Time) {
	counts = make([]int, len(testLogGroups))
	first = make([]time.Time, len(testLogGroups))
	last = make([]time.Time, len(testLogGroups))
	for i := range n {
		for k, g := range testLogGroups {
			if i%g.every == 0 {
				t := logStart.Add(time.Duration(i) * logStep)
				if counts[k] == 0 {
					first[k] = t
				}
				last[k] = t
				counts[k]++
				break
			}
		}
	}
	return counts, first, last
}

func testMembers() map[string]string {
	return MemberAddresses([]MemberAddress{
		{Name: "etcd-1", Addresses: []string{"10.0.0.11", "127.0.0.1"}},
		{Name: "etcd-2", Addresses: []string{"10.0.0.12", "127.0.0.1"}},
		{Name: "etcd-3", Addresses: []string{"10.0.0.13"}},
	})
}

// TestExplainLog: a generated 100,000-line log with known groups, in
// mixed formats, comes out as exactly those groups, with their counts,
// times and members, and nothing else.
func TestExplainLog(t *testing.T) {
	const n = 100000
	rep, err := ExplainLog(&genLog{n: n}, LogOptions{Members: testMembers(), Logger: "etcd-1"})
	if err != nil {
		t.Fatal(err)
	}
	counts, first, last := expectedGroups(n)
	if rep.Lines != n {
		t.Errorf("read %d lines, want %d", rep.Lines, n)
	}
	want := 0
	for k, g := range testLogGroups {
		if g.notTLS {
			if rep.NotTLS != counts[k] {
				t.Errorf("NotTLS = %d, want %d (the EOF lines)", rep.NotTLS, counts[k])
			}
			continue
		}
		want++
		var got *LogGroup
		for _, rg := range rep.Groups {
			if rg.Remote == g.remote && rg.Rule == g.rule {
				got = rg
			}
		}
		if got == nil {
			t.Errorf("no group for %s %s", g.remote, g.rule)
			continue
		}
		if got.Count != counts[k] || got.Member != g.member || !got.First.Equal(first[k].Truncate(time.Second)) && !got.First.Equal(first[k]) || !got.Last.Equal(last[k].Truncate(time.Second)) && !got.Last.Equal(last[k]) {
			t.Errorf("group %s %s = %d lines of %q, %v to %v; want %d of %q, %v to %v", g.remote, g.rule, got.Count, got.Member, got.First, got.Last, counts[k], g.member, first[k], last[k])
		}
	}
	if len(rep.Groups) != want {
		for _, g := range rep.Groups {
			t.Logf("group: %s %s %d", g.Remote, g.Rule, g.Count)
		}
		t.Errorf("%d groups, want %d", len(rep.Groups), want)
	}
	for i := 1; i < len(rep.Groups); i++ {
		if rep.Groups[i].Count > rep.Groups[i-1].Count {
			t.Errorf("groups not ranked by count: %d after %d", rep.Groups[i].Count, rep.Groups[i-1].Count)
		}
	}
	if len(rep.Groups) > 0 {
		s := rep.Groups[0].Summary
		wantS := "etcd-2 (10.0.0.12) presents a peer certificate that etcd-1's CA does not trust — 5,000 rejections since 10:00, last "
		if !strings.HasPrefix(s, wantS) {
			t.Errorf("first group's summary:\n got %s\nwant %s…", s, wantS)
		}
	}
}

// TestExplainLogBounded: memory does not grow with the log: a log with a
// new remote address on every line keeps MaxGroups groups and counts the
// rest, lines over the limit are skipped, and the heap after a 300,000-line
// log is that after a 30,000-line one.
func TestExplainLogBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads half a million lines")
	}
	distinct := func(n int) io.Reader {
		pr, pw := io.Pipe()
		go func() {
			w := bufio.NewWriter(pw)
			for i := range n {
				fmt.Fprintf(w, `{"level":"warn","ts":"2026-11-30T10:00:00Z","msg":"rejected connection on client endpoint","remote-addr":"10.%d.%d.%d:1234","error":"tls: client didn't provide a certificate"}`+"\n", i>>16&255, i>>8&255, i&255)
			}
			w.Flush()
			pw.Close()
		}()
		return pr
	}
	rep, err := ExplainLog(distinct(200000), LogOptions{MaxGroups: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Groups) != 1000 || rep.Overflow != 199000 || rep.Failures != 200000 {
		t.Errorf("groups %d, overflow %d, failures %d; want 1000, 199000, 200000", len(rep.Groups), rep.Overflow, rep.Failures)
	}

	long := strings.NewReader("x" + strings.Repeat("tls ", maxLogLine) + "\n" + logLine(0) + "\n")
	rep, err = ExplainLog(long, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TooLong != 1 || rep.Lines != 2 || len(rep.Groups) != 1 {
		t.Errorf("a line over the limit: too long %d, lines %d, groups %d; want 1, 2, 1", rep.TooLong, rep.Lines, len(rep.Groups))
	}

	heap := func(n int) uint64 {
		rep, err := ExplainLog(&genLog{n: n}, LogOptions{Members: testMembers()})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		runtime.KeepAlive(rep)
		return ms.HeapAlloc
	}
	small, big := heap(30000), heap(300000)
	if big > small+1<<20 {
		t.Errorf("heap after 300,000 lines %d bytes, after 30,000 %d: it grows with the log", big, small)
	}
	t.Logf("heap after 30,000 lines: %d KiB; after 300,000: %d KiB", small>>10, big>>10)
}

// TestWriteLog writes the generated log to $ETCDPKI_LOG_FILE with
// $ETCDPKI_LOG_LINES lines (default 100,000), for bench/explain.sh.
func TestWriteLog(t *testing.T) {
	path := os.Getenv("ETCDPKI_LOG_FILE")
	if path == "" {
		t.Skip("set ETCDPKI_LOG_FILE")
	}
	n := 100000
	if s := os.Getenv("ETCDPKI_LOG_LINES"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, &genLog{n: n}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkExplainMessage is one message in-process, for each shape of
// the corpus (target: under 2 ms).
func BenchmarkExplainMessage(b *testing.B) {
	rows := loadCorpus(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Explain(rows[i%len(rows)].Message)
	}
}

// BenchmarkExplainLog is explain --log's work on 100,000 mixed lines
// (target: under 1 s).
func BenchmarkExplainLog(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ExplainLog(&genLog{n: 100000}, LogOptions{Members: testMembers()}); err != nil {
			b.Fatal(err)
		}
	}
}
