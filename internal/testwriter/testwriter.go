// Package testwriter is the tests' continuous etcd client: a writer that
// puts keys one after another while a test restarts members or rotates
// the CA, and records what was acknowledged and the longest pause between
// acknowledged writes; and a client configured as kube-apiserver is for
// etcd, whose client certificate is read from its files on every
// handshake.
package testwriter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

// Writer puts Prefix00000000, Prefix00000001, … one after another until
// stopped, retrying a key until it is acknowledged.
type Writer struct {
	Cli    *clientv3.Client
	Prefix string
	// Timeout bounds each write (default 1 s): a write sent to a member
	// as it shuts down can hang until then.
	Timeout time.Duration

	mu       sync.Mutex
	acked    int // keys 0..acked-1 are acknowledged
	failures int
	errs     []string // each failed attempt: phase, duration, error
	lastOK   time.Time
	maxGap   time.Duration
	gapAt    string // what the test was doing when the longest gap ended
	phase    string
}

// SetPhase names what the test does now, for the longest gap's report.
func (w *Writer) SetPhase(p string) {
	w.mu.Lock()
	w.phase = p
	w.mu.Unlock()
}

// Key is the i-th key.
func (w *Writer) Key(i int) string { return fmt.Sprintf("%s%08d", w.Prefix, i) }

// Run writes until ctx ends, about a hundred writes a second at most,
// and closes done when it returns.
func (w *Writer) Run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	w.mu.Lock()
	w.lastOK = time.Now()
	w.mu.Unlock()
	for i := 0; ctx.Err() == nil; {
		t0 := time.Now()
		rctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := w.Cli.Put(rctx, w.Key(i), fmt.Sprint(i))
		cancel()
		if ctx.Err() != nil {
			return // stopped: the attempt did not fail on its own
		}
		now := time.Now()
		w.mu.Lock()
		if err != nil {
			w.failures++
			w.errs = append(w.errs, fmt.Sprintf("%s: after %s: %v", w.phase, now.Sub(t0).Round(time.Millisecond), err))
		} else {
			if gap := now.Sub(w.lastOK); gap > w.maxGap {
				w.maxGap, w.gapAt = gap, w.phase
			}
			w.lastOK = now
			i++
			w.acked = i
		}
		w.mu.Unlock()
		if err != nil {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Result is what a Writer saw.
type Result struct {
	Acked, Failures int
	MaxGap          time.Duration
	GapAt           string
	Errors          []string
}

// Result reports the writes so far.
func (w *Writer) Result() Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Result{Acked: w.acked, Failures: w.failures, MaxGap: w.maxGap, GapAt: w.gapAt, Errors: append([]string(nil), w.errs...)}
}

// CheckReadBack reads every key under Prefix (a linearizable read, through
// the leader) and reports each acknowledged write that is missing, and
// more keys than the acknowledged writes and the one in flight when the
// writer stopped.
func (w *Writer) CheckReadBack(ctx context.Context) error {
	r := w.Result()
	resp, err := w.Cli.Get(ctx, w.Prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	var missing []string
	for i := range r.Acked {
		if !have[w.Key(i)] {
			missing = append(missing, w.Key(i))
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("%d acknowledged writes do not read back: %v", len(missing), missing)
	case len(resp.Kvs) > r.Acked+1:
		return fmt.Errorf("%d keys read back, more than the %d acknowledged writes and the one in flight", len(resp.Kvs), r.Acked)
	}
	return nil
}

// RotatingClient is a client as kube-apiserver is configured for etcd:
// it reads the CA file of member's tree in init's output out once, now
// (after stage that is the bundle old+new, as an apiserver restarted with
// its member after stage holds it), and its apiserver-etcd-client pair on
// every handshake (etcd's transport.TLSInfo, which the apiserver uses,
// reads them through GetClientCertificate). It fails the test unless the
// CA file holds wantCAs certificates.
func RotatingClient(t testing.TB, endpoints []string, out, member string, wantCAs int) *clientv3.Client {
	t.Helper()
	root := layout.MemberDir(out, member)
	cas, err := layout.ReadCerts(layout.OnDisk(root, layout.Kubeadm.CertPath(pki.KindCA)))
	if err != nil {
		t.Fatal(err)
	}
	if len(cas) != wantCAs {
		t.Fatalf("%s's ca.crt holds %d certificates, want %d", member, len(cas), wantCAs)
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	certFile := layout.OnDisk(root, layout.Kubeadm.CertPath(pki.KindAPIServerClient))
	keyFile := layout.OnDisk(root, layout.Kubeadm.KeyPath(pki.KindAPIServerClient))
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			kp, err := layout.ReadKeyPair(certFile, keyFile)
			if err != nil {
				return nil, err
			}
			return &tls.Certificate{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}, nil
		}}
	cli, err := local.NewClient(endpoints, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
