package main

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/etcdmain"

	"github.com/etcdpki/etcdpki/hosts"
)

// hostsFlags are the flags of hosts mode, which up and demo share.
type hostsFlags struct {
	mode, subnet, etcd string
}

func (h *hostsFlags) add(f *pflag.FlagSet) {
	f.StringVar(&h.mode, "hosts", "", "run every member on a host of its own: netns (a Linux network namespace each; needs root and iproute2)")
	f.StringVar(&h.subnet, "subnet", hosts.DefaultSubnet.String(), "with --hosts: the members' `SUBNET`, inside 198.18.0.0/15; member i gets its i-th address, the bridge its last")
	f.StringVar(&h.etcd, "etcd", "", "with --hosts: the etcd `BINARY` each member runs (default: etcdpki's own, 'etcdpki etcd')")
}

// options checks the flags of hosts mode and returns the options they
// set; ok is false when cmd runs without hosts mode.
func (h *hostsFlags) options(cmd *cobra.Command) (opts hosts.Options, ok bool, err error) {
	f := cmd.Flags()
	switch {
	case h.mode == "" && !f.Changed("subnet") && !f.Changed("etcd"):
		return opts, false, nil
	case h.mode == "":
		return opts, false, usagef("--subnet and --etcd need --hosts netns")
	case h.mode != "netns":
		return opts, false, usagef("--hosts %q: the one kind of host is netns (a Linux network namespace per member)", h.mode)
	case f.Changed("base-port"):
		return opts, false, usagef("--base-port is for members on 127.0.0.x; with --hosts every member has a host of its own and listens on 2379, 2380 and 2381")
	}
	p, err := netip.ParsePrefix(h.subnet)
	if err == nil {
		_, err = hosts.Plan(p, 1)
	}
	if err != nil {
		return opts, false, usagef("--subnet: %v", err)
	}
	etcd, err := etcdCommand(h.etcd)
	if err != nil {
		return opts, false, err
	}
	return hosts.Options{Subnet: p, Etcd: etcd}, true, nil
}

// newEtcdCmd is "etcdpki etcd [ETCD FLAGS]": the etcd server linked into
// etcdpki (this module's go.etcd.io/etcd/server/v3, as ./internal/etcdmain
// builds it), run exactly as the etcd binary runs. up --hosts netns
// starts each member with it, so that hosts mode needs no etcd binary on
// the machine and runs the very etcd the rest of etcdpki is tested against.
// Hidden: it is plumbing, and its flags are etcd's.
func newEtcdCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "etcd [ETCD FLAGS]",
		Short: "Run the etcd server linked into etcdpki (used by up --hosts netns)",
		Long: `Run the etcd server linked into etcdpki with etcd's own flags (those that
'etcdpki flags' prints), exactly as the etcd binary of the same version runs.
etcd handles its own signals and exits the process itself.`,
		Example: `  etcdpki etcd --version
  etcdpki etcd --name=cp1 --data-dir=/var/lib/etcd …`,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			// etcdmain parses args[1:] as etcd does os.Args[1:], and exits
			// the process when etcd stops (on SIGTERM, after closing the
			// server): the one place etcdpki exits other than main, because
			// this is etcd's main.
			etcdmain.Main(append([]string{"etcd"}, args...))
			return nil
		},
	}
}

// etcdCommand is the command hosts mode runs each member with: the etcd
// binary at path, or, when path is empty, this program's own etcd command.
func etcdCommand(path string) ([]string, error) {
	if path != "" {
		abs, err := exec.LookPath(path)
		if err != nil {
			return nil, usageErr(err)
		}
		abs, err = filepath.Abs(abs)
		return []string{abs}, err
	}
	self, err := selfPath()
	if err != nil {
		return nil, err
	}
	return []string{self, "etcd"}, nil
}

// selfPath is the path to run this program again by: the name it was run
// by, looked up as the shell looked it up, so that a program reached
// through a link under another name runs as it was run; os.Executable when
// that name cannot be found.
func selfPath() (string, error) {
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		return filepath.Abs(p)
	}
	return os.Executable()
}
