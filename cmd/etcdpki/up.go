package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/hosts"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/runner"
)

func newUpCmd() *cobra.Command {
	var (
		members  int
		algo     string
		basePort int
		dir      string
		once     bool
		verbose  bool
		timeout  time.Duration
		hf       hostsFlags
		from     []string
		mf       memberFlags
		control  string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a local mutual-TLS etcd cluster in-process",
		Long: `Generate a PKI and run an N-member etcd cluster in this process, with the
real etcd server code, members on 127.0.0.1, 127.0.0.2, … and mutual TLS with
client certificate authentication on both the client and the peer port.

Each member boots from its own files, written as init writes them and with
the settings that 'etcdpki flags' prints for it. Once every member is ready,
up verifies the cluster through every member with that member's
apiserver-etcd-client certificate (a write, and reads of what was written),
prints the endpoints and an etcdctl environment, and serves until
interrupted. With --once it exits after the verification: 0 if it passed.

Each member listens on its own address: client port --base-port, peer port
--base-port+1, metrics port --base-port+2. PKI and data go to a temporary
directory removed on exit, unless --dir names one to keep (and reuse).

With --hosts netns (Linux, root, iproute2) every member runs on a host of
its own instead: a network namespace with its own address in --subnet (a
block of 198.18.0.0/15, the benchmarking range) and its own 127.0.0.1,
joined to the others by a bridge, and a separate etcd process started with
exactly the flags 'etcdpki flags' prints (listening on the member's address
and on its 127.0.0.1:2379, as kubeadm's members do). There etcd checks a
connecting member's certificate against its true address, and 127.0.0.1
means the member's own host, as on real nodes. Clients in this namespace
reach the members through the bridge; verification also reads through
https://127.0.0.1:2379 from inside each member's host. Everything is torn
down on exit, and what a crashed earlier run left behind (names starting
with epki-) is removed first. etcd is etcdpki's own (etcdpki etcd), unless
--etcd names a binary.`,
		Example: `  etcdpki up
  etcdpki up --members 5 --algo ecdsa-p256 --base-port 12379
  etcdpki up --once && echo cluster works
  etcdpki up --dir ./local-etcd     # keeps the PKI and data between runs
  sudo etcdpki up --hosts netns     # each member in its own network namespace
  sudo etcdpki up --hosts netns --subnet 198.18.7.0/24 --once`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(from) > 0 {
				ff := upFromFlags{dirs: append(append([]string{}, from...), args...), mf: &mf, basePort: basePort,
					dir: dir, once: once, verbose: verbose, timeout: timeout, control: control}
				hopts, hostsMode, err := hf.options(cmd)
				if err != nil {
					return err
				}
				if hostsMode {
					ff.hosts = &hosts.Options{Subnet: hopts.Subnet, Etcd: hopts.Etcd}
				}
				return runUpFrom(cmd, ff)
			}
			if len(args) > 0 {
				return withHint(usagef("unexpected argument %q", args[0]), "to run your own member trees: etcdpki up --from DIR…; to drive a running up: etcdpki up status|stop|start|restart")
			}
			if members < 1 || members > local.MaxMembers {
				return usagef("--members %d out of range 1-%d", members, local.MaxMembers)
			}
			if basePort < 1 || basePort > 65535-2 {
				return usagef("--base-port %d out of range 1-%d (it uses the port and the two above it)", basePort, 65535-2)
			}
			var alg pki.Algorithm
			if cmd.Flags().Changed("algo") {
				a, err := pki.ParseAlgorithm(algo)
				if err != nil {
					return usageErr(err)
				}
				alg = a
			}
			opts := runner.Options{
				Dir:          dir,
				Members:      members,
				Algorithm:    alg,
				ClientPort:   basePort,
				PeerPort:     basePort + 1,
				MetricsPort:  basePort + 2,
				ReadyTimeout: timeout,
				Verbose:      verbose,
				LogWriter:    cmd.ErrOrStderr(),
			}
			hopts, hostsMode, err := hf.options(cmd)
			if err != nil {
				return err
			}
			if hostsMode {
				opts.Mode, opts.Subnet, opts.Etcd = runner.Netns, hopts.Subnet, hopts.Etcd
			}
			return runUp(cmd, func(ctx context.Context) (runner.Cluster, error) { return runner.Start(ctx, opts) }, once, hostsMode, controlPath(control, dir))
		},
	}
	f := cmd.Flags()
	f.IntVarP(&members, "members", "n", local.DefaultMembers, fmt.Sprintf("number of members, 1-%d", local.MaxMembers))
	f.StringVar(&algo, "algo", string(local.DefaultAlgorithm), "key algorithm of a new PKI: "+strings.Join(pki.AlgorithmNames(), ", ")+" (rsa-2048 is kubeadm's default; slower to generate)")
	f.IntVar(&basePort, "base-port", 2379, "client `PORT` of every member; peer is PORT+1, metrics PORT+2")
	f.StringVarP(&dir, "dir", "d", "", "keep the PKI and data in `DIR`, reusing a PKI already there (default: a temporary dir removed on exit)")
	f.BoolVar(&once, "once", false, "verify the cluster and exit: 0 if verification passed, 1 if not")
	f.BoolVarP(&verbose, "verbose", "v", false, "print etcd's logs to stderr")
	f.DurationVar(&timeout, "timeout", local.DefaultReadyTimeout, "how long to wait for every member to become ready")
	hf.add(f)
	f.StringArrayVar(&from, "from", nil, "boot the member tree `DIR` as it is (init's output or a node's tree, as check reads them), on this machine; repeat it, or list more DIRs after it")
	mf.register(cmd)
	f.StringVar(&control, "control", "", "the control `SOCKET` that 'up status|stop|start|restart' talk to (default: DIR/control.sock with --dir, else "+local.DefaultControlSocket()+")")
	cmd.AddCommand(newUpControlCmds()...)
	return cmd
}

