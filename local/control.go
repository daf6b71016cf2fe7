package local

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/etcdpki/etcdpki/internal/tlsdial"
	"github.com/etcdpki/etcdpki/pki"
)

// MemberStatus is what one member of a running cluster is doing.
type MemberStatus struct {
	Name string `json:"name"`
	// Running is false between StopMember and StartMember; Ready once
	// it serves clients; Leader for the raft leader.
	Running bool `json:"running"`
	Ready   bool `json:"ready"`
	Leader  bool `json:"leader,omitempty"`
	// ClientURL and PeerURL are where it listens here.
	ClientURL string `json:"clientURL"`
	PeerURL   string `json:"peerURL"`
	// Serving describes the certificate its client port serves now
	// (etcd reads it per handshake, so a renewed file shows at once);
	// empty while it is stopped.
	Serving *ServedCert `json:"serving,omitempty"`
}

// ServedCert is a served certificate, in short.
type ServedCert struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"notAfter"`
}

// StartMember starts member name, stopped by StopMember, from its files
// and data directory, and waits until it is ready; starting a running
// member does nothing. Its errors are RestartMember's.
func (cl *Cluster) StartMember(ctx context.Context, name string) error {
	cl.mu.Lock()
	m := cl.member(name)
	running := m != nil && m.etcd != nil
	cl.mu.Unlock()
	switch {
	case m == nil:
		return fmt.Errorf("no member %q", name)
	case running:
		return nil
	}
	return cl.startMember(ctx, m)
}

// Status reports every member, in the order of Members.
func (cl *Cluster) Status(ctx context.Context) []MemberStatus {
	cl.mu.Lock()
	type snap struct {
		name, client, peer string
		running            bool
		ready, leader      bool
	}
	var snaps []snap
	for _, m := range cl.members {
		s := snap{name: m.cfg.Name, client: first(m.cfg.AdvertiseClientURLs), peer: first(m.cfg.InitialAdvertisePeerURLs), running: m.etcd != nil}
		if m.etcd != nil {
			select {
			case <-m.etcd.Server.ReadyNotify():
				s.ready = true
				s.leader = m.etcd.Server.Leader() == m.etcd.Server.MemberID()
			default:
			}
		}
		snaps = append(snaps, s)
	}
	cl.mu.Unlock()
	var out []MemberStatus
	for _, s := range snaps {
		st := MemberStatus{Name: s.name, Running: s.running, Ready: s.ready, Leader: s.leader, ClientURL: s.client, PeerURL: s.peer}
		if s.running {
			st.Serving = ReadServedCert(ctx, s.client)
		}
		out = append(out, st)
	}
	return out
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// ReadServedCert reads the certificate an endpoint serves, without judging
// it (only looked at: the handshake may fail afterwards for want of a
// client certificate), or nil when none came.
func ReadServedCert(ctx context.Context, endpoint string) *ServedCert {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil
	}
	r := tlsdial.Dial(ctx, u.Host, tlsdial.Options{Config: &tls.Config{InsecureSkipVerify: true}, HandshakeOnly: true})
	if len(r.Served) == 0 {
		return nil
	}
	c := r.Served[0]
	return &ServedCert{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: pki.Serial(c), NotAfter: c.NotAfter}
}

// Controlled is a running cluster the control socket drives.
type Controlled interface {
	Members() []string
	StopMember(name string) error
	StartMember(ctx context.Context, name string) error
	RestartMember(ctx context.Context, name string) error
	Status(ctx context.Context) []MemberStatus
}

// ControlRequest is one request on the control socket: Op is "status",
// "stop", "start" or "restart"; Force lets stop take a member whose loss
// costs the quorum.
type ControlRequest struct {
	Op     string `json:"op"`
	Member string `json:"member,omitempty"`
	Force  bool   `json:"force,omitempty"`
}

// ControlResponse is the answer: the members' status after the request,
// or the error.
type ControlResponse struct {
	Error   string         `json:"error,omitempty"`
	Took    time.Duration  `json:"took"`
	Members []MemberStatus `json:"members,omitempty"`
}

// DefaultControlSocket is the control socket of an up without a
// directory of its own: per user, in a directory only the user can enter.
func DefaultControlSocket() string {
	return filepath.Join(os.TempDir(), "etcdpki-up-"+strconv.Itoa(os.Getuid()), "control.sock")
}

// ServeControl listens on the unix socket path and serves requests
// (ControlRequest, one JSON line each; ControlResponse back) until ctx
// ends or the returned stop is called, which removes the socket. It
// refuses a path where another up still answers; a socket left by a
// killed one is replaced. The socket's directory is made 0700 when it is
// created, and the socket is 0600: only the user drives the cluster.
func ServeControl(ctx context.Context, path string, c Controlled) (stop func(), err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return nil, fmt.Errorf("%s: another etcdpki up is running and answers there; stop it, or give this one --dir or --control of its own", path)
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s: exists and is not a socket", path)
		}
		// A socket nobody answers on: left by a killed up.
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveConn(ctx, conn, c)
		}
	}()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	return func() {
		cancel()
		<-done
		os.Remove(path)
	}, nil
}

// maxControlRequest bounds a request line.
const maxControlRequest = 4096

func serveConn(ctx context.Context, conn net.Conn, c Controlled) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(conn, maxControlRequest).ReadSlice('\n')
	resp := &ControlResponse{}
	var req ControlRequest
	switch {
	case err != nil:
		resp.Error = "reading the request: " + err.Error()
	case json.Unmarshal(line, &req) != nil:
		resp.Error = "the request is not JSON"
	default:
		start := time.Now()
		if err := handle(ctx, c, req); err != nil {
			resp.Error = err.Error()
		}
		resp.Took = time.Since(start)
		resp.Members = c.Status(ctx)
	}
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	json.NewEncoder(conn).Encode(resp)
}

// handle runs one request. stop refuses, unless forced, to take a member
// whose loss leaves fewer running members than a quorum.
func handle(ctx context.Context, c Controlled, req ControlRequest) error {
	if req.Op == "status" {
		return nil
	}
	known := false
	for _, m := range c.Members() {
		known = known || m == req.Member
	}
	if !known {
		return fmt.Errorf("no member %q (members: %v)", req.Member, c.Members())
	}
	switch req.Op {
	case "stop":
		if !req.Force {
			running, n := 0, 0
			for _, s := range c.Status(ctx) {
				n++
				if s.Running && s.Name != req.Member {
					running++
				}
			}
			if running < n/2+1 {
				return fmt.Errorf("stopping %s leaves %d of %d members running, fewer than a quorum (%d): the cluster would stop serving; --force stops it anyway", req.Member, running, n, n/2+1)
			}
		}
		return c.StopMember(req.Member)
	case "start":
		return c.StartMember(ctx, req.Member)
	case "restart":
		return c.RestartMember(ctx, req.Member)
	}
	return fmt.Errorf("unknown request %q (want status, stop, start or restart)", req.Op)
}

// Control sends req to the up listening on the unix socket path and
// returns its answer; a request the up refused is an error with the
// answer's text. A missing socket says that no up runs there.
func Control(ctx context.Context, path string, req ControlRequest) (*ControlResponse, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("no etcdpki up answers on %s: start one (etcdpki up), or give the --dir or --control it runs with", path)
		}
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, err
	}
	var resp ControlResponse
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&resp); err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", path, err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}
