package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

func newInstallCmd() *cobra.Command {
	var (
		from string
		opts lifecycle.InstallOptions
		out  outputFlag
		mf   memberFlags
	)
	cmd := &cobra.Command{
		Use:   "install --from TREE [--root /]",
		Short: "Place a member's tree on its node: modes, owners, backups, atomically",
		Long: `Place the files of one member's tree on its node, run on the node (or
against its disk mounted at --root): init's member tree (pki/cp1), the tree
add-member or replace-member wrote, or any member directory 'etcdpki check'
reads. The tree stands for the node's / (or for the directory its
distribution keeps the PKI in, as check detects it).

The tree is checked first, as 'etcdpki check TREE' does, and against the
node's own etcd settings when the tree has none (a member's tree put on
another member's node names the wrong addresses). A check with errors is
refused, and so are a CA the node's ca.crt does not hold (a CA changes in
stages, with rotate-ca) and another member's tree than the node's (by its
server certificate), unless --force.

Every regular file of the tree is placed atomically (written and synced
under a temporary name, then renamed), a certificate and its key one right
after the other, key first, etcd's settings last. Each file gets the tree's
mode, but no file is writable by group or others and no key is more than
0600, whatever the file it replaces had; a replaced file keeps its owner and
group, a new one is root's. Identical files are left alone. Missing
directories are created: 0755 above the PKI directory (/etc,
/etc/kubernetes), 0700 for the PKI directory and below, 0755 elsewhere;
existing directories are never changed. Replaced files are backed up to
<root>/var/lib/etcdpki/backups/<time>-install/. A run killed at any moment
is completed by the next one; a run after a successful one writes nothing.

etcd serves new certificates from its next TLS handshake; a new CA file or
new settings need an etcd restart, and kube-apiserver a restart for its
client certificate or CA. install says which.

Exit status: 0 installed, 2 refused (nothing written), 1 failed.`,
		Example: `  scp -rp pki/cp1 root@10.0.0.11:etcdpki-cp1                # into root's home, not a shared /tmp
  ssh root@10.0.0.11 etcdpki install --from etcdpki-cp1
  etcdpki install --from pki/cp1 --root /mnt/cp1 --dry-run   # a node's disk, mounted
  etcdpki install --from pki/cp1 --force                     # despite the check's errors`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return withHint(usagef("--from TREE is required"), "give the member's tree, e.g. --from pki/cp1 (init's output) copied to this node")
			}
			if err := out.validate(); err != nil {
				return err
			}
			if mf.config != "" {
				c, err := spec.Load(mf.config)
				if err != nil {
					return err
				}
				opts.Spec = c
			}
			if mf.layout != "" {
				if _, err := member.LookupDistribution(mf.layout); err != nil {
					return usagef("--layout: %v", err)
				}
			}
			opts.Discover = member.DiscoverOptions{Layout: mf.layout, SettingsFile: mf.etcdFlags}
			res, err := lifecycle.Install(from, opts)
			if err != nil {
				return lifecycleErr(err)
			}
			return out.write(cmd.OutOrStdout(), newInstallDoc(res), func(w io.Writer) error {
				printInstall(w, res)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the member's `TREE`, e.g. pki/cp1 copied to this node")
	f.StringVar(&opts.Root, "root", "/", "the node's root `DIR`: / on the node, or where its disk is mounted")
	f.BoolVar(&opts.Force, "force", false, "install a tree whose check has errors, whose CA the node's does not hold, or another member's than the node's")
	f.BoolVar(&opts.DryRun, "dry-run", false, "say what would change, and write nothing")
	out.register(cmd)
	mf.register(cmd)
	_ = cmd.MarkFlagDirname("from")
	_ = cmd.MarkFlagDirname("root")
	return cmd
}

// printInstall says what install did: each file with its mode, the
// directories made, the backup, and what to restart.
func printInstall(w io.Writer, res *lifecycle.InstallResult) {
	verb := "installed"
	if res.DryRun {
		verb = "dry run: would install"
	}
	fmt.Fprintf(w, "%s member %s (%s, %s) onto %s\n", verb, res.Member, res.Tree, res.Layout, res.Dir)
	printInstallCheck(w, res)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range res.Dirs {
		fmt.Fprintf(tw, "  %s\t%04o\t%s/\n", actionWord(res.DryRun, "made"), d.Mode, d.Path)
	}
	for _, f := range res.Files {
		was := ""
		if f.Action == lifecycle.FileReplaced && f.OldMode != f.Mode {
			was = fmt.Sprintf(" (was %04o)", f.OldMode)
		}
		fmt.Fprintf(tw, "  %s\t%04o\t%s%s\n", actionWord(res.DryRun, string(f.Action)), f.Mode, f.Path, was)
	}
	tw.Flush()
	printBackup(w, &res.Result)
	if res.DryRun {
		fmt.Fprintf(w, "nothing was written\n")
	}
	if len(res.Written) == 0 && !res.DryRun {
		fmt.Fprintf(w, "every file was already in place: nothing to restart\n")
		return
	}
	if res.LeavesChanged {
		fmt.Fprintf(w, "etcd serves the new certificates from its next TLS handshake, without a restart\n")
	}
	for _, r := range res.Restarts {
		if r.Automatic {
			fmt.Fprintf(w, "%s restarts by itself: %s\n", r.Process, r.Reason)
			continue
		}
		fmt.Fprintf(w, "restart %s: %s\n  %s\n", r.Process, r.Reason, r.How)
	}
}

// printInstallCheck says what the tree's check found, and what --force
// overrode.
func printInstallCheck(w io.Writer, res *lifecycle.InstallResult) {
	counts := map[audit.Severity]int{}
	var warned []string
	for _, f := range res.Report.Findings {
		counts[f.Severity]++
		if f.Severity == audit.Warning && !slices.Contains(warned, string(f.Rule)) {
			warned = append(warned, string(f.Rule))
		}
	}
	against := ""
	if res.NodeSettings != "" {
		against = " against the node's " + res.NodeSettings
	}
	fmt.Fprintf(w, "check of the tree%s: %s, %s", against, count(counts[audit.Error], "error"), count(counts[audit.Warning], "warning"))
	if len(warned) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(warned, ", "))
	}
	fmt.Fprintln(w)
	if len(res.Forced) > 0 {
		var ids []string
		for _, id := range res.Forced {
			ids = append(ids, string(id))
		}
		fmt.Fprintf(w, "warning: installed despite the check's errors (--force): %s\n", strings.Join(ids, ", "))
	}
	if res.ReplacesMember != "" {
		fmt.Fprintf(w, "warning: the node was member %s (--force): it is now member %s\n", res.ReplacesMember, res.Member)
	}
	if res.ReplacesCA {
		fmt.Fprintf(w, "warning: the tree's CA replaces the node's (--force): this member no longer trusts the members of the node's old CA\n")
	}
}

