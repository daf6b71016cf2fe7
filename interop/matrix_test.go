package interop

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The etcd version matrix (issue 14, item 3): for each etcd release
// etcdpki renders flags for, the real etcd process of that release runs
// init's PKI with exactly the flags `etcdpki flags --etcd-version V`
// prints, its own etcdctl talks to it with kubeadm's client credentials,
// and `etcdpki check` and `etcdpki probe` agree with what the process did.

// matrixVersions are the etcd releases of the matrix: 3.4 is Debian's
// package, 3.5 and 3.6 come from the Go module proxy, 3.7 is the main
// module's own etcd (internal/etcdmain) with etcdctl from etcd37/.
var matrixVersions = []string{"3.4", "3.5", "3.6", "3.7"}

// unknownFlag is what every etcd release prints when its flag set meets
// a flag it does not define: etcdmain parses os.Args with Go's flag
// package (server/v3@v3.7.3/etcdmain/config.go, config.parse:
// flag.NewFlagSet("etcd", flag.ContinueOnError), whose Parse prints
// "flag provided but not defined: -NAME" and the usage, then os.Exit(2);
// the same in @v3.5.21, @v3.6.5 and in 3.4's etcdmain).
const unknownFlag = "flag provided but not defined"

// TestMatrixCluster boots, for each etcd version, a 3-member cluster of
// that version's etcd processes with init's kubeadm-layout PKI and the
// flags `flags --etcd-version V` prints, writes and reads through that
// version's etcdctl with both of kubeadm's client credentials (each key
// read back with the other one), and requires `etcdpki check` on the three
// member trees and `etcdpki probe` on the running cluster to report no
// error. 3.4 runs with rsa-2048 keys (kubeadm's default), the others with
// ecdsa-p256.
func TestMatrixCluster(t *testing.T) {
	t.Parallel()
	for _, v := range matrixVersions {
		t.Run("etcd-"+v, func(t *testing.T) {
			t.Parallel()
			needEtcd(t, v)
			algo := "ecdsa-p256"
			if v == "3.4" {
				algo = "rsa-2048"
			}
			p := initPKI(t, pkiOptions{algo: algo})
			writeManifests(t, p, "--etcd-version", v)
			c := startCluster(t, p, v)
			c.waitHealthy(t, 30*time.Second)

			// One key written with each credential, read back with the other.
			creds := [][2]string{{kubeadmAPIEtcdCert, kubeadmAPIEtcdKey}, {kubeadmHealthCert, kubeadmHealthKey}}
			for i, w := range creds {
				r := creds[1-i]
				key, val := "/matrix/"+filepath.Base(w[0]), "etcd-"+v+"-"+strconv.Itoa(i)
				if out, err := c.etcdctl(t, w[0], w[1], "put", key, val); err != nil || !strings.Contains(out, "OK") {
					t.Fatalf("etcdctl %s put with %s: %v\n%s", v, w[0], err, out)
				}
				out, err := c.etcdctl(t, r[0], r[1], "get", key, "--print-value-only")
				if err != nil || strings.TrimSpace(out) != val {
					t.Fatalf("etcdctl %s get %s with %s = %q, %v; want %q", v, key, r[0], out, err, val)
				}
			}

			rep := checkTrees(t, p)
			t.Logf("check: %s; warnings %v, infos %v", rep.Verdict.Summary, rep.rules("warning"), rep.rules("info"))
			if errs := rep.rules("error"); len(errs) > 0 {
				t.Errorf("check on etcd %s's member trees: error findings %v\n%s", v, errs, rep.raw)
			}
			if !rep.Verdict.ClusterForms || !rep.Verdict.ClientsConnect {
				t.Errorf("check on etcd %s's member trees: verdict %+v", v, rep.Verdict)
			}
			pr := probeCluster(t, p)
			t.Logf("probe: %s; warnings %v, infos %v", pr.Verdict.Summary, pr.rules("warning"), pr.rules("info"))
			if errs := pr.rules("error"); len(errs) > 0 {
				t.Errorf("probe of the etcd %s cluster: error findings %v\n%s", v, errs, pr.raw)
			}
		})
	}
}

