package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

// portUpRotation is the base port of TestUpRotationWalk (members on
// 127.0.0.1-3).
const portUpRotation = 24879

// TestUpRotationWalk runs the README's CA rotation walk literally on an up
// cluster: the commands of the README (rotate-ca stage, status --live,
// reissue, finalize) on its --dir, and every restart through up's control
// socket ('etcdpki up restart MEMBER --dir DIR'), while a client writes
// continuously. Every acknowledged write is read back at the end; the
// longest pause between acknowledged writes and the rehearsal's time are
// reported.
func TestUpRotationWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster and restarts every member twice")
	}
	dir := filepath.Join(t.TempDir(), "pki")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := local.Start(ctx, local.Options{Dir: dir, Members: 3, ClientPort: portUpRotation, PeerPort: portUpRotation + 1, MetricsPort: portUpRotation + 2})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	stopControl, err := local.ServeControl(ctx, filepath.Join(dir, "control.sock"), cl)
	if err != nil {
		t.Fatal(err)
	}
	defer stopControl()
	etcdpki := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("etcdpki %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	members := cl.Members()

	start := time.Now()
	etcdpki("rotate-ca", "stage", "--dir", dir)
	// The client, configured after stage as kube-apiserver restarted with
	// its member is: the bundle old+new read once, its client certificate
	// read from its files on every handshake.
	w := &upWriter{cli: upRotatingClient(t, cl, dir)}
	wctx, wstop := context.WithCancel(ctx)
	wdone := make(chan struct{})
	go w.run(wctx, wdone)
	defer func() { wstop(); <-wdone }()
	time.Sleep(200 * time.Millisecond)

	restartAll := func(phase string) {
		for _, m := range members {
			w.setPhase(phase + ": restart " + m)
			out := etcdpki("up", "restart", m, "--dir", dir)
			if !strings.HasPrefix(out, "restart "+m+": done in ") {
				t.Errorf("up restart %s: %s", m, out)
			}
		}
	}
	restartAll("after stage")
	if st := etcdpki("rotate-ca", "status", "--dir", dir, "--live"); !strings.Contains(st, "next: reissue") {
		t.Errorf("status --live after stage and restarts does not say reissue:\n%s", st)
	}
	w.setPhase("reissue")
	etcdpki("rotate-ca", "reissue", "--dir", dir)
	w.setPhase("finalize")
	etcdpki("rotate-ca", "finalize", "--dir", dir)
	restartAll("after finalize")
	st := etcdpki("rotate-ca", "status", "--dir", dir, "--live")
	took := time.Since(start)
	if !strings.Contains(st, "forgot the retired CA") {
		t.Errorf("status --live after the last restart does not forget the old CA:\n%s", st)
	}
	time.Sleep(200 * time.Millisecond)
	wstop()
	<-wdone

	// Every acknowledged write reads back, through every member.
	w.mu.Lock()
	acked, gap, gapAt, failures := w.acked, w.maxGap, w.gapAt, w.failures
	w.mu.Unlock()
	if acked < 50 {
		t.Fatalf("only %d writes acknowledged", acked)
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	resp, err := w.cli.Get(rctx, "/uprotate/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	for i := range acked {
		if k := fmt.Sprintf("/uprotate/%08d", i); !have[k] {
			t.Errorf("acknowledged write %s does not read back", k)
		}
	}
	// The write in flight when the writer stopped may have landed too.
	if len(resp.Kvs) > acked+1 {
		t.Errorf("%d keys read back, more than the %d acknowledged writes and the one in flight", len(resp.Kvs), acked)
	}
	for _, s := range cl.Status(ctx) {
		if !s.Ready || s.Serving == nil || !strings.Contains(s.Serving.Issuer, "etcd-ca") {
			t.Errorf("%s after the rotation: %+v", s.Name, s)
		}
	}
	t.Logf("rotation rehearsal (stage, 3 restarts, reissue, finalize, 3 restarts) in %s; %d writes acknowledged, all read back, %d attempts failed; longest gap between acknowledged writes %s (%s)",
		took.Round(time.Millisecond), acked, failures, gap.Round(time.Millisecond), gapAt)
	if gap > 5*time.Second {
		t.Errorf("the longest gap between acknowledged writes is %s (%s)", gap, gapAt)
	}
}

// upWriter writes /uprotate/N continuously and records the longest pause
// between acknowledged writes.
type upWriter struct {
	cli      *clientv3.Client
	mu       sync.Mutex
	acked    int
	failures int
	lastOK   time.Time
	maxGap   time.Duration
	gapAt    string
	phase    string
}

func (w *upWriter) setPhase(p string) {
	w.mu.Lock()
	w.phase = p
	w.mu.Unlock()
}

func (w *upWriter) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	w.lastOK = time.Now()
	for i := 0; ctx.Err() == nil; {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := w.cli.Put(rctx, fmt.Sprintf("/uprotate/%08d", i), fmt.Sprint(i))
		cancel()
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		w.mu.Lock()
		if err != nil {
			w.failures++
		} else {
			if gap := now.Sub(w.lastOK); gap > w.maxGap {
				w.maxGap, w.gapAt = gap, w.phase
			}
			w.lastOK = now
			i++
			w.acked = i
		}
		w.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}

// upRotatingClient trusts etcd-1's ca.crt as it is now (the bundle
// old+new after stage) and reads its apiserver-etcd-client pair on every
// handshake, as etcd's own client transport does.
func upRotatingClient(t *testing.T, cl *local.Cluster, dir string) *clientv3.Client {
	t.Helper()
	root := layout.MemberDir(dir, "etcd-1")
	cas, err := layout.ReadCerts(layout.OnDisk(root, layout.Kubeadm.CertPath(pki.KindCA)))
	if err != nil {
		t.Fatal(err)
	}
	if len(cas) != 2 {
		t.Fatalf("etcd-1's ca.crt holds %d certificates after stage, want old+new", len(cas))
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
	cli, err := local.NewClient(cl.Endpoints(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
