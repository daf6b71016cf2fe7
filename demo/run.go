package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/probe"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// Options configure a demo run.
type Options struct {
	// Fault is a Faults name; empty runs the healthy cluster.
	Fault string
	// Dir keeps the PKI, manifests and data; empty means a temporary
	// directory, removed afterwards. It must not hold a PKI already.
	Dir string
	// BasePort: client port, peer port +1, metrics +2 (default 2379).
	BasePort int
	// ReadyTimeout is how long members get to form (default 3s): a member
	// that cannot join is never ready, so this is also how long a broken
	// demo waits.
	ReadyTimeout time.Duration
	// Verbose copies etcd's logs to LogWriter.
	Verbose   bool
	LogWriter io.Writer
}

// Members is the size of the demo cluster: the smallest that keeps a
// quorum when one member is broken.
const Members = 3

// Result is what each side said about the fault.
type Result struct {
	Fault *Fault `json:"fault,omitempty"`
	Dir   string `json:"dir"`
	// Check is the offline audit of the files, Probe the live one.
	Check *audit.Report `json:"check"`
	Probe *probe.Report `json:"probe"`
	// Etcd is what etcd logged as going wrong (warnings and errors that
	// carry an error), one line per member and message.
	Etcd []string `json:"etcd"`
	// NotReady lists the members that did not become ready.
	NotReady []string `json:"notReady,omitempty"`
	// Formed is true when a quorum of members became ready.
	Formed bool `json:"formed"`
	// Clients has, per member, the error of a write and read through it
	// with its apiserver-etcd-client cert ("" for success).
	Clients map[string]string `json:"clients"`
	// Served is true when every member served the client.
	Served bool `json:"served"`
	// Gateway has, per member, the error of a read through etcd's
	// HTTP/JSON API (the grpc-gateway, which dials the member's own client
	// port with --cert-file or --client-cert-file); GatewayServes is true
	// when every member served it.
	Gateway       map[string]string `json:"gateway"`
	GatewayServes bool              `json:"gatewayServes"`
}

// Run boots the demo cluster with opts.Fault and collects what check,
// probe, etcd and a client say.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.BasePort == 0 {
		opts.BasePort = spec.DefaultClientPort
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 3 * time.Second
	}
	var fault *Fault
	if opts.Fault != "" {
		f, err := LookupFault(opts.Fault)
		if err != nil {
			return nil, err
		}
		fault = f
	}
	out := opts.Dir
	if out == "" {
		d, err := os.MkdirTemp("", "etcdpki-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		out = d
	} else if _, err := os.Stat(layout.SpecFile(out)); err == nil {
		return nil, fmt.Errorf("%s already holds a PKI; demo needs a directory of its own", out)
	}
	c, err := spec.Loopback(Members, opts.BasePort, opts.BasePort+1, opts.BasePort+2)
	if err != nil {
		return nil, err
	}
	c.Name = "etcdpki-demo"
	c.Algorithm = pki.ECDSAP256
	now := time.Now()
	ir, err := layout.Init(c, out, layout.InitOptions{Now: now})
	if err != nil {
		return nil, err
	}
	var configure func(*render.Config)
	if fault != nil {
		if fault.apply != nil {
			if err := fault.apply(&env{out: out, spec: c, ca: ir.CA, now: now}); err != nil {
				return nil, fmt.Errorf("breaking the PKI (%s): %w", fault.Name, err)
			}
		}
		configure = fault.configure
	}
	if err := writeManifests(out, c, configure); err != nil {
		return nil, err
	}

	res := &Result{Fault: fault, Dir: out, Clients: map[string]string{}, Gateway: map[string]string{}}
	if res.Check, err = audit.CheckDirs([]string{out}, audit.Options{Now: now}); err != nil {
		return nil, err
	}

	lopts := local.Options{ReadyTimeout: opts.ReadyTimeout, KeepNotReady: true, Configure: configure, Verbose: opts.Verbose, LogWriter: opts.LogWriter}
	cl, err := local.StartFromDir(ctx, out, c, lopts)
	var be *local.BootError
	switch {
	case err == nil:
	case errors.As(err, &be) && cl != nil:
		res.NotReady = be.NotReady
	case errors.As(err, &be):
		// A member failed outright (etcd refused its own files).
		res.Etcd = be.Problems()
		if len(res.Etcd) == 0 {
			res.Etcd = []string{be.Error()}
		}
		res.Clients["*"] = "the cluster did not start: " + be.Error()
		return res, nil
	default:
		return nil, err
	}
	defer cl.Close()
	res.Formed = len(res.NotReady) <= Members/2
	res.Served = serveAll(ctx, cl, res.Clients, serveOne)
	// A member that is not ready serves nothing; the gateway question is
	// about the members that are.
	res.GatewayServes = serveAll(ctx, cl, res.Gateway, func(ctx context.Context, cl *local.Cluster, name string) error {
		for _, nr := range res.NotReady {
			if nr == name {
				return nil
			}
		}
		return gatewayRead(ctx, cl, name)
	})
	// What etcd logged so far; the probe's own deliberate refusals (no
	// client cert, a foreign CA, TLS 1.1) come after and are left out.
	res.Etcd = cl.Problems()

	l, _ := layout.ForName(c.Layout)
	root := layout.MemberDir(out, "etcd-1")
	pr, err := probe.Run(ctx, probe.Options{
		Endpoints: cl.Endpoints(),
		CACert:    layout.OnDisk(root, l.CertPath(pki.KindCA)),
		Cert:      layout.OnDisk(root, l.CertPath(pki.KindHealthcheckClient)),
		Key:       layout.OnDisk(root, l.KeyPath(pki.KindHealthcheckClient)),
		Timeout:   time.Second,
		Now:       now,
	})
	if err != nil {
		return nil, err
	}
	res.Probe = pr
	return res, nil
}

