package hosts

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	for _, c := range []struct {
		subnet  string
		n       int
		bridge  string
		members []string
		err     string
	}{
		{"198.18.0.0/24", 3, "198.18.0.254", []string{"198.18.0.1", "198.18.0.2", "198.18.0.3"}, ""},
		{"198.19.255.248/29", 5, "198.19.255.254", []string{"198.19.255.249", "198.19.255.250", "198.19.255.251", "198.19.255.252", "198.19.255.253"}, ""},
		{"198.18.0.0/15", 1, "198.19.255.254", []string{"198.18.0.1"}, ""},
		{"198.18.0.0/29", 6, "", nil, "6 members and the bridge need 7"},
		{"198.18.0.0/30", 2, "", nil, "has 2 usable addresses"},
		{"198.18.0.7/24", 3, "", nil, "did you mean 198.18.0.0/24"},
		{"10.0.0.0/24", 3, "", nil, "outside 198.18.0.0/15"},
		{"198.16.0.0/14", 3, "", nil, "outside 198.18.0.0/15"},
		{"2001:db8::/64", 3, "", nil, "IPv4 only"},
	} {
		a, err := Plan(netip.MustParsePrefix(c.subnet), c.n)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Plan(%s, %d) = %v, want an error with %q", c.subnet, c.n, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Plan(%s, %d): %v", c.subnet, c.n, err)
			continue
		}
		var got []string
		for _, m := range a.Members {
			got = append(got, m.String())
		}
		if a.Bridge.String() != c.bridge || strings.Join(got, " ") != strings.Join(c.members, " ") {
			t.Errorf("Plan(%s, %d) = bridge %s, members %v; want %s, %v", c.subnet, c.n, a.Bridge, got, c.bridge, c.members)
		}
	}
}

func TestNames(t *testing.T) {
	n := names{"3fa2"}
	for _, name := range []string{n.bridge(), n.veth(7)} {
		// IFNAMSIZ is 16 with the terminating NUL.
		if len(name) > 15 {
			t.Errorf("%s: %d bytes, longer than an interface name may be", name, len(name))
		}
	}
	for name, want := range map[string]string{
		n.bridge():             "3fa2",
		n.veth(1):              "3fa2",
		n.netns("etcd-1"):      "3fa2",
		"epki-3fa2":            "",
		"epki-xyzw-br":         "",
		"eth0":                 "",
		"epki-":                "",
		"other-3fa2-br":        "",
		"epki-00ff-etcd-3.lan": "00ff",
	} {
		if got := idOf(name); got != want {
			t.Errorf("idOf(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestSupportedWithoutIP shows the error hosts mode gives where it cannot
// run, before it creates anything.
func TestSupportedWithoutIP(t *testing.T) {
	defer func(old string) { ipCommand = old }(ipCommand)
	ipCommand = "etcdpki-test-no-such-ip"
	err := Supported()
	var pe *PlatformError
	if !errors.As(err, &pe) {
		t.Fatalf("Supported() = %v, want a *PlatformError", err)
	}
	t.Log(err)
	if _, err := NewNetwork(t.Context(), DefaultSubnet, []string{"etcd-1"}); !errors.As(err, &pe) {
		t.Errorf("NewNetwork = %v, want a *PlatformError", err)
	}
	dir := filepath.Join(t.TempDir(), "not-created")
	if _, err := Start(t.Context(), Options{Etcd: []string{"etcd"}, Dir: dir}); !errors.As(err, &pe) {
		t.Errorf("Start = %v, want a *PlatformError", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start wrote %s before finding it cannot run: %v", dir, err)
	}
}