// TestMatrixFlagsParse starts one member with the command line
// `etcdpki flags` prints for every etcd version (--etcd-version) and every
// Kubernetes release kubeadm pairs with an etcd (--kubernetes-version
// 1.29..1.37, run by the etcd that release implies), and requires that
// etcd's own flag set accepts it: the member gets as far as serving its
// peer port instead of exiting with etcd's unknown-flag error. The
// negative controls prove the test can fail: etcd 3.5 has no
// --feature-gates, etcd 3.7 no --experimental-initial-corrupt-check.
func TestMatrixFlagsParse(t *testing.T) {
	t.Parallel()
	type tc struct {
		name, version string
		flagArgs      []string
	}
	var cases []tc
	for _, v := range matrixVersions {
		cases = append(cases, tc{"etcd-" + v, v, []string{"--etcd-version", v}})
	}
	for minor := 29; minor <= 37; minor++ {
		k := "1." + strconv.Itoa(minor)
		cases = append(cases, tc{"kubernetes-" + k, "", []string{"--kubernetes-version", k}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := initPKI(t, pkiOptions{members: 1})
			v := c.version
			if v == "" {
				v = impliedEtcd(t, p, c.flagArgs[1])
			}
			m := startFirstMember(t, p, v, c.flagArgs, nil)
			m.waitServing(t, p, 15*time.Second)
			// The flags are that version's generation, so the matrix does
			// parse both: experimental-* for 3.4/3.5, feature gates for 3.6+.
			want := "--feature-gates=InitialCorruptCheck=true"
			if v == "3.4" || v == "3.5" {
				want = "--experimental-initial-corrupt-check=true"
			}
			if !slices.Contains(m.args, want) {
				t.Errorf("flags %s for etcd %s: no %s in %q", strings.Join(c.flagArgs, " "), v, want, m.args)
			}
		})
	}

	// Negative controls: the same member, one flag of the other
	// generation added. etcd 3.5 registers the experimental flags only
	// (server/v3@v3.5.21/embed/config.go: "experimental-initial-corrupt-check"),
	// etcd 3.7 the feature gates only (server/v3@v3.7.3/embed/config.go:
	// ServerFeatureGateFlagName "feature-gates", no experimental-* flags).
	controls := []struct{ version, flag, want string }{
		{"3.5", "--feature-gates=InitialCorruptCheck=true", unknownFlag + ": -feature-gates"},
		{"3.7", "--experimental-initial-corrupt-check=true", unknownFlag + ": -experimental-initial-corrupt-check"},
	}
	for _, nc := range controls {
		t.Run("control-etcd-"+nc.version, func(t *testing.T) {
			t.Parallel()
			p := initPKI(t, pkiOptions{members: 1})
			m := startFirstMember(t, p, nc.version, []string{"--etcd-version", nc.version}, []string{nc.flag})
			code, log := m.waitExit(t, 15*time.Second)
			if code != 2 || !strings.Contains(log, nc.want) {
				t.Fatalf("etcd %s with %s: exit %d, log:\n%s\nwant exit 2 and %q", nc.version, nc.flag, code, tail([]byte(log), 2000), nc.want)
			}
			t.Logf("etcd %s with %s: exit %d: %s", nc.version, nc.flag, code, firstLine([]byte(log)))
		})
	}
}