// controlPath is the control socket of an up: --control, else the one in
// its --dir, else the user's default.
func controlPath(control, dir string) string {
	switch {
	case control != "":
		return control
	case dir != "":
		return filepath.Join(dir, "control.sock")
	}
	return local.DefaultControlSocket()
}

// runUp boots the cluster with start, verifies and prints it, and serves
// until SIGINT/SIGTERM unless once. The cluster is closed on every path.
// A cluster of hosts also ends on SIGHUP (its terminal closed), and
// survives a closed stdout (SIGPIPE, e.g. up … | head): its network
// outlives the process, so every way out must pass through Close.
func runUp(cmd *cobra.Command, start func(context.Context) (runner.Cluster, error), once, hostsMode bool, control string) (err error) {
	// The context ends on SIGINT or SIGTERM, also while the cluster boots;
	// stop() restores the default handling, so a second Ctrl-C during a
	// slow shutdown kills the process.
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if hostsMode {
		sigs = append(sigs, syscall.SIGHUP)
		// With SIGPIPE ignored a write to a closed pipe fails with EPIPE
		// instead of killing the process (os/signal: "SIGPIPE").
		signal.Ignore(syscall.SIGPIPE)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), sigs...)
	defer stop()
	w := cmd.OutOrStdout()

	cl, err := start(ctx)
	if err != nil {
		return upStartError(ctx, err, cmd.ErrOrStderr())
	}
	defer func() {
		if cerr := cl.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	fu, fromTrees := cl.(*fromUp)
	if fromTrees {
		fu.printStart(w)
	} else {
		printCluster(w, cl)
	}

	vctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	namesOK := true
	if fromTrees {
		namesOK = fu.verifyNames(vctx, w)
	}
	if err := cl.Verify(vctx); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted while verifying the cluster")
		}
		return fmt.Errorf("verification failed: %w", err)
	}
	how := "verified: through every member, with its apiserver-etcd-client certificate, wrote a key and read back the keys written so far"
	if fromTrees {
		how = "verified: through every member, with the client certificate of its own tree, wrote a key and read back the keys written so far"
	}
	if _, ok := cl.(*hosts.Cluster); ok {
		how += ", from here through the bridge and from the member's own host through https://127.0.0.1:2379"
	}
	fmt.Fprintln(w, how)
	if once {
		if !namesOK {
			return errors.New("a serving certificate does not verify with its member's real address (above): clients and peers on the real network would refuse it")
		}
		return nil
	}

	if fromTrees {
		fu.printEtcdctl(w)
	} else if err := printEtcdctl(w, cl); err != nil {
		return err
	}
	if control != "" {
		stopControl, err := local.ServeControl(ctx, control, cl)
		if err != nil {
			return err
		}
		defer stopControl()
		fmt.Fprintf(w, "\ncontrol: etcdpki up status%s, etcdpki up restart|stop|start MEMBER%s (socket %s)\n", controlArg(control, cl.Dir()), controlArg(control, cl.Dir()), control)
	}
	if cl.Temporary() {
		fmt.Fprintf(w, "\nserving until interrupted (Ctrl-C); %s is removed on exit\n", cl.Dir())
	} else {
		fmt.Fprintf(w, "\nserving until interrupted (Ctrl-C); the PKI and data stay in %s\n", cl.Dir())
	}
	if err := cl.Wait(ctx); err != nil {
		return err
	}
	stop()
	fmt.Fprintln(w, "shutting down")
	return nil
}

