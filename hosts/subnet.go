package hosts

import (
	"context"
	"fmt"
	"net/netip"
)

// DefaultSubnet is the network of a run unless told otherwise: a /24 of
// 198.18.0.0/15, which RFC 2544 reserves for benchmarking and which is
// never routed, so it does not shadow a real network in the root
// namespace's routing table.
var DefaultSubnet = netip.MustParsePrefix("198.18.0.0/24")

// benchmarkRange is RFC 2544's 198.18.0.0/15.
var benchmarkRange = netip.MustParsePrefix("198.18.0.0/15")

// Addresses are the addresses of a run's network.
type Addresses struct {
	Subnet netip.Prefix
	// Bridge is the root namespace's address on the bridge: the subnet's
	// last usable address (198.18.0.254 in 198.18.0.0/24).
	Bridge netip.Addr
	// Members are the members' addresses, member i's the subnet's i-th
	// (198.18.0.1, 198.18.0.2, …).
	Members []netip.Addr
}

// Plan checks subnet and assigns addresses to n members. The subnet must
// be an IPv4 network address (198.18.0.0/24, not 198.18.0.7/24) inside
// 198.18.0.0/15, with room for n members and the bridge.
func Plan(subnet netip.Prefix, n int) (*Addresses, error) {
	if !subnet.IsValid() {
		return nil, fmt.Errorf("subnet: not a valid prefix")
	}
	if !subnet.Addr().Is4() {
		return nil, fmt.Errorf("subnet %s: IPv4 only", subnet)
	}
	if subnet.Masked() != subnet {
		return nil, fmt.Errorf("subnet %s is not a network address (did you mean %s?)", subnet, subnet.Masked())
	}
	// Staying inside the benchmarking range keeps the routes this adds to
	// the root namespace from shadowing any network the machine uses.
	if !benchmarkRange.Contains(subnet.Addr()) || subnet.Bits() < benchmarkRange.Bits() {
		return nil, fmt.Errorf("subnet %s is outside %s, the benchmarking range (RFC 2544) that hosts mode keeps to so that it never shadows a real network", subnet, benchmarkRange)
	}
	usable := (1 << (32 - subnet.Bits())) - 2 // minus network and broadcast
	if usable < n+1 {
		return nil, fmt.Errorf("subnet %s has %d usable addresses; %d members and the bridge need %d", subnet, max(usable, 0), n, n+1)
	}
	a := &Addresses{Subnet: subnet}
	addr := subnet.Addr()
	for range n {
		addr = addr.Next()
		a.Members = append(a.Members, addr)
	}
	// The broadcast address is the last in the subnet; the bridge takes
	// the one before it.
	last := subnet.Addr()
	for range usable {
		last = last.Next()
	}
	a.Bridge = last
	return a, nil
}

// checkFree fails if the root namespace already has an address or a route
// (other than the default route) that overlaps the subnet: two bridges
// with routes to one subnet would make the kernel pick one, and clients
// would reach the wrong run's members. Leftovers are removed before this
// runs, so what it finds belongs to a live run or to the machine.
func checkFree(ctx context.Context, subnet netip.Prefix) error {
	out, err := ip(ctx, "", "-j", "-4", "addr", "show")
	if err != nil {
		return err
	}
	var ifs []struct {
		Name  string `json:"ifname"`
		Addrs []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := decodeJSON(out, &ifs); err != nil {
		return fmt.Errorf("ip -j -4 addr show: %w", err)
	}
	for _, i := range ifs {
		for _, a := range i.Addrs {
			p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
			if err == nil && p.Overlaps(subnet) {
				return &SubnetInUseError{Subnet: subnet, What: fmt.Sprintf("%s has address %s", i.Name, p)}
			}
		}
	}
	out, err = ip(ctx, "", "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return err
	}
	var routes []struct {
		Dst string `json:"dst"`
		Dev string `json:"dev"`
	}
	if err := decodeJSON(out, &routes); err != nil {
		return fmt.Errorf("ip -j -4 route show: %w", err)
	}
	for _, r := range routes {
		if r.Dst == "default" {
			continue
		}
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			if a, aerr := netip.ParseAddr(r.Dst); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				continue
			}
		}
		if p.Bits() > 0 && p.Overlaps(subnet) {
			return &SubnetInUseError{Subnet: subnet, What: fmt.Sprintf("route to %s via %s", r.Dst, r.Dev)}
		}
	}
	return nil
}

// SubnetInUseError is a subnet that the root namespace already uses.
type SubnetInUseError struct {
	Subnet netip.Prefix
	What   string
}

func (e *SubnetInUseError) Error() string {
	return fmt.Sprintf("subnet %s is in use on this machine (%s)", e.Subnet, e.What)
}
