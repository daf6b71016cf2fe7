package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// specFlags are the flags that describe a cluster, shared by commands that
// build a spec from flags (init) and override a spec file.
type specFlags struct {
	config       string
	members      []string
	name         string
	algo         string
	layout       string
	clientPort   int
	peerPort     int
	metricsPort  int
	caValidity   *durationFlag
	certValidity *durationFlag
	split        bool
	externalCA   bool
	extraSANs    []string
}

func (f *specFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.config, "config", "c", "", "cluster spec `FILE` (YAML)")
	fs.StringArrayVarP(&f.members, "member", "m", nil, "a member to create, as `NAME=IP[,IP|DNS…]` (repeat for each member)")
	fs.StringVar(&f.name, "name", "", "cluster name, used as --initial-cluster-token (default etcd-cluster)")
	fs.StringVar(&f.algo, "algo", "", "key algorithm: "+strings.Join(pki.AlgorithmNames(), ", ")+" (default rsa-2048, as kubeadm; ed25519 only with --layout etcd, kubeadm cannot load it)")
	fs.StringVar(&f.layout, "layout", "", "file layout: kubeadm (/etc/kubernetes/pki) or etcd (/etc/etcd/pki) (default kubeadm)")
	fs.IntVar(&f.clientPort, "client-port", 0, "etcd client port (default 2379)")
	fs.IntVar(&f.peerPort, "peer-port", 0, "etcd peer port (default 2380)")
	fs.IntVar(&f.metricsPort, "metrics-port", 0, "etcd plain-HTTP metrics and health port, on loopback (default 2381)")
	f.caValidity = durationVar(fs, "ca-validity", pki.DefaultCAValidity, "CA lifetime, e.g. 10y, 3650d or 87600h")
	f.certValidity = durationVar(fs, "cert-validity", pki.DefaultLeafValidity, "leaf certificate lifetime, e.g. 1y, 365d or 8760h")
	fs.BoolVar(&f.split, "split-credentials", false, "also issue clientAuth-only credentials and make serving certs serverAuth-only (etcd 3.5+)")
	fs.BoolVar(&f.externalCA, "external-ca", false, "keep ca.key only in <out>/ca, not on the members")
	fs.StringArrayVar(&f.extraSANs, "extra-san", nil, "extra SAN (IP or DNS name) for every member's server and peer certs (repeatable)")
}

// cluster builds the spec: from --config with flags that were set
// overriding it, or from --member flags alone.
func (f *specFlags) cluster(fs *pflag.FlagSet) (*spec.Cluster, error) {
	var base spec.Cluster
	if f.config != "" {
		c, err := spec.Load(f.config)
		if err != nil {
			return nil, err
		}
		base = *c
	}
	if fs.Changed("name") {
		base.Name = f.name
	}
	if fs.Changed("algo") {
		base.Algorithm = pki.Algorithm(f.algo)
	}
	if fs.Changed("layout") {
		base.Layout = f.layout
	}
	if fs.Changed("client-port") {
		base.ClientPort = f.clientPort
	}
	if fs.Changed("peer-port") {
		base.PeerPort = f.peerPort
	}
	if fs.Changed("metrics-port") {
		base.MetricsPort = f.metricsPort
	}
	// Lifetimes under spec.MinValidity are refused here too, so that the
	// error echoes what the user wrote ("59m"), not "59m0s".
	for _, v := range []struct {
		name string
		f    *durationFlag
		to   *spec.Duration
	}{{"ca-validity", f.caValidity, &base.CAValidity}, {"cert-validity", f.certValidity, &base.CertValidity}} {
		if !fs.Changed(v.name) {
			continue
		}
		if v.f.Duration() < spec.MinValidity {
			return nil, usagef("--%s %s: under an hour, the certificates would expire before they are in use", v.name, v.f.String())
		}
		*v.to = spec.Duration(v.f.Duration())
	}
	if fs.Changed("split-credentials") {
		base.SplitCredentials = f.split
	}
	if fs.Changed("external-ca") {
		base.ExternalCA = f.externalCA
	}
	base.ExtraSANs = append(base.ExtraSANs, f.extraSANs...)
	return spec.FromFlags(base, f.members)
}

