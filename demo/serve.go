package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

// clientTimeout bounds each member's write and read: a member that is not
// ready never answers.
const clientTimeout = 2 * time.Second

// serveFunc is one client's try of one member.
type serveFunc func(ctx context.Context, cl cluster, name string) error

// serveAll tries every member with serve, concurrently; errs gets each
// member's error ("" for success).
func serveAll(ctx context.Context, cl cluster, errs map[string]string, serve serveFunc) bool {
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

// serveOne writes and reads through the member's advertised client URL
// with its apiserver-etcd-client cert, from this (the root) namespace.
func serveOne(ctx context.Context, cl cluster, name string) error {
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
	return putGet(ctx, cli, name, func(ctx context.Context) error { return local.CheckHandshake(ctx, ep, cfg) })
}

// localServe writes and reads through https://127.0.0.1:2379 from inside
// the member's own host, with its apiserver-etcd-client cert: what
// kube-apiserver on a stacked control plane does, and what needs the
// member's server cert to name 127.0.0.1.
func localServe(ctx context.Context, hc *hosts.Cluster, name string) error {
	cfg, err := hc.ClientTLS(name, pki.KindAPIServerClient)
	if err != nil {
		return err
	}
	ep := hc.LocalEndpoint()
	cli, err := hc.NewClient(name, []string{ep}, cfg)
	if err != nil {
		return err
	}
	defer cli.Close()
	return putGet(ctx, cli, name, func(ctx context.Context) error { return hc.CheckHandshake(ctx, name, ep, cfg) })
}

// putGet writes a key and reads it back through cli. gRPC reports a
// refused handshake only as "context deadline exceeded"; handshake then
// says what TLS said.
func putGet(ctx context.Context, cli *clientv3.Client, name string, handshake func(context.Context) error) error {
	rctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	key := "etcdpki-demo/" + name
	_, err := cli.Put(rctx, key, "ok")
	if err == nil {
		_, err = cli.Get(rctx, key)
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	hctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	herr := handshake(hctx)
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
func gatewayRead(ctx context.Context, cl cluster, name string) error {
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
