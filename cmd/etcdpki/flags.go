package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/layout"
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
node's /, e.g. the member's tree in init's output.`,
		Example: `  etcdpki flags --dir pki --member cp1
  etcdpki flags --dir pki --member cp1 --format manifest > /etc/kubernetes/manifests/etcd.yaml
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
	f.StringVar(&image, "image", render.DefaultImage, "etcd image for --format manifest")
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

func renderFormat(c *spec.Cluster, member, format, image string, opts render.Options) ([]byte, error) {
	switch format {
	case "apiserver":
		flags, err := render.APIServerFlags(c, member, opts)
		return []byte(strings.Join(flags, "\n") + "\n"), err
	case "etcdctl":
		env, err := render.EtcdctlEnv(c, member, opts)
		return []byte(render.ExportLines(env)), err
	}
	cfg, err := render.ForMember(c, member, opts)
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