// impliedEtcd is the etcd minor version (3.5, …) that `etcdpki flags
// --kubernetes-version k` renders for, read from the image of its static
// pod (registry.k8s.io/etcd:3.6.5-0). Where kubeadm v1.34.4 pins an etcd
// for k (cmd/kubeadm/app/constants/constants.go@v1.34.4,
// SupportedEtcdVersion: 1.31–1.33 → 3.5.24, 1.34 → 3.6.5), etcdpki's must
// be the same minor.
func impliedEtcd(t *testing.T, p *testPKI, k string) string {
	t.Helper()
	out := run(t, "flags", "--dir", p.dir, "--member", p.names[0], "--format", "manifest", "--kubernetes-version", k)
	m := regexp.MustCompile(`image:\s*\S*etcd:v?(3\.\d+)\.\d+`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("flags --format manifest --kubernetes-version %s names no etcd image:\n%s", k, out)
	}
	kubeadm := map[string]string{"1.31": "3.5", "1.32": "3.5", "1.33": "3.5", "1.34": "3.6"}
	if want, ok := kubeadm[k]; ok && m[1] != want {
		t.Errorf("Kubernetes %s: etcdpki runs etcd %s, kubeadm v1.34.4 etcd %s", k, m[1], want)
	}
	if !slices.Contains(matrixVersions, m[1]) {
		t.Fatalf("Kubernetes %s implies etcd %s, not one of %v", k, m[1], matrixVersions)
	}
	return m[1]
}