// writeManifests puts each member's kubeadm-style static pod manifest in
// its tree, as on a real node, so that check reads the flags (and the
// addresses) the member runs with.
func writeManifests(out string, c *spec.Cluster, configure func(*render.Config)) error {
	for _, m := range c.Members {
		rc, err := render.ForMember(c, m.Name, render.Options{})
		if err != nil {
			return err
		}
		if configure != nil {
			configure(rc)
		}
		man, err := rc.Manifest(c, "")
		if err != nil {
			return err
		}
		p := layout.OnDisk(layout.MemberDir(out, m.Name), "/etc/kubernetes/manifests/etcd.yaml")
		if err := layout.WriteFile(p, man, layout.KeyPerm); err != nil {
			return err
		}
	}
	return nil
}

// clientTimeout bounds each member's write and read: a member that is not
// ready never answers.
const clientTimeout = 2 * time.Second

// serveAll writes and reads through every member, concurrently, with that
// member's apiserver-etcd-client cert; errs gets each member's error.
func serveAll(ctx context.Context, cl *local.Cluster, errs map[string]string, serve func(context.Context, *local.Cluster, string) error) bool {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range cl.Members() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := serve(ctx, cl, name)
			mu.Lock()
			defer mu.Unlock()
			errs[name] = ""
			if err != nil {
				errs[name] = err.Error()
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			return false
		}
	}
	return true
}

func serveOne(ctx context.Context, cl *local.Cluster, name string) error {
	cfg, err := cl.ClientTLS(name, pki.KindAPIServerClient)
	if err != nil {
		return err
	}
	ep := cl.Config(name).AdvertiseClientURLs[0]
	cli, err := local.NewClient([]string{ep}, cfg)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	key := "etcdpki-demo/" + name
	if _, err := cli.Put(ctx, key, "ok"); err != nil {
		return explainDeadline(err, ep, cfg)
	}
	if _, err := cli.Get(ctx, key); err != nil {
		return explainDeadline(err, ep, cfg)
	}
	return nil
}

// RuleIDs returns the sorted distinct rule IDs of a report's findings,
// leaving out notes and the warning about near expiry.
func RuleIDs(r *audit.Report) []string {
	if r == nil {
		return nil
	}
	var ids []string
	for _, id := range r.RuleIDs() {
		if lr, ok := audit.LookupRule(id); ok && lr.Severity == audit.Info {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func joinIDs(ids []string) string {
	if len(ids) == 0 {
		return "(none)"
	}
	s := append([]string{}, ids...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// explainDeadline adds the TLS error behind a gRPC "context deadline
// exceeded", which is all clientv3 reports of a refused handshake.
func explainDeadline(err error, endpoint string, cfg *tls.Config) error {
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	herr := local.CheckHandshake(ctx, endpoint, cfg)
	switch {
	case errors.Is(herr, context.DeadlineExceeded):
		return fmt.Errorf("%w (no TLS handshake: etcd serves its client port only once the member is ready)", err)
	case herr != nil:
		return fmt.Errorf("%w (TLS: %v)", err, herr)
	}
	return err
}

// gatewayRead reads a key through the member's HTTP/JSON API, as curl
// users and some tools do: etcd's grpc-gateway serves it by dialing the
// member's own gRPC port.
func gatewayRead(ctx context.Context, cl *local.Cluster, name string) error {
	cfg, err := cl.ClientTLS(name, pki.KindAPIServerClient)
	if err != nil {
		return err
	}
	// The served cert is judged elsewhere; this asks only whether the
	// gateway works.
	cfg.InsecureSkipVerify = true
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: clientTimeout}
	defer hc.CloseIdleConnections()
	ep := cl.Config(name).AdvertiseClientURLs[0]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep+"/v3/kv/range", strings.NewReader(`{"key":"ZXRjZHBraQ=="}`))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v3/kv/range: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
