package lifecycle_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
)

// interruptPair leaves cp1's server pair as a run killed between its two
// renames leaves it: the new key in place, the new certificate complete
// under its temporary name. It returns the new certificate.
func interruptPair(t *testing.T, out string) *x509.Certificate {
	t.Helper()
	d, err := lifecycle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := d.CA()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := d.Spec.Member("cp1")
	key, _ := pki.GenerateKey(pki.ECDSAP256)
	cert, err := ca.Issue(layout.LeafRequest(d.Spec, m, pki.KindServer), key.Public(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := pki.EncodeKey(key)
	pk, err := layout.PrepareFile(keyPath(out, "cp1", pki.KindServer), keyPEM, layout.KeyPerm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layout.PrepareFile(certPath(out, "cp1", pki.KindServer), pki.EncodeCert(cert), layout.CertPerm); err != nil {
		t.Fatal(err)
	}
	if err := pk.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := layout.ReadKeyPair(certPath(out, "cp1", pki.KindServer), keyPath(out, "cp1", pki.KindServer)); err == nil {
		t.Fatal("the pair still matches")
	}
	return cert
}

func TestRepairInterruptedPair(t *testing.T) {
	out := threeMembers(t)
	want := interruptPair(t, out)
	// A run killed while writing another file left a cut-short temp file.
	garbage := filepath.Join(filepath.Dir(certPath(out, "cp2", pki.KindPeer)), ".peer.crt.tmp-123")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERT"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := lifecycle.Status(out)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Members[0]; m.Stage != lifecycle.StageInconsistent || !strings.Contains(m.Problem, "certificate and key do not match: server (an interrupted write") {
		t.Errorf("status of cp1 before the repair: %+v", m)
	}

	// Any command completes the rename first; this one renews cp3 only.
	res, err := lifecycle.Renew(out, lifecycle.RenewOptions{Members: []string{"cp3"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Repaired, ",") != "cp1/etc/kubernetes/pki/etcd/server.crt" {
		t.Errorf("repaired %v", res.Repaired)
	}
	kp, err := layout.ReadKeyPair(certPath(out, "cp1", pki.KindServer), keyPath(out, "cp1", pki.KindServer))
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Cert.Equal(want) {
		t.Error("the repaired certificate is not the one the interrupted run issued")
	}
	for _, p := range []string{certPath(out, "cp1", pki.KindServer), keyPath(out, "cp1", pki.KindServer), certPath(out, "cp2", pki.KindPeer)} {
		if temps, _ := layout.TempFiles(p); len(temps) != 0 {
			t.Errorf("temp files left: %v", temps)
		}
	}
	checkClean(t, out)
}

func TestLock(t *testing.T) {
	out := threeMembers(t)
	f, err := os.OpenFile(filepath.Join(out, ".etcdpki.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flock(f); err != nil {
		t.Skip("flock:", err)
	}
	_, err = lifecycle.Renew(out, lifecycle.RenewOptions{})
	wantRefused(t, err, "another etcdpki command is changing")
}

func TestStageAfterKilledStage(t *testing.T) {
	// A stage killed while writing the new CA, before renaming it, leaves
	// <out>/ca-next with temporary files only: no rotation is in progress,
	// and the next stage starts one.
	out := threeMembers(t)
	next := filepath.Join(out, "ca-next")
	if err := os.MkdirAll(next, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(next, ".ca.key.tmp-1"), []byte("-----BEGIN EC PRIV"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := lifecycle.Status(out)
	if err != nil || st.InProgress {
		t.Fatalf("status: %+v, %v", st, err)
	}
	res, err := lifecycle.Stage(out, lifecycle.RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CreatedCA || len(res.Changed) != 3 {
		t.Errorf("stage: created %v, changed %v", res.CreatedCA, res.Changed)
	}
	if temps, _ := layout.TempFiles(filepath.Join(next, "ca.key")); len(temps) != 0 {
		t.Errorf("temp files left: %v", temps)
	}
}
