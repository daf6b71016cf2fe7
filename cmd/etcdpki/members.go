package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/spec"
)

// memberFlags are the flags of the operating commands that read members'
// directories as check does.
type memberFlags struct {
	config    string
	layout    string
	etcdFlags string
	// remote reads ssh:// members, for the commands that register it.
	remote remoteFlags
}

func (f *memberFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "cluster spec `FILE` giving members' names and addresses when their directories have no etcd manifest")
	f.registerLayout(cmd)
}

// registerRemote registers the flags of ssh:// members (check, expiry,
// graph: commands that only read), which load then accepts.
func (f *memberFlags) registerRemote(cmd *cobra.Command) { f.remote.register(cmd) }

// registerLayout registers --layout and --etcd-flags only, for a command
// whose --config means something else (add-member's).
func (f *memberFlags) registerLayout(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.layout, "layout", "", "the distribution the member directories follow (default: detected): "+strings.Join(member.DistributionNames(), ", "))
	cmd.Flags().StringVar(&f.etcdFlags, "etcd-flags", "", "`FILE` with the member's etcd settings (etcd flags, ETCD_* variables, a config file or unit), for trees whose settings live elsewhere")
	_ = cmd.RegisterFlagCompletionFunc("layout", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return member.DistributionNames(), cobra.ShellCompDirectiveNoFileComp
	})
	// Member directories: let the shell complete directories only.
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
}

// load reads the members in dirs: directories, bundle files and, for a
// command that registered them, ssh:// nodes.
func (f *memberFlags) load(dirs []string) ([]*member.Member, error) {
	if len(dirs) == 0 {
		return nil, withHint(usagef("no member directories given"), "give one directory per member, or init's output directory")
	}
	var c *spec.Cluster
	if f.config != "" {
		var err error
		if c, err = spec.Load(f.config); err != nil {
			return nil, err
		}
	}
	if f.layout != "" {
		if _, err := member.LookupDistribution(f.layout); err != nil {
			return nil, usagef("--layout: %v", err)
		}
	}
	collected, err := f.remote.collect(dirs, f.layout)
	if err != nil {
		return nil, err
	}
	return member.LoadDirs(dirs, c, member.DiscoverOptions{Layout: f.layout, SettingsFile: f.etcdFlags, Collected: collected})
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	s := words[0]
	for _, w := range words[1 : len(words)-1] {
		s += ", " + w
	}
	return s + " or " + words[len(words)-1]
}
