package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/spec"
)

func newCheckCmd() *cobra.Command {
	var (
		rf             reportFlags
		config, k8sDir string
		local          bool
	)
	cmd := &cobra.Command{
		Use:   "check DIR...",
		Short: "Audit the certificates of all members of a cluster, offline",
		Long: `Check the etcd PKI of every member of a cluster before anything restarts:
whether the cluster will form and clients will connect, and if not, which file
on which member is wrong, what etcd will say, and how to fix it.

Each DIR is a member: a copy of a node's /etc/kubernetes (pki/ and
optionally manifests/etcd.yaml and manifests/kube-apiserver.yaml), a bare
pki directory, an etcd-layout directory (/etc/etcd/pki), or init's output
directory (all its members). A member's name, URLs and file paths come from
its etcd manifest, config file (/etc/etcd/etcd.conf.yml) or flags file
(/etc/etcd/etcd.flags) when present, else from --config, else from the
certificates themselves (and the report says so).

Rules are listed in docs/rules.md; 'etcdpki explain' maps an error message to
them. Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage error.`,
		Example: `  etcdpki check pki/                          # init's output: every member
  scp -r cp1:/etc/kubernetes cp1; scp -r cp2:/etc/kubernetes cp2; scp -r cp3:/etc/kubernetes cp3
  etcdpki check cp1 cp2 cp3
  etcdpki check --local                       # this node's /etc/kubernetes
  etcdpki check -o json cp1 cp2 cp3 | jq '.findings[] | select(.severity=="error")'`,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if err := rf.validate(); err != nil {
				return err
			}
			if local {
				dirs = append(dirs, k8sDir)
			}
			if len(dirs) == 0 {
				return withHint(usagef("no member directories given"), "give one directory per member, init's output directory, or --local")
			}
			var c *spec.Cluster
			if config != "" {
				var err error
				if c, err = spec.Load(config); err != nil {
					return err
				}
			}
			members, err := audit.LoadDirs(dirs, c)
			if err != nil {
				return err
			}
			return rf.emit(cmd, audit.Check(members, audit.Options{WarnWithin: rf.warn(cmd)}))
		},
	}
	rf.register(cmd, "warn about certificates expiring within this window, e.g. 720h or 30d")
	f := cmd.Flags()
	f.StringVarP(&config, "config", "c", "", "cluster spec `FILE` giving members' names and addresses when their directories have no etcd manifest")
	f.BoolVar(&local, "local", false, "check this machine's Kubernetes directory (see --kubernetes-dir)")
	f.StringVar(&k8sDir, "kubernetes-dir", "/etc/kubernetes", "the Kubernetes directory --local checks")
	return cmd
}

// isTerminal reports whether w is a character device (a TTY), where the
// text report may use colour.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}
