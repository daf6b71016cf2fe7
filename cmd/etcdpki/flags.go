package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/release"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// flagFormats are the --format values of the flags command.
var flagFormats = []string{"cmdline", "manifest", "config", "apiserver", "etcdctl"}

func newFlagsCmd() *cobra.Command {
	var (
		dir, config, member, format, image string
		opts                               render.Options
	)
	cmd := &cobra.Command{
		Use:   "flags",
		Short: "Print a member's etcd flags, static pod manifest, config file, apiserver flags or etcdctl env",
		Long: `Print what runs a member with the certificates init wrote, as kubeadm writes it:

  cmdline    the etcd command line (default)
  manifest   a kubeadm-style static pod (/etc/kubernetes/manifests/etcd.yaml)
  config     an etcd --config-file
  apiserver  kube-apiserver's --etcd-* flags
  etcdctl    ETCDCTL_* exports using the healthcheck-client certificate

The cluster comes from init's output directory (--dir, which holds
cluster.yaml) or a spec file (--config). Paths are the node's own
(/etc/kubernetes/pki/…) unless --root names a directory standing for the
node's /, e.g. the member's tree in init's output.

The flags are those the target etcd version knows, and the manifest is the
static pod the target kubeadm release writes: --kubernetes-version 1.34
(the default) pins etcd 3.6 and writes --feature-gates=InitialCorruptCheck=true
and --watch-progress-notify-interval=5s with /livez and /readyz probes on
the named port probe-port; 1.31–1.33 pin etcd 3.5 and write
--experimental-initial-corrupt-check and
--experimental-watch-progress-notify-interval; 1.29–1.30 probe /health.
--etcd-version overrides the etcd version (as kubeadm's imageTag does): 3.4
has no --client-cert-file, so a --split-credentials PKI is refused for it.
docs/versions.md lists every difference.`,
		Example: `  etcdpki flags --dir pki --member cp1
  etcdpki flags --dir pki --member cp1 --format manifest > /etc/kubernetes/manifests/etcd.yaml
  etcdpki flags --dir pki --member cp1 --format manifest --kubernetes-version 1.33
  etcdpki flags --dir pki --member cp1 --etcd-version 3.5
  eval "$(etcdpki flags --dir pki --member cp1 --format etcdctl)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := memberNamesFlag(member); err != nil {
				return err
			}
			if config != "" && !cmd.Flags().Changed("dir") {
				dir = ""
			}
			c, err := loadSpec(dir, config)
			if err != nil {
				return err
			}
			if member == "" {
				if len(c.Members) != 1 {
					return withHint(usagef("--member is required: the cluster has %d members", len(c.Members)), "members: "+memberNames(c))
				}
				member = c.Members[0].Name
			}
			if _, err := c.Member(member); err != nil {
				return usageErr(err)
			}
			out, err := renderFormat(c, member, format, image, opts)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := cmd.Flags()
	dirFlag(f, &dir)
	f.StringVarP(&config, "config", "c", "", "cluster spec `FILE` instead of --dir")
	f.StringVarP(&member, "member", "m", "", "the member's `NAME` (not NAME=IP: members are defined with init and add-member)")
	f.StringVarP(&format, "format", "o", "cmdline", "output `FORMAT`: "+orList(flagFormats))
	imageFlag(f, &image)
	versionFlags(f, &opts)
	f.StringVar(&opts.Root, "root", "", "`DIR` standing for the node's /: print file paths under it")
	f.StringVar(&opts.DataDir, "data-dir", "", "etcd --data-dir (default /var/lib/etcd under --root)")
	f.BoolVar(&opts.Existing, "existing", false, "--initial-cluster-state=existing, for a member joining a running cluster")
	return cmd
}

// loadSpec reads the spec from --config or from init's output directory
// (--dir, empty when not given with --config).
func loadSpec(dir, config string) (*spec.Cluster, error) {
	switch {
	case config != "" && dir != "":
		return nil, usagef("give --dir or --config, not both")
	case config != "":
		return spec.Load(config)
	}
	c, err := spec.Load(layout.SpecFile(dir))
	var fe *spec.FieldError
	if errors.As(err, &fe) && fe.Field == "--config" {
		// spec.Load names --config; here the file came from --dir.
		fe.Field = "--dir " + dir
	}
	if err != nil {
		return nil, withHint(err, "point --dir at the output directory of 'etcdpki init', or give --config")
	}
	return c, nil
}

// imageFlag registers --image, the etcd image of --format manifest.
func imageFlag(f *pflag.FlagSet, image *string) {
	f.StringVar(image, "image", "", "etcd `IMAGE` for --format manifest (default "+render.ImageRepository+" with the tag kubeadm pins for --kubernetes-version, or for --etcd-version)")
}

// versionFlags registers --etcd-version and --kubernetes-version: the
// etcd version and the kubeadm release a configuration is rendered for.
func versionFlags(f *pflag.FlagSet, opts *render.Options) {
	f.StringVar(&opts.EtcdVersion, "etcd-version", "", "render for etcd `VERSION` 3.4, 3.5, 3.6 or 3.7 (default: the version --kubernetes-version pins): only flags that version knows, e.g. --experimental-initial-corrupt-check for 3.4/3.5, --feature-gates=InitialCorruptCheck=true for 3.6+")
	f.StringVar(&opts.KubernetesVersion, "kubernetes-version", "", fmt.Sprintf("render what kubeadm `VERSION` 1.%d…1.%d writes: its etcd version, flags, probes and image (default 1.%d)",
		release.KubeadmReleases[0].Minor, release.KubeadmReleases[len(release.KubeadmReleases)-1].Minor, release.DefaultKubernetesMinor))
}

// checkVersions refuses, before anything is written, --etcd-version and
// --kubernetes-version values that renderFormat would refuse afterwards:
// an unknown version, a pair kubeadm does not accept, and (when dir holds
// init's spec) a PKI the etcd version cannot run. add-member and
// replace-member call it first, so a typo costs no new tree or keys.
func checkVersions(opts render.Options, dir string) error {
	c := &spec.Cluster{}
	if dir != "" {
		if s, err := spec.Load(layout.SpecFile(dir)); err == nil {
			c = s
		}
	}
	if _, err := render.ResolveTargetFor(c, opts); err != nil {
		return usageErr(err)
	}
	return nil
}

func renderFormat(c *spec.Cluster, member, format, image string, opts render.Options) ([]byte, error) {
	if _, err := render.ResolveTarget(opts); err != nil {
		return nil, usageErr(err)
	}
	switch format {
	case "apiserver":
		flags, err := render.APIServerFlags(c, member, opts)
		return []byte(strings.Join(flags, "\n") + "\n"), err
	case "etcdctl":
		env, err := render.EtcdctlEnv(c, member, opts)
		return []byte(render.ExportLines(env)), err
	}
	cfg, err := render.ForMember(c, member, opts)
	var ve *render.VersionError
	if errors.As(err, &ve) {
		return nil, usageErr(err)
	}
	if err != nil {
		return nil, err
	}
	switch format {
	case "cmdline":
		return []byte(cfg.CommandLine()), nil
	case "manifest":
		return cfg.Manifest(c, image)
	case "config":
		return cfg.ConfigFile()
	}
	return nil, usagef("unknown --format %q (want one of %s)", format, strings.Join(flagFormats, ", "))
}

func memberNames(c *spec.Cluster) string {
	var names []string
	for _, m := range c.Members {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}