// actionWord is an action as the text output says it: "would create"
// in a dry run.
func actionWord(dry bool, action string) string {
	if !dry {
		return action
	}
	return map[string]string{"made": "would make", "created": "would create", "replaced": "would replace", "unchanged": "unchanged"}[action]
}

// installDoc is install's -o json and yaml document.
type installDoc struct {
	filesDoc
	Tree   string `json:"tree"`
	Member string `json:"member"`
	Layout string `json:"layout"`
	DryRun bool   `json:"dryRun"`
	// Files lists every file of the tree in the order written.
	Files []installFileDoc `json:"files"`
	Dirs  []installDirDoc  `json:"dirs,omitempty"`
	// Findings are the tree's check findings; Forced the rules whose
	// errors --force overrode.
	Findings       []audit.Finding  `json:"findings"`
	NodeSettings   string           `json:"nodeSettings,omitempty"`
	Forced         []audit.RuleID   `json:"forced,omitempty"`
	ReplacesCA     bool             `json:"replacesCA,omitempty"`
	ReplacesMember string           `json:"replacesMember,omitempty"`
	LeavesChanged  bool             `json:"leavesChanged"`
	Restarts       []installRestart `json:"restarts"`
}

// installFileDoc is a [lifecycle.InstalledFile]; modes are octal text.
type installFileDoc struct {
	Path     string   `json:"path"`
	NodePath string   `json:"nodePath"`
	Action   string   `json:"action"`
	Mode     string   `json:"mode"`
	OldMode  string   `json:"oldMode,omitempty"`
	Kind     pki.Kind `json:"kind,omitempty"`
	Key      bool     `json:"key,omitempty"`
}

type installDirDoc struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
}

type installRestart struct {
	Process   string `json:"process"`
	Reason    string `json:"reason"`
	How       string `json:"how,omitempty"`
	Automatic bool   `json:"automatic,omitempty"`
}

func octal(m os.FileMode) string { return fmt.Sprintf("%04o", m) }

func newInstallDoc(res *lifecycle.InstallResult) installDoc {
	d := installDoc{filesDoc: newFilesDoc(&res.Result), Tree: res.Tree, Member: res.Member, Layout: res.Layout, DryRun: res.DryRun,
		Findings: res.Report.Findings, NodeSettings: res.NodeSettings, Forced: res.Forced, ReplacesCA: res.ReplacesCA, ReplacesMember: res.ReplacesMember,
		LeavesChanged: res.LeavesChanged, Files: []installFileDoc{}, Restarts: []installRestart{}}
	for _, f := range res.Files {
		fd := installFileDoc{Path: f.Path, NodePath: f.NodePath, Action: string(f.Action), Mode: octal(f.Mode), Kind: f.Kind, Key: f.Key}
		if f.Action == lifecycle.FileReplaced {
			fd.OldMode = octal(f.OldMode)
		}
		d.Files = append(d.Files, fd)
	}
	for _, dir := range res.Dirs {
		d.Dirs = append(d.Dirs, installDirDoc{filepath.Clean(dir.Path), octal(dir.Mode)})
	}
	for _, r := range res.Restarts {
		d.Restarts = append(d.Restarts, installRestart{r.Process, r.Reason, r.How, r.Automatic})
	}
	return d
}