// TestMatrixFaults breaks the PKI in ways where etcd versions differ or
// where etcd's failure must match what `etcdpki check` predicts, and
// requires the real process to fail (or work) as check said, by rule ID.
func TestMatrixFaults(t *testing.T) {
	t.Parallel()
	// Split credentials (serverAuth-only server/peer certs plus clientAuth-
	// only server-client/peer-client) need --client-cert-file and
	// --peer-client-cert-file, which etcd 3.5 added
	// (server/v3@v3.5.21/embed/config.go: "client-cert-file"); 3.4's flag
	// set refuses them, and so does `flags --etcd-version 3.4`.
	t.Run("split-credentials", func(t *testing.T) {
		t.Parallel()
		for _, v := range matrixVersions {
			t.Run("etcd-"+v, func(t *testing.T) {
				t.Parallel()
				binary(t, "etcd-"+v) // skip before making a PKI
				p := initPKI(t, pkiOptions{extra: []string{"--split-credentials"}})
				if v == "3.4" {
					splitOn34(t, p)
					return
				}
				writeManifests(t, p, "--etcd-version", v)
				rep := checkTrees(t, p)
				if errs := rep.rules("error"); len(errs) > 0 {
					t.Errorf("check, split credentials for etcd %s: error findings %v\n%s", v, errs, rep.raw)
				}
				c := startCluster(t, p, v)
				c.waitHealthy(t, 30*time.Second)
				// server.crt is serverAuth only: the grpc-gateway works because
				// it presents --client-cert-file (client/pkg/v3@v3.7.3
				// transport/listener.go, TLSInfo.baseConfig's
				// GetClientCertificate: ClientCertFile when set, else CertFile).
				for i := range p.names {
					if err := gatewayPut(t, p, i+1, "split-"+v); err != nil {
						t.Errorf("etcd %s, split credentials: grpc-gateway of %s: %v", v, p.names[i], err)
					}
				}
			})
		}
	})

	// Two EKU faults on one member, cp2, in one cluster per version (it
	// keeps the matrix short; each fault shows in another member's log:
	// the gateway's in cp2's, the peer credential's in cp1's), no split
	// credentials:
	//
	// cp2's server.crt is serverAuth only. etcd's grpc-gateway dials its
	// own client port with --cert-file as its client certificate
	// (server/v3@v3.5.21/embed/etcd.go grpcGatewayDial:
	// e.cfg.ClientTLSInfo.ServerConfig(), whose GetClientCertificate
	// presents CertFile unless ClientCertFile is set; the same in @v3.6.5
	// and @v3.7.3), and cp2's own client-cert check refuses it: cp2 serves
	// gRPC, but its HTTP/JSON API answers 503. check predicts
	// EKU-SERVER-GATEWAY on cp2.
	//
	// cp2's peer.crt is serverAuth only. peer.crt is also the client
	// certificate a member presents when it dials the others (the same
	// GetClientCertificate, with PeerClientCertFile unset), and their peer
	// listeners refuse it.
	// That breaks one direction only: rafthttp runs a stream each way,
	// each dialed by its reader (server/v3@v3.5.21/etcdserver/api/rafthttp
	// /stream.go, streamReader.dial; the same in @v3.6.5 and @v3.7.3), and
	// pipeline POSTs are dialed by their sender, so cp1 and cp3, which dial
	// cp2 with good certificates, still carry every message both ways.
	// check predicts EKU-PEER-CLIENT on cp2 and that the cluster forms
	// anyway; every version does form, and cp1 logs the rejections.
	t.Run("eku-without-clientAuth", func(t *testing.T) {
		t.Parallel()
		for _, v := range matrixVersions {
			t.Run("etcd-"+v, func(t *testing.T) {
				t.Parallel()
				binary(t, "etcd-"+v) // skip before making a PKI
				p := initPKI(t, pkiOptions{})
				writeManifests(t, p, "--etcd-version", v)
				reissueEKU(t, p, "cp2", "/etc/kubernetes/pki/etcd/server", "serverAuth")
				reissueEKU(t, p, "cp2", "/etc/kubernetes/pki/etcd/peer", "serverAuth")
				rep := checkTrees(t, p)
				if got := rep.rules("error"); !slices.Equal(got, []string{"EKU-PEER-CLIENT", "EKU-SERVER-GATEWAY"}) ||
					!rep.has("EKU-SERVER-GATEWAY", "cp2") || !rep.has("EKU-PEER-CLIENT", "cp2") {
					t.Fatalf("check: error findings %v, want EKU-SERVER-GATEWAY and EKU-PEER-CLIENT on cp2\n%s", got, rep.raw)
				}
				if !rep.Verdict.ClusterForms {
					t.Fatalf("check: verdict %+v, want the cluster to form", rep.Verdict)
				}
				c := startCluster(t, p, v)
				c.waitHealthy(t, 30*time.Second)

				if err := gatewayPut(t, p, 1, "gw-"+v); err != nil {
					t.Errorf("etcd %s: grpc-gateway of cp1 (clean): %v", v, err)
				}
				err := gatewayPut(t, p, 2, "gw-"+v)
				if err == nil {
					t.Fatalf("etcd %s: grpc-gateway of cp2 works with a serverAuth-only server.crt; check predicted EKU-SERVER-GATEWAY", v)
				}
				t.Logf("etcd %s: check said: %s", v, rep.Verdict.Summary)
				t.Logf("etcd %s: cp2's grpc-gateway answered: %v", v, err)
				// cp2 rejects only its own gateway (nothing else dials it
				// with a bad certificate); cp1 only cp2's peer credential.
				t.Logf("etcd %s cp2 logged: %s", v, waitLogLine(t, v, c.members[1], 10*time.Second, rejectionLog(v, "client"), "incompatible key usage"))
				t.Logf("etcd %s cp1 logged: %s", v, waitLogLine(t, v, c.members[0], 10*time.Second, rejectionLog(v, "peer"), "incompatible key usage"))
			})
		}
	})
}

// rejectionLog is what etcd version logs for a TLS handshake its port
// ("client" or "peer") refused: 3.5+ log "rejected connection on client
// endpoint" / "… on peer endpoint" with zap
// (server/v3@v3.5.21/embed/config_logging.go, the same in @v3.6.5 and
// @v3.7.3); 3.4, whose default logger is still capnslog, logs `embed:
// rejected connection from "ADDR" (error "…", ServerName "")` for both
// ports (etcd v3.4 embed/config_logging.go).
func rejectionLog(version, port string) string {
	if version == "3.4" {
		return "rejected connection from"
	}
	return "rejected connection on " + port + " endpoint"
}