func newInitCmd() *cobra.Command {
	var (
		sf     specFlags
		dir    string
		force  bool
		output outputFlag
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Generate the etcd CA and every member's certificates",
		Long: `Generate an etcd cluster's PKI: the etcd CA and, for every member, kubeadm's
set of certificates (etcd/ca.crt, etcd/server, etcd/peer,
etcd/healthcheck-client and apiserver-etcd-client), written per member as
<out>/<member>/etc/kubernetes/pki/… so a member's tree can be copied to its
node as it is.

An existing CA in <out>/ca is reused, so re-running init with one more member
adds that member. Existing certificates are kept unless --force; a CA key is
never overwritten.

ed25519 is refused for the kubeadm layout (exit 2): kubeadm loads only RSA
and ECDSA keys, so kubeadm join --control-plane and kubeadm certs renew would
fail on the files ("… is neither in RSA nor ECDSA format"). etcd itself
accepts ed25519, and so does the etcd layout. --force writes ed25519 keys in
the kubeadm layout anyway (and, as always, re-issues existing leaves).

The spec comes from --member flags or a YAML file (--config):

  name: prod-etcd            # --initial-cluster-token
  algorithm: ecdsa-p256      # rsa-2048 (default), rsa-3072, rsa-4096,
                             # ecdsa-p256, ecdsa-p384, ed25519 (etcd layout)
  layout: kubeadm            # or etcd (/etc/etcd/pki, as etcdadm)
  certValidity: 8760h        # leaves; caValidity: CA
  extraSANs: [etcd.example.com]
  members:
  - name: cp1
    ips: [10.0.0.11]
  - name: cp2
    ips: [10.0.0.12]
    dnsNames: [cp2.example.com]`,
		Example: `  etcdpki init --member cp1=10.0.0.11 --member cp2=10.0.0.12 --member cp3=10.0.0.13 --out pki
  etcdpki init --config cluster.yaml --out pki --algo ecdsa-p256
  etcdpki init --config cluster.yaml --out pki --layout etcd --external-ca
  etcdpki init --member e1=10.0.1.1 --out pki --layout etcd --algo ed25519`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			c, err := sf.cluster(cmd.Flags())
			if err != nil {
				return memberDefHint(err)
			}
			res, err := layout.Init(c, dir, layout.InitOptions{Force: force, AnyAlgorithm: force, Progress: keyProgress(cmd.ErrOrStderr(), string(c.Algorithm))})
			if err != nil {
				return err
			}
			return output.write(cmd.OutOrStdout(), newInitDoc(c, res), func(w io.Writer) error {
				printInit(w, c, res)
				return nil
			})
		},
	}
	sf.register(cmd.Flags())
	// --out is the directory the other commands call --dir, and --dir is
	// accepted here too, as the same flag; -o is the output format, as on
	// every command.
	cmd.Flags().StringVarP(&dir, "out", "d", defaultDir, "output `DIR`, the --dir of flags, renew, rotate-ca and add-member (--dir is the same flag)")
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "dir" {
			name = "out"
		}
		return pflag.NormalizedName(name)
	})
	output.register(cmd)
	cmd.Flags().BoolVar(&force, "force", false, "re-issue existing leaf certificates (never replaces a CA key), and allow ed25519 with the kubeadm layout, which kubeadm cannot load")
	return cmd
}

// initDoc is init's -o json and yaml document: what printInit says.
type initDoc struct {
	Dir string `json:"dir"`
	// CA is <dir>/ca/ca.crt; CACreated is false when an existing CA was
	// reused.
	CA        caDoc    `json:"ca"`
	CAFile    string   `json:"caFile"`
	CACreated bool     `json:"caCreated"`
	Members   []dirDoc `json:"members"`
	Written   []string `json:"written"`
	Kept      []string `json:"kept"`
}

// dirDoc is a member and the directory of its files.
type dirDoc struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
}

func newInitDoc(c *spec.Cluster, res *layout.InitResult) initDoc {
	d := initDoc{
		Dir: res.Out, CA: newCADoc(res.CA.Cert), CAFile: filepath.Join(layout.CADir(res.Out), "ca.crt"), CACreated: res.CACreated,
		Written: orEmpty(res.Written), Kept: orEmpty(res.Kept),
	}
	l, _ := layout.ForName(c.Layout)
	for _, m := range c.Members {
		d.Members = append(d.Members, dirDoc{m.Name, layout.OnDisk(layout.MemberDir(res.Out, m.Name), l.PKIDir)})
	}
	return d
}

// memberDefHint explains a --member that is a name where init and
// add-member want NAME=IP.
func memberDefHint(err error) error {
	var fe *spec.FieldError
	if errors.As(err, &fe) && strings.HasPrefix(fe.Field, "--member ") && !strings.Contains(fe.Field, "=") {
		return withHint(err, "here --member defines a member, as NAME=IP[,IP|DNS…]; the other commands take the member's name only")
	}
	return err
}

func printInit(w io.Writer, c *spec.Cluster, res *layout.InitResult) {
	verb := "reused"
	if res.CACreated {
		verb = "created"
	}
	fmt.Fprintf(w, "%s CA %s (%s, %s, expires %s)\n", verb, filepath.Join(layout.CADir(res.Out), "ca.crt"),
		res.CA.Cert.Subject.CommonName, pki.KeyDescription(res.CA.Cert.PublicKey), res.CA.Cert.NotAfter.UTC().Format(time.DateOnly))
	l, _ := layout.ForName(c.Layout)
	for _, m := range c.Members {
		fmt.Fprintf(w, "member %s: %s\n", m.Name, layout.OnDisk(layout.MemberDir(res.Out, m.Name), l.PKIDir))
	}
	fmt.Fprintf(w, "wrote %d files, kept %d existing\n", len(res.Written), len(res.Kept))
	first := c.Members[0]
	fmt.Fprintf(w, "\nNext: copy each member's tree to its node and install it there, e.g.\n  %s\nand print its etcd flags: etcdpki flags%s --member %s\n",
		installHint(layout.MemberDir(res.Out, first.Name), first.AdvertiseHost()), dirArg(res.Out), first.Name)
}
