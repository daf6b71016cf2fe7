package demo

import (
	"context"
	"os"
	"testing"
)

// Ports for this package's clusters (other packages use others).
const basePort = 26379

// TestFaultMatrix boots a real cluster for every fault (and the healthy
// one) and holds check, probe and etcd to the fault's expectations.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster per fault")
	}
	names := []string{""}
	for _, f := range Faults {
		names = append(names, f.Name)
	}
	for i, name := range names {
		t.Run("fault="+name, func(t *testing.T) {
			r, err := Run(context.Background(), Options{Fault: name, Dir: t.TempDir(), BasePort: basePort + 10*i})
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
