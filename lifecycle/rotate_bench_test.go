package lifecycle_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// BenchmarkRotate7 measures each offline step of a 7-member CA rotation
// (ecdsa-p256), run for every member at once: stage (the new CA, the
// bundle and seven ca.crt), reissue (28 leaves with new keys) and the
// finalize that also makes the new CA <out>/ca. The target is under a
// second a step. Each run starts from a fresh directory brought to the
// step before, outside the timer; every file is written as the commands
// write them (temporary file, fsync, rename, backups).
func BenchmarkRotate7(b *testing.B) {
	var members []string
	for i := 1; i <= 7; i++ {
		members = append(members, fmt.Sprintf("cp%d=10.0.0.%d", i, 10+i))
	}
	c, err := spec.FromFlags(spec.Cluster{Algorithm: pki.ECDSAP256}, members)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// Offline: no cluster runs these files (and nothing may dial them).
	offline := lifecycle.RotateOptions{Offline: true}
	steps := []struct {
		name string
		run  func(out string) error
	}{
		{"stage", func(out string) error { _, err := lifecycle.Stage(out, offline); return err }},
		{"reissue", func(out string) error {
			res, err := lifecycle.Reissue(ctx, out, offline)
			if err == nil && len(res.Issued) != 28 {
				err = fmt.Errorf("reissued %d certificates", len(res.Issued))
			}
			return err
		}},
		{"finalize", func(out string) error {
			res, err := lifecycle.Finalize(ctx, out, offline)
			if err == nil && !res.Promoted {
				err = fmt.Errorf("finalize did not end the rotation")
			}
			return err
		}},
	}
	for i, step := range steps {
		b.Run(step.name, func(b *testing.B) {
			parent := b.TempDir()
			for range b.N {
				b.StopTimer()
				out, err := os.MkdirTemp(parent, "pki")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
					b.Fatal(err)
				}
				for _, before := range steps[:i] {
					if err := before.run(out); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if err := step.run(out); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(out); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