// splitOn34 proves that etcd 3.4 cannot run split credentials, as
// `flags --etcd-version 3.4` says by refusing them: flags exits 2, and
// etcd 3.4's own flag set refuses the --client-cert-file that 3.5's
// flags carry.
func splitOn34(t *testing.T, p *testPKI) {
	t.Helper()
	out, code, stderr := runCode(t, "flags", "--dir", p.dir, "--member", "cp1", "--etcd-version", "3.4")
	if code != 2 {
		t.Fatalf("flags --etcd-version 3.4 on a split PKI: exit %d, want 2\n%s%s", code, out, stderr)
	}
	t.Logf("flags --etcd-version 3.4, split credentials: exit 2: %s", strings.TrimSpace(stderr))
	m := startFirstMemberArgs(t, p, "3.4", p.flagsFor(t, "cp1", filepath.Join(t.TempDir(), "cp1"), "--etcd-version", "3.5"))
	code, log := m.waitExit(t, 15*time.Second)
	if want := unknownFlag + ": -client-cert-file"; code != 2 || !strings.Contains(log, want) {
		t.Fatalf("etcd 3.4 with 3.5's split flags: exit %d, log:\n%s\nwant exit 2 and %q", code, tail([]byte(log), 2000), want)
	}
	t.Logf("etcd 3.4 with 3.5's split flags: exit 2: %s", firstLine([]byte(log)))
}

// needEtcd skips (or, in CI, fails) t unless etcd version's server and
// etcdctl can be had, before any cluster is made.
func needEtcd(t *testing.T, version string) {
	t.Helper()
	binary(t, "etcd-"+version)
	binary(t, "etcdctl-"+version)
}

