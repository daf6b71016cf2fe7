package hosts

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Host is one member's host: its network namespace and address.
type Host struct {
	// Member is the member's name.
	Member string
	// Netns is the network namespace (ip netns exec Netns …).
	Netns string
	// Veth is the root-namespace end of the host's veth pair, the bridge
	// port; inside the namespace the other end is eth0.
	Veth string
	// Addr is the host's address on eth0.
	Addr netip.Addr
}

// Network is the namespaces, veths and bridge of one run.
type Network struct {
	// ID is the run ID in every resource name.
	ID string
	// Bridge is the bridge in the root namespace.
	Bridge string
	Addresses
	Hosts []Host
	// Removed is what NewNetwork removed of earlier runs that did not
	// tear down (RemoveLeftovers).
	Removed Resources

	lock      *runLock
	closeOnce sync.Once
	closeErr  error
}

// teardownTimeout bounds Close's ip commands, which must run even when the
// caller's context has ended (SIGINT).
const teardownTimeout = 30 * time.Second

// NewNetwork removes what earlier runs left behind (RemoveLeftovers), then
// builds a namespace per member, joined by a bridge, with addresses from
// subnet: member i gets the subnet's i-th address, the bridge its last
// usable one. It checks Supported first and returns its *PlatformError
// before creating anything. On failure it removes what it built; on
// success Close removes it all.
func NewNetwork(ctx context.Context, subnet netip.Prefix, members []string) (*Network, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	a, err := Plan(subnet, len(members))
	if err != nil {
		return nil, err
	}
	removed, err := RemoveLeftovers(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkFree(ctx, a.Subnet); err != nil {
		return nil, err
	}
	existing, err := find(ctx, func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	used := existing.ids()
	lock, err := newRunLock(func(id string) bool { return slices.Contains(used, id) })
	if err != nil {
		return nil, fmt.Errorf("locking a run ID in %s: %w", LockDir, err)
	}
	nm := names{lock.id}
	n := &Network{ID: lock.id, Bridge: nm.bridge(), Addresses: *a, Removed: removed, lock: lock}
	for i, m := range members {
		n.Hosts = append(n.Hosts, Host{Member: m, Netns: nm.netns(m), Veth: nm.veth(i + 1), Addr: a.Members[i]})
	}
	if err := n.build(ctx); err != nil {
		if cerr := n.Close(); cerr != nil {
			err = fmt.Errorf("%w; and tearing down what was built: %v", err, cerr)
		}
		return nil, fmt.Errorf("building the network: %w", err)
	}
	return n, nil
}

// build creates the network in order: namespaces, the bridge, the veth
// pairs, then addresses and links up, one ip batch in the root namespace
// and one per namespace. A batch stops at its first failing line, and
// Close removes whatever exists by name, so a failure half-way leaves
// nothing behind.
func (n *Network) build(ctx context.Context) error {
	bridgeAddr := netip.PrefixFrom(n.Addresses.Bridge, n.Subnet.Bits())
	root := []string{
		"link add " + n.Bridge + " type bridge",
		// Without spanning tree a port forwards as soon as it is up; a
		// forward delay would hold a restored link back for 15 s.
		"link set " + n.Bridge + " type bridge stp_state 0 forward_delay 0",
		// No IPv6 link-local address, hence no router solicitations or
		// duplicate address detection on the bridge: the only traffic is
		// the members' own.
		"link set " + n.Bridge + " addrgenmode none",
		"addr add " + bridgeAddr.String() + " dev " + n.Bridge,
	}
	for _, h := range n.Hosts {
		root = append(root, "netns add "+h.Netns)
	}
	for _, h := range n.Hosts {
		root = append(root,
			// The namespace's end is created there, already called eth0:
			// interface names are per namespace.
			"link add "+h.Veth+" type veth peer name eth0 netns "+h.Netns,
			"link set "+h.Veth+" addrgenmode none",
			"link set "+h.Veth+" master "+n.Bridge,
			"link set "+h.Veth+" up",
		)
	}
	root = append(root, "link set "+n.Bridge+" up")
	if err := batch(ctx, "", false, root...); err != nil {
		return err
	}
	errs := make([]error, len(n.Hosts))
	var wg sync.WaitGroup
	for i, h := range n.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = batch(ctx, h.Netns, false,
				// A new namespace's lo is down: without it 127.0.0.1 is
				// unreachable, and etcd listens there.
				"link set lo up",
				"link set eth0 addrgenmode none",
				"addr add "+netip.PrefixFrom(h.Addr, n.Subnet.Bits()).String()+" dev eth0",
				"link set eth0 up",
			)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Host returns member's host, or nil.
func (n *Network) Host(member string) *Host {
	for i := range n.Hosts {
		if n.Hosts[i].Member == member {
			return &n.Hosts[i]
		}
	}
	return nil
}

func (n *Network) host(member string) (*Host, error) {
	if h := n.Host(member); h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("no member %q in the network", member)
}

// SetLink sets member's link to the bridge (the root end of its veth) up
// or down: down is a cable pulled at the switch. The member's eth0 loses
// its carrier and keeps its address, so nothing reaches the member and
// nothing leaves it, while it keeps running; up restores it.
func (n *Network) SetLink(ctx context.Context, member string, up bool) error {
	h, err := n.host(member)
	if err != nil {
		return err
	}
	state := "down"
	if up {
		state = "up"
	}
	return batch(ctx, "", false, "link set "+h.Veth+" "+state)
}

// WriteHosts gives member's namespace an /etc/hosts of its own, which
// ip netns exec bind-mounts over /etc/hosts for every command it runs
// there (ip-netns(8)): names the host resolves that no DNS server
// serves. Close (and leftover removal) deletes it with the namespace.
func (n *Network) WriteHosts(member, content string) error {
	h, err := n.host(member)
	if err != nil {
		return err
	}
	return writeNetnsHosts(h.Netns, content)
}

// Command returns a command that runs name with args inside member's
// namespace (ip netns exec, which enters the namespace and execs name, so
// the process is name itself, not a child of ip).
func (n *Network) Command(ctx context.Context, member, name string, args ...string) (*exec.Cmd, error) {
	h, err := n.host(member)
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, ipCommand, append([]string{"netns", "exec", h.Netns, name}, args...)...), nil
}

// Resources lists what the network consists of now, as ip sees it.
func (n *Network) Resources(ctx context.Context) (Resources, error) {
	return find(ctx, func(id string) bool { return id == n.ID })
}

// Close kills every process left in the namespaces and removes the veths,
// the bridge and the namespaces, then the run's lock. It is safe to call
// more than once, and runs to the end even if ctx has ended.
func (n *Network) Close() error {
	n.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
		defer cancel()
		r, err := n.Resources(ctx)
		if err == nil {
			err = remove(ctx, r)
		}
		if err != nil {
			// Released all the same: the next run finds what is left
			// without a live lock and removes it (RemoveLeftovers).
			n.closeErr = fmt.Errorf("tearing down network %s: %w", n.ID, err)
		}
		n.lock.release()
	})
	return n.closeErr
}

// String describes the network in one line.
func (n *Network) String() string {
	s := fmt.Sprintf("bridge %s %s/%d", n.Bridge, n.Addresses.Bridge, n.Subnet.Bits())
	for _, h := range n.Hosts {
		s += fmt.Sprintf(", %s %s in %s", h.Member, h.Addr, h.Netns)
	}
	return s + " (run " + strconv.Quote(n.ID) + ")"
}
