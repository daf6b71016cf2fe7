package audit_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// Check a 3-member cluster's PKI after a classic mistake: the operator
// copied cp1's peer certificate and key to cp2 instead of issuing cp2 its
// own. The copy does not name cp2's address, so the other members refuse
// cp2 (R4), and one key now serves two members (R3).
func ExampleCheckDirs() {
	out, err := os.MkdirTemp("", "etcdpki-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(out)

	c, err := spec.FromFlags(spec.Cluster{Algorithm: pki.ECDSAP256},
		[]string{"cp1=10.0.0.11", "cp2=10.0.0.12", "cp3=10.0.0.13"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range []string{layout.Kubeadm.CertPath(pki.KindPeer), layout.Kubeadm.KeyPath(pki.KindPeer)} {
		data, err := os.ReadFile(layout.OnDisk(layout.MemberDir(out, "cp1"), p))
		if err == nil {
			err = os.WriteFile(layout.OnDisk(layout.MemberDir(out, "cp2"), p), data, 0o600)
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}

	report, err := audit.CheckDirs([]string{out}, audit.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range report.Findings {
		file, _ := filepath.Rel(out, f.File)
		fmt.Printf("%s %s %s %s\n", f.Member, f.Rule, f.Severity, file)
	}
	fmt.Println(report.Verdict.Summary)
	fmt.Println("exit 1:", report.Fails(audit.Error))
	// Output:
	// cp1 R3-SHARED-LEAF warning cp1/etc/kubernetes/pki/etcd/peer.crt
	// cp2 R4-PEER-SAN error cp2/etc/kubernetes/pki/etcd/peer.crt
	// cp2 R3-SHARED-LEAF warning cp2/etc/kubernetes/pki/etcd/peer.crt
	// the cluster will form without cp2 (R4-PEER-SAN): 2 of 3 members keep quorum; clients will fail on cp2 (cannot join)
	// exit 1: true
}