// writeManifests writes each member's kubeadm static pod, as
// `flags --format manifest` prints it with flagArgs, to its tree's
// /etc/kubernetes/manifests/etcd.yaml, so that check reads the member's
// settings (names, URLs, --client-cert-file, …) from it, as on a node.
func writeManifests(t testing.TB, p *testPKI, flagArgs ...string) {
	t.Helper()
	for _, name := range p.names {
		out := run(t, append([]string{"flags", "--dir", p.dir, "--member", name, "--format", "manifest"}, flagArgs...)...)
		path := p.file(name, "/etc/kubernetes/manifests/etcd.yaml")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// auditReport is the part of check's and probe's JSON output (schema
// etcdpki.io/check/v1) the matrix asserts on.
type auditReport struct {
	Findings []auditFinding `json:"findings"`
	Verdict  struct {
		ClusterForms   bool   `json:"clusterForms"`
		ClientsConnect bool   `json:"clientsConnect"`
		Summary        string `json:"summary"`
		Errors         int    `json:"errors"`
	} `json:"verdict"`
	raw  string
	code int // etcdpki's exit code: 0, or 1 for findings
}

// auditFinding is one finding of a report.
type auditFinding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Member   string `json:"member"`
	File     string `json:"file"`
	Detail   string `json:"detail"`
}

// rules are the sorted, distinct rule IDs of the findings of severity.
func (r *auditReport) rules(severity string) []string {
	var ids []string
	for _, f := range r.Findings {
		if f.Severity == severity && !slices.Contains(ids, f.Rule) {
			ids = append(ids, f.Rule)
		}
	}
	slices.Sort(ids)
	return ids
}

// has reports whether a finding of rule is about member.
func (r *auditReport) has(rule, member string) bool {
	return slices.ContainsFunc(r.Findings, func(f auditFinding) bool { return f.Rule == rule && f.Member == member })
}

// find returns the first finding of rule on member, or nil.
func (r *auditReport) find(rule, member string) *auditFinding {
	for i, f := range r.Findings {
		if f.Rule == rule && f.Member == member {
			return &r.Findings[i]
		}
	}
	return nil
}

// checkTrees runs `etcdpki check -o json` on p's member trees and
// returns its report; exit 0 and 1 (findings) are both answers.
func checkTrees(t testing.TB, p *testPKI) *auditReport {
	t.Helper()
	args := []string{"check", "-o", "json"}
	for _, name := range p.names {
		args = append(args, p.tree(name))
	}
	return auditJSON(t, args...)
}

// probeCluster runs `etcdpki probe -o json` against p's running cluster
// with the healthcheck-client credential, and the member trees to compare
// the served certificates with.
func probeCluster(t testing.TB, p *testPKI) *auditReport {
	t.Helper()
	name := p.names[0]
	// --timeout 5s, not the default 2s: on two cores the matrix runs
	// a dozen etcd processes at once.
	args := []string{"probe", "-o", "json", "--timeout", "5s", "--endpoints", p.endpoints(),
		"--cacert", p.file(name, kubeadmCA), "--cert", p.file(name, kubeadmHealthCert), "--key", p.file(name, kubeadmHealthKey)}
	for _, n := range p.names {
		args = append(args, p.tree(n))
	}
	return auditJSON(t, args...)
}

// auditJSON runs etcdpki check or probe with args and decodes its JSON.
func auditJSON(t testing.TB, args ...string) *auditReport {
	t.Helper()
	out, code, stderr := runCode(t, args...)
	if code != 0 && code != 1 {
		t.Fatalf("etcdpki %s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
	}
	r := &auditReport{raw: out, code: code}
	if err := json.Unmarshal([]byte(out), r); err != nil {
		t.Fatalf("etcdpki %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return r
}

// startFirstMember starts the first member of p with etcd version's binary and
// the command line `flags flagArgs…` prints for it, plus extra flags, and
// stops it when t ends.
func startFirstMember(t testing.TB, p *testPKI, version string, flagArgs, extra []string) *etcdProc {
	t.Helper()
	args := p.flagsFor(t, p.names[0], filepath.Join(t.TempDir(), p.names[0]), flagArgs...)
	return startFirstMemberArgs(t, p, version, append(args, extra...))
}

// startFirstMemberArgs starts etcd version's binary as p's first member with
// args, and stops it when t ends (logging its output if t failed).
func startFirstMemberArgs(t testing.TB, p *testPKI, version string, args []string) *etcdProc {
	t.Helper()
	bin := binary(t, "etcd-"+version)
	m := &etcdProc{name: p.names[0], args: args, log: &syncBuffer{}, done: make(chan struct{})}
	m.cmd = exec.Command(bin, args...)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start etcd %s: %v", version, err)
	}
	go func() { m.err = m.cmd.Wait(); close(m.done) }()
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("etcd %s %s %s\nlog (last 3000 bytes):\n%s", version, m.name, strings.Join(args, " "), tail(m.log.Bytes(), 3000))
		}
	})
	return m
}

// waitServing waits until member m (p's first) accepts TCP connections on
// its peer port, which etcd opens only after it parsed its flags
// (etcdmain's config.parse) and validated the config
// (server/v3@v3.7.3/embed/etcd.go StartEtcd: inCfg.Validate(), then
// configurePeerListeners; the same order in @v3.5.21 and @v3.6.5); it
// fails t if m exits first, saying whether with the unknown-flag error.
func (m *etcdProc) waitServing(t testing.TB, p *testPKI, timeout time.Duration) {
	t.Helper()
	addr := net.JoinHostPort(memberIP(1), strconv.Itoa(p.ports.peer))
	deadline := time.Now().Add(timeout)
	for {
		if done, err := m.exited(); done {
			log := m.log.String()
			if strings.Contains(log, unknownFlag) {
				t.Fatalf("etcd refused a flag etcdpki printed (%v): %s", err, unknownFlagLine(log))
			}
			t.Fatalf("etcd exited (%v) before serving its peer port", err)
		}
		if conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond); err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not serving %s after %s", addr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitExit waits for m to exit and returns its exit code and output.
func (m *etcdProc) waitExit(t testing.TB, timeout time.Duration) (int, string) {
	t.Helper()
	select {
	case <-m.done:
	case <-time.After(timeout):
		t.Fatalf("etcd still running after %s", timeout)
	}
	code := 0
	if m.err != nil {
		ee, ok := m.err.(*exec.ExitError)
		if !ok {
			t.Fatalf("etcd: %v", m.err)
		}
		code = ee.ExitCode()
	}
	return code, m.log.String()
}

// unknownFlagLine is the line of log with etcd's unknown-flag error.
func unknownFlagLine(log string) string {
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, unknownFlag) {
			return line
		}
	}
	return ""
}