func printCluster(w io.Writer, cl runner.Cluster) {
	if res := cl.InitResult(); res != nil {
		verb := "reused the PKI in"
		if res.CACreated {
			verb = "generated a new PKI in"
		}
		fmt.Fprintf(w, "%s %s (CA key %s)\n", verb, cl.Dir(), pki.KeyDescription(res.CA.Cert.PublicKey))
	}
	n, noun := len(cl.Members()), "members"
	if n == 1 {
		noun = "member"
	}
	hc, _ := cl.(*hosts.Cluster)
	if hc != nil {
		nw := hc.Network()
		if !nw.Removed.Empty() {
			fmt.Fprintf(w, "removed what an earlier run left behind: %s\n", nw.Removed)
		}
		fmt.Fprintf(w, "network %s: bridge %s with %s/%d in this namespace, a namespace per member\n", nw.ID, nw.Bridge, nw.Addresses.Bridge, nw.Subnet.Bits())
	}
	fmt.Fprintf(w, "%d etcd %s ready, mutual TLS on the client and peer ports:\n", n, noun)
	for _, name := range cl.Members() {
		c := cl.Config(name)
		fmt.Fprintf(w, "  %-7s client %s  peer %s  metrics %s", name,
			strings.Join(c.AdvertiseClientURLs, ","), strings.Join(c.InitialAdvertisePeerURLs, ","), strings.Join(c.ListenMetricsURLs, ","))
		if hc != nil {
			// The member's 127.0.0.1 is its own host's.
			fmt.Fprintf(w, "  netns %s (pid %d)", hc.Host(name).Netns, hc.PID(name))
		}
		fmt.Fprintln(w)
	}
}

// printEtcdctl prints the environment etcdctl needs, with the first
// member's healthcheck-client certificate, as kubeadm's docs use it.
func printEtcdctl(w io.Writer, cl runner.Cluster) error {
	first := cl.Members()[0]
	env, err := render.EtcdctlEnv(cl.Spec(), first, render.Options{Root: layout.MemberDir(cl.Dir(), first)})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\netcdctl, with the healthcheck-client certificate of %s:\n\n", first)
	fmt.Fprint(w, render.ExportLines(env))
	fmt.Fprintln(w, "etcdctl member list -w table")
	if hc, ok := cl.(*hosts.Cluster); ok {
		// What kube-apiserver on a stacked control plane does: dial the
		// member on its own host's 127.0.0.1.
		fmt.Fprintf(w, "\non %s's own host, through its 127.0.0.1 (as kube-apiserver on a stacked control plane):\n\n", first)
		fmt.Fprintf(w, "ip netns exec %s etcdctl --endpoints %s member list -w table\n", hc.Host(first).Netns, hc.LocalEndpoint())
	}
	return nil
}

// upStartError explains a failed start: the port to change, or what etcd
// logged on the way down.
func upStartError(ctx context.Context, err error, stderr io.Writer) error {
	var be *local.BindError
	if errors.As(err, &be) {
		if be.InUse() {
			return withHint(err, "pick another --base-port (each member uses it, +1 and +2 on its own 127.0.0.x)")
		}
		return withHint(err, "up runs members on 127.0.0.1, 127.0.0.2, …; on systems that route only 127.0.0.1 to lo, try --members 1")
	}
	var pe *hosts.PlatformError
	if errors.As(err, &pe) {
		return withHint(err, "run it as root on Linux with iproute2 installed (apt-get install iproute2), or leave out --hosts for a cluster on 127.0.0.x")
	}
	var se *hosts.SubnetInUseError
	if errors.As(err, &se) {
		return withHint(err, "pick another --subnet inside 198.18.0.0/15, e.g. 198.18.1.0/24")
	}
	if ctx.Err() != nil {
		return errors.New("interrupted while starting the cluster")
	}
	var boot *local.BootError
	if errors.As(err, &boot) {
		if p := boot.Problems(); len(p) > 0 {
			const max = 10
			fmt.Fprintln(stderr, "etcdpki: etcd logged:")
			for i, line := range p {
				if i == max {
					fmt.Fprintf(stderr, "  … and %d more\n", len(p)-max)
					break
				}
				fmt.Fprintln(stderr, "  "+line)
			}
		}
		return withHint(err, "run with --verbose to see etcd's logs")
	}
	return err
}
