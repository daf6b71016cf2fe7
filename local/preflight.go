package local

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"

	"github.com/etcdpki/etcdpki/render"
)

// BindError is an address a member needs but cannot listen on, found
// before any member starts.
type BindError struct {
	// Member is the member that needs the address.
	Member string
	// Port is "client", "peer" or "metrics".
	Port string
	// Addr is the host:port.
	Addr string
	// Err is the error of the listen call, e.g. syscall.EADDRINUSE.
	Err error
}

func (e *BindError) Error() string {
	switch {
	case e.InUse():
		return fmt.Sprintf("%s is already in use (%s port of member %s)", e.Addr, e.Port, e.Member)
	case errors.Is(e.Err, syscall.EADDRNOTAVAIL):
		return fmt.Sprintf("cannot listen on %s (%s port of member %s): the address is not on this host", e.Addr, e.Port, e.Member)
	}
	return fmt.Sprintf("cannot listen on %s (%s port of member %s): %v", e.Addr, e.Port, e.Member, e.Err)
}

func (e *BindError) Unwrap() error { return e.Err }

// InUse reports whether another process (or another member) holds the
// address.
func (e *BindError) InUse() bool { return errors.Is(e.Err, syscall.EADDRINUSE) }

// preflight listens on every address every member needs and closes the
// listeners again. embed.StartEtcd would find a taken port too, but only
// after the members before it have started, leaving them waiting for a
// quorum that cannot form; checking first fails in milliseconds with an
// error that names the address and the member. All listeners stay open
// until every address is tried, so two members configured with the same
// address are caught as well.
func preflight(configs []*render.Config) error {
	var open []net.Listener
	defer func() {
		for _, l := range open {
			l.Close()
		}
	}()
	for _, rc := range configs {
		for _, p := range []struct {
			port string
			urls []string
		}{{"client", rc.ListenClientURLs}, {"peer", rc.ListenPeerURLs}, {"metrics", rc.ListenMetricsURLs}} {
			for _, s := range p.urls {
				u, err := url.Parse(s)
				if err != nil {
					return fmt.Errorf("member %s: %s URL %q: %w", rc.Name, p.port, s, err)
				}
				l, err := net.Listen("tcp", u.Host)
				if err != nil {
					// Keep "bind: …", drop "listen tcp <addr>:", which
					// the message says already.
					var oe *net.OpError
					if errors.As(err, &oe) {
						err = oe.Err
					}
					return &BindError{Member: rc.Name, Port: p.port, Addr: u.Host, Err: err}
				}
				open = append(open, l)
			}
		}
	}
	return nil
}
