package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/release"
)

func newCheckCmd() *cobra.Command {
	var (
		rf          reportFlags
		mf          memberFlags
		k8sDir      string
		local       bool
		etcdVersion string
	)
	cmd := &cobra.Command{
		Use:   "check DIR...",
		Short: "Audit the certificates of all members of a cluster, offline",
		Long: `Check the etcd PKI of every member of a cluster before anything restarts:
whether the cluster will form and clients will connect, and if not, which file
on which member is wrong, what etcd will say, and how to fix it.

Each DIR is a member: a bundle that 'etcdpki collect' wrote on the node
(public facts only), a copy of a node's / (or of the directory operators
usually copy: /etc/kubernetes, /etc/ssl/etcd, /etc/etcd,
/var/lib/rancher/k3s/server, …), or init's output directory (all its
members). The layout is detected from the files: kubeadm, etcdadm and
standalone etcd, kubespray, k3s, RKE2, OpenShift, Talos (--layout forces
one). A member's name, URLs and file paths come from its etcd settings,
read as etcd reads them: the static pod's flags (also inside sh -c, and its
--config-file), ETCD_* variables of an environment file or systemd unit, or
an etcd config file; else from --config, else from the certificates
themselves (and the report says so).

` + remoteHelp + `

Each port is judged by the CA that port uses: the peer port (2380) by
--peer-trusted-ca-file, the client port (2379) by --trusted-ca-file and the
CA files of the clients (kube-apiserver's --etcd-cafile).

Each member's command-line flags are held to its etcd version (the static
pod's image tag, or --etcd-version): etcd exits on a flag it does not know,
e.g. --feature-gates on etcd 3.5 (FLAG-ETCD-VERSION).

Rules are listed in docs/rules.md; 'etcdpki explain' maps an error message to
them. Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage error.`,
		Example: `  etcdpki check pki/                          # init's output: every member
  etcdpki check ssh://cp1 ssh://cp2 ssh://root@10.0.0.13:2222   # over ssh: no keys copied
  etcdpki check --sudo ssh://admin@cp1 ssh://admin@cp2 ssh://admin@cp3
  etcdpki check --remote-command 'sudo /opt/bin/etcdpki collect --local' ssh://cp1 ssh://cp2 ssh://cp3
  ssh cp1 etcdpki collect --local > cp1.json  # or by hand, on each node
  etcdpki check cp1.json cp2.json cp3.json
  etcdpki check node1/ node2/ node3/          # copies of each node's /, any distribution
  etcdpki check --local                       # this node
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
			if etcdVersion != "" {
				if _, err := release.ParseEtcd(etcdVersion); err != nil {
					return usagef("--etcd-version: %v", err)
				}
			}
			members, err := mf.load(dirs)
			if err != nil {
				return err
			}
			return rf.emit(cmd, audit.Check(members, audit.Options{WarnWithin: rf.warn(), EtcdVersion: etcdVersion}))
		},
	}
	rf.register(cmd, "warn about certificates expiring within this window, e.g. 720h or 30d")
	f := cmd.Flags()
	mf.register(cmd)
	mf.registerRemote(cmd)
	f.BoolVar(&local, "local", false, "check this node: its distribution is detected from its files (see --root)")
	f.StringVar(&k8sDir, "root", "/", "the node's root directory that --local checks")
	f.StringVar(&etcdVersion, "etcd-version", "", "the etcd `VERSION` (3.4 … 3.7) members run where their settings do not say (a static pod's image tag does): their flags must be ones it defines")
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
