package demo

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/internal/testbin"
)

// Ports for this package's clusters (other packages use others).
const basePort = 26379

// TestMain removes the etcd binary that hosts mode builds.
func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// faultNames is the healthy cluster ("") and every fault.
func faultNames() []string {
	names := []string{""}
	for _, f := range Faults {
		names = append(names, f.Name)
	}
	return names
}

// runMatrix runs every fault with opts(i) and holds the result to the
// fault's expectations.
func runMatrix(t *testing.T, opts func(i int, name string) Options) {
	for i, name := range faultNames() {
		t.Run("fault="+name, func(t *testing.T) {
			r, err := Run(context.Background(), opts(i, name))
			if err != nil {
				t.Fatal(err)
			}
			failed := false
			for _, v := range r.Compare() {
				if !v.OK {
					failed = true
					t.Errorf("%s: want %s, got %s", v.Aspect, v.Want, v.Got)
				}
			}
			if failed || testing.Verbose() {
				r.WriteText(os.Stderr)
			}
		})
	}
}

// TestFaultMatrix boots a real loopback cluster for every fault (and the
// healthy one) and holds check, probe and etcd to the fault's
// expectations.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster per fault")
	}
	runMatrix(t, func(i int, name string) Options {
		return Options{Fault: name, Dir: t.TempDir(), BasePort: basePort + 10*i}
	})
}

// TestFaultMatrixHosts does the same in hosts mode: every member a
// separate etcd process in its own network namespace, each fault's run on
// a subnet of its own (198.18.20.0/24, 198.18.21.0/24, …).
func TestFaultMatrixHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a network and an etcd cluster per fault")
	}
	if err := hosts.Supported(); err != nil {
		t.Skip(err)
	}
	etcd := testbin.Etcd(t)
	runMatrix(t, func(i int, name string) Options {
		return Options{Fault: name, Dir: t.TempDir(), Hosts: ModeNetns, Etcd: []string{etcd},
			Subnet: netip.MustParsePrefix(fmt.Sprintf("198.18.%d.0/24", 20+i))}
	})
}
