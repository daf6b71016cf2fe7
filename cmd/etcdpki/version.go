package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/api/v3/version"
)

// buildVersion describes this binary: etcdpki's module version (or the
// VCS revision of a development build), the Go version, and the etcd
// version linked in (what `up` and `demo` run, and whose flag set reads
// members' settings).
type buildVersion struct {
	Etcdpki string `json:"etcdpki"`
	Go      string `json:"go"`
	Etcd    string `json:"etcd"`
}

func currentVersion() buildVersion {
	v := buildVersion{Etcdpki: "(devel)", Go: runtime.Version(), Etcd: version.Version}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v.Etcdpki = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v.Etcdpki == "(devel)" && len(s.Value) >= 12 {
				v.Etcdpki = "(devel) " + s.Value[:12]
			}
		}
	}
	return v
}

func (v buildVersion) String() string {
	return fmt.Sprintf("etcdpki %s, %s, etcd %s", v.Etcdpki, v.Go, v.Etcd)
}

func newVersionCmd() *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print etcdpki's version, the Go version and the linked etcd version",
		Example: `  etcdpki version
  etcdpki version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			v := currentVersion()
			return out.write(cmd.OutOrStdout(), v, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, v)
				return err
			})
		},
	}
	out.register(cmd)
	return cmd
}
