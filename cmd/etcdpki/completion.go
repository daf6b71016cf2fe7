package main

import (
	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/demo"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// registerCompletions adds shell completion of flag values (cobra's
// 'completion' command generates the scripts) to every command that has
// the flag. -o completes as outputFlag.register says.
func registerCompletions(root *cobra.Command) {
	var faults []string
	for _, f := range demo.Faults {
		faults = append(faults, f.Name)
	}
	values := map[string]func(*cobra.Command) []string{
		"algo":    func(*cobra.Command) []string { return pki.AlgorithmNames() },
		"layout":  func(*cobra.Command) []string { return []string{spec.LayoutKubeadm, spec.LayoutEtcd} },
		"fail-on": func(*cobra.Command) []string { return []string{"info", "warning", "error"} },
		"violate": func(*cobra.Command) []string { return faults },
		"format": func(c *cobra.Command) []string {
			return map[string][]string{"flags": flagFormats, "graph": graphFormats}[c.Name()]
		},
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, vals := range values {
			if c.Flags().Lookup(name) == nil {
				continue
			}
			words := vals(c)
			if words == nil {
				continue // a flag of that name whose values this table does not know
			}
			_ = c.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return words, cobra.ShellCompDirectiveNoFileComp
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