// reissueEKU re-issues member name's certificate base+".crt" (a node
// path) with openssl from the CA in the member's tree (etcd/ca.crt and
// ca.key), keeping its key, subject, SANs and key usage but with
// extendedKeyUsage eku only (e.g. "serverAuth").
func reissueEKU(t testing.TB, p *testPKI, name, base, eku string) {
	t.Helper()
	crtPath, keyPath := p.file(name, base+".crt"), p.file(name, base+".key")
	data, err := os.ReadFile(crtPath)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		t.Fatalf("%s: no PEM", crtPath)
	}
	old, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var sans []string
	for _, d := range old.DNSNames {
		sans = append(sans, "DNS:"+d)
	}
	for _, ip := range old.IPAddresses {
		sans = append(sans, "IP:"+ip.String())
	}
	ku := []string{"digitalSignature"}
	if old.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
		ku = append(ku, "keyEncipherment")
	}
	dir := t.TempDir()
	ext := filepath.Join(dir, "ext.cnf")
	cnf := fmt.Sprintf("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
		strings.Join(ku, ","), eku)
	if len(sans) > 0 {
		cnf += "subjectAltName=" + strings.Join(sans, ",") + "\n"
	}
	if err := os.WriteFile(ext, []byte(cnf), 0o600); err != nil {
		t.Fatal(err)
	}
	csr, out := filepath.Join(dir, "req.csr"), filepath.Join(dir, "new.crt")
	ca := p.file(name, "/etc/kubernetes/pki/etcd/ca.crt")
	caKey := p.file(name, "/etc/kubernetes/pki/etcd/ca.key")
	runOpenSSL(t, "x509", "-x509toreq", "-in", crtPath, "-signkey", keyPath, "-out", csr)
	runOpenSSL(t, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-set_serial", strconv.FormatInt(time.Now().UnixNano(), 10),
		"-days", "365", "-sha256", "-extfile", ext, "-out", out)
	pemOut, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crtPath, pemOut, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runOpenSSL runs openssl with args, failing t (or skipping it, outside CI,
// where openssl is not installed).
func runOpenSSL(t testing.TB, args ...string) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if inCI {
			t.Fatal(err)
		}
		t.Skipf("openssl is not installed: %v", err)
	}
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// gatewayPut writes a key through member i's (1-based) grpc-gateway, the
// HTTP/JSON API on the client port (POST /v3/kv/put), with the
// apiserver-etcd-client credential, and returns the gateway's error.
func gatewayPut(t testing.TB, p *testPKI, i int, val string) error {
	t.Helper()
	cfg := p.clientTLS(t, p.names[0], kubeadmCA, kubeadmAPIEtcdCert, kubeadmAPIEtcdKey)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	// key and value are base64 ("Z3c=" is "gw"), as the gateway's JSON
	// mapping of bytes fields wants.
	body := fmt.Sprintf(`{"key":"Z3c=","value":%q}`, base64.StdEncoding.EncodeToString([]byte(val)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.clientURL(i)+"/v3/kv/put", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(b.String(), `"header"`) {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(b.String()))
	}
	return nil
}

// waitLogLine waits until member m's output has a line containing every
// one of texts and returns it, or fails t.
func waitLogLine(t testing.TB, version string, m *etcdProc, timeout time.Duration, texts ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for line := range strings.SplitSeq(m.log.String(), "\n") {
			if !slices.ContainsFunc(texts, func(s string) bool { return !strings.Contains(line, s) }) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd %s %s logged no line with %q in %s", version, m.name, texts, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
