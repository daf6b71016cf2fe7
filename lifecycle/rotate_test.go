package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// stages returns every member's stage, in member order, joined.
func stages(t *testing.T, out string) (string, lifecycle.Step) {
	t.Helper()
	st, err := lifecycle.Status(out)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, m := range st.Members {
		s = append(s, m.Name+"="+string(m.Stage))
		if m.Problem != "" {
			t.Logf("%s: %s", m.Name, m.Problem)
		}
	}
	return strings.Join(s, " "), st.Next
}

func wantStages(t *testing.T, out, want string, next lifecycle.Step) {
	t.Helper()
	got, gotNext := stages(t, out)
	if got != want || gotNext != next {
		t.Errorf("stages %q next %s, want %q next %s", got, gotNext, want, next)
	}
}

func wantRefused(t *testing.T, err error, want string) {
	t.Helper()
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want a refusal containing %q", err, want)
	}
}

func TestRotateCA(t *testing.T) {
	ctx := context.Background()
	out := threeMembers(t)
	oldCA := readCert(t, filepath.Join(out, "ca", "ca.crt"))
	oldCAKey, _ := os.ReadFile(filepath.Join(out, "ca", "ca.key"))
	wantStages(t, out, "cp1=old cp2=old cp3=old", lifecycle.StepStage)

	// Nothing but stage can start a rotation. Finalize has nothing to
	// do: every member trusts the one CA there is, as after a rotation.
	_, err := lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{Offline: true})
	wantRefused(t, err, "no CA rotation in progress")
	before := snapshot(t, out)
	if res, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true}); err != nil || res.Promoted || len(res.Changed) != 0 {
		t.Errorf("finalize with no rotation: %+v, %v", res, err)
	}
	if got := changed(before, snapshot(t, out)); len(got) != 0 {
		t.Errorf("finalize with no rotation changed %v", got)
	}

	// Stage one member: the new CA is made, cp1 trusts both.
	res, err := lifecycle.Stage(out, lifecycle.RotateOptions{Members: []string{"cp1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CreatedCA || strings.Join(res.Changed, ",") != "cp1" {
		t.Errorf("stage cp1: created %v, changed %v", res.CreatedCA, res.Changed)
	}
	newCA := readCert(t, filepath.Join(out, "ca-next", "ca.crt"))
	bundle, err := layout.ReadCerts(certPath(out, "cp1", pki.KindCA))
	if err != nil || len(bundle) != 2 || !bytes.Equal(bundle[0].Raw, oldCA.Raw) || !bytes.Equal(bundle[1].Raw, newCA.Raw) {
		t.Fatalf("cp1 ca.crt after stage: %d certs, %v; want old then new", len(bundle), err)
	}
	wantStages(t, out, "cp1=staged cp2=old cp3=old", lifecycle.StepStage)

	// Reissue while cp2 and cp3 do not trust the new CA is refused.
	_, err = lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{Offline: true, Members: []string{"cp1"}})
	wantRefused(t, err, "not every member trusts the new CA yet: cp2 (old), cp3 (old)")

	// Staging everyone reuses the new CA and leaves cp1 alone.
	before = snapshot(t, out)
	res, err = lifecycle.Stage(out, lifecycle.RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.CreatedCA || strings.Join(res.Changed, ",") != "cp2,cp3" {
		t.Errorf("stage all: created %v, changed %v", res.CreatedCA, res.Changed)
	}
	if got := changed(before, snapshot(t, out)); strings.Join(got, " ") != "cp2/etc/kubernetes/pki/etcd/ca.crt cp3/etc/kubernetes/pki/etcd/ca.crt" {
		t.Errorf("stage all changed %v", got)
	}
	wantStages(t, out, "cp1=staged cp2=staged cp3=staged", lifecycle.StepReissue)
	// Idempotent.
	res, err = lifecycle.Stage(out, lifecycle.RotateOptions{})
	if err != nil || len(res.Written) != 0 || len(res.Changed) != 0 {
		t.Errorf("third stage: wrote %v, changed %v, %v", res.Written, res.Changed, err)
	}
	// add-member and renew refuse while the rotation runs.
	_, err = lifecycle.Renew(out, lifecycle.RenewOptions{})
	wantRefused(t, err, "a CA rotation is in progress")
	_, err = lifecycle.AddMember(out, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{})
	wantRefused(t, err, "a CA rotation is in progress")

	// Finalize before the leaves are reissued is refused.
	_, err = lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
	wantRefused(t, err, "not every member's leaves are the new CA's yet: cp1 (staged), cp2 (staged), cp3 (staged)")

	// Reissue one member, then the rest.
	res, err = lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{Offline: true, Members: []string{"cp2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 4 {
		t.Errorf("reissue cp2 issued %d", len(res.Issued))
	}
	wantStages(t, out, "cp1=staged cp2=reissued cp3=staged", lifecycle.StepReissue)
	res, err = lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 8 || strings.Join(res.Changed, ",") != "cp1,cp3" {
		t.Errorf("reissue all: issued %d, changed %v", len(res.Issued), res.Changed)
	}
	for _, m := range []string{"cp1", "cp2", "cp3"} {
		for _, kind := range []pki.Kind{pki.KindServer, pki.KindPeer, pki.KindAPIServerClient, pki.KindHealthcheckClient} {
			if err := pki.SignedBy(readCert(t, certPath(out, m, kind)), newCA); err != nil {
				t.Errorf("%s %s: %v", m, kind, err)
			}
		}
	}
	wantStages(t, out, "cp1=reissued cp2=reissued cp3=reissued", lifecycle.StepFinalize)

	// Finalize member by member; the CA moves to <out>/ca with the last.
	res, err = lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true, Members: []string{"cp3"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Promoted {
		t.Error("promoted the new CA with cp1 and cp2 not finalized")
	}
	wantStages(t, out, "cp1=reissued cp2=reissued cp3=finalized", lifecycle.StepFinalize)
	res, err = lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Promoted || res.Status == nil || res.Status.InProgress {
		t.Errorf("final finalize: promoted %v, status %+v", res.Promoted, res.Status)
	}
	if _, err := os.Stat(filepath.Join(out, "ca-next")); !os.IsNotExist(err) {
		t.Errorf("ca-next still there: %v", err)
	}
	if ca := readCert(t, filepath.Join(out, "ca", "ca.crt")); !bytes.Equal(ca.Raw, newCA.Raw) {
		t.Error("<out>/ca is not the new CA")
	}
	for _, m := range []string{"cp1", "cp2", "cp3"} {
		trust, err := layout.ReadCerts(certPath(out, m, pki.KindCA))
		if err != nil || len(trust) != 1 || !bytes.Equal(trust[0].Raw, newCA.Raw) {
			t.Errorf("%s ca.crt: %d certs, %v", m, len(trust), err)
		}
		if _, err := layout.ReadKeyPair(certPath(out, m, pki.KindCA), keyPath(out, m, pki.KindCA)); err != nil {
			t.Errorf("%s CA pair: %v", m, err)
		}
	}
	// The old CA key is in the backup of the run that replaced it.
	saved, err := os.ReadFile(filepath.Join(out, res.Backup, "ca", "ca.key"))
	if err != nil || !bytes.Equal(saved, oldCAKey) {
		t.Errorf("old CA key backup: %v", err)
	}
	wantStages(t, out, "cp1=old cp2=old cp3=old", lifecycle.StepRestart)
	checkClean(t, out)
	// A new member and a renewal now use the new CA.
	if _, err := lifecycle.AddMember(out, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pki.SignedBy(readCert(t, certPath(out, "cp4", pki.KindPeer)), newCA); err != nil {
		t.Error(err)
	}
	checkClean(t, out)
}

func TestRotateCAExternal(t *testing.T) {
	ctx := context.Background()
	out := initPKI(t, func(c *spec.Cluster) { c.ExternalCA = true; c.SplitCredentials = true; c.Layout = spec.LayoutEtcd }, "a=10.0.1.1", "b=10.0.1.2")
	for _, step := range []func() error{
		func() error { _, err := lifecycle.Stage(out, lifecycle.RotateOptions{}); return err },
		func() error {
			_, err := lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{Offline: true, ReuseKey: true})
			return err
		},
		func() error {
			_, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	wantStages(t, out, "a=old b=old", lifecycle.StepRestart)
	for _, m := range []string{"a", "b"} {
		if _, err := os.Stat(memberPath(out, m, "/etc/etcd/pki/ca.key")); !os.IsNotExist(err) {
			t.Errorf("member %s got a CA key with an external CA: %v", m, err)
		}
	}
	checkClean(t, out)
}

func TestStatusInconsistent(t *testing.T) {
	out := threeMembers(t)
	if _, err := lifecycle.Stage(out, lifecycle.RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	// cp2 is finalized by hand before its leaves were reissued: it would
	// refuse every other member once restarted.
	next, err := os.ReadFile(filepath.Join(out, "ca-next", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.WriteFile(certPath(out, "cp2", pki.KindCA), next, layout.CertPerm); err != nil {
		t.Fatal(err)
	}
	st, err := lifecycle.Status(out)
	if err != nil {
		t.Fatal(err)
	}
	m := st.Members[1]
	if m.Stage != lifecycle.StageInconsistent || !strings.Contains(m.Problem, "trusts only the new CA but still has leaves of the old one") || st.Next != lifecycle.StepFix {
		t.Errorf("cp2: %+v, next %s", m, st.Next)
	}
	_, err = lifecycle.Reissue(context.Background(), out, lifecycle.RotateOptions{Offline: true})
	wantRefused(t, err, "members in no consistent stage: cp2: trusts only the new CA")
}

// rotate runs a whole CA rotation of out and returns the new CA's
// certificate.
func rotate(t *testing.T, out string) []byte {
	t.Helper()
	ctx := context.Background()
	if _, err := lifecycle.Stage(out, lifecycle.RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{Offline: true}); err != nil {
		t.Fatal(err)
	}
	res, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
	if err != nil || !res.Promoted {
		t.Fatalf("finalize: promoted %v, %v", res != nil && res.Promoted, err)
	}
	ca, err := os.ReadFile(filepath.Join(out, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestFinalizeKilledRemovingNextCA puts back what a finalize killed while
// removing <out>/ca-next leaves (the new CA is <out>/ca already): every
// command must say the same about it, and finalize run again ends it.
func TestFinalizeKilledRemovingNextCA(t *testing.T) {
	for _, tt := range []struct {
		name string
		// dir is where the leftovers are; files those of <out>/ca left there.
		dir   string
		files []string
	}{
		// Removing ca-next in place unlinks one file at a time, in
		// directory order: either one can be left alone.
		{"key unlinked", "ca-next", []string{"ca.crt"}},
		{"cert unlinked", "ca-next", []string{"ca.key"}},
		{"nothing unlinked", "ca-next", []string{"ca.crt", "ca.key"}},
		// Killed after ca-next was renamed away, before it was removed.
		{"tombstone", ".ca-next.removed", []string{"ca.crt"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			out := threeMembers(t)
			rotate(t, out)
			for _, f := range tt.files {
				data, err := os.ReadFile(filepath.Join(out, "ca", f))
				if err != nil {
					t.Fatal(err)
				}
				if err := layout.WriteFile(filepath.Join(out, tt.dir, f), data, layout.KeyPerm); err != nil {
					t.Fatal(err)
				}
			}
			leftover := tt.dir == "ca-next"
			st, err := lifecycle.Status(out)
			if err != nil {
				t.Fatal(err)
			}
			if leftover {
				// Status, stage, renew and add-member all send the
				// operator to finalize.
				if !st.InProgress || !st.Promoted || st.Next != lifecycle.StepFinalize || !strings.Contains(st.Advice, "finalize once more to remove") {
					t.Errorf("status: in progress %v, promoted %v, next %s (%s)", st.InProgress, st.Promoted, st.Next, st.Advice)
				}
				wantStages(t, out, "cp1=finalized cp2=finalized cp3=finalized", lifecycle.StepFinalize)
				var text strings.Builder
				if err := st.WriteText(&text); err != nil || strings.Contains(text.String(), "ca-next/ca.crt") {
					t.Errorf("status text names ca-next as the new CA (%v):\n%s", err, text.String())
				}
				_, err = lifecycle.Stage(out, lifecycle.RotateOptions{})
				wantHint(t, err, "finalize was interrupted", "rotate-ca finalize")
				_, err = lifecycle.Renew(out, lifecycle.RenewOptions{})
				wantHint(t, err, "finalize was interrupted", "rotate-ca finalize")
				_, err = lifecycle.AddMember(out, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{})
				wantHint(t, err, "finalize was interrupted", "rotate-ca finalize")
				// The live check must not trip over the half of a CA
				// either. Its context is done before it starts, so that
				// nothing dials the members' 10.0.0.x addresses (net's
				// dialSerial checks the context before each attempt).
				done, cancel := context.WithCancel(ctx)
				cancel()
				if _, err := lifecycle.CheckLive(done, out, 10*time.Millisecond); err != nil && strings.Contains(err.Error(), "ca-next") {
					t.Errorf("check live: %v", err)
				}
			} else if st.InProgress || st.Next != lifecycle.StepRestart {
				t.Errorf("status with a tombstone: in progress %v, next %s", st.InProgress, st.Next)
			}

			// The plain command run again completes it.
			res, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Promoted != leftover || len(res.Changed) != 0 || res.Status == nil || res.Status.InProgress {
				t.Errorf("finalize again: promoted %v, changed %v, status %+v", res.Promoted, res.Changed, res.Status)
			}
			for _, p := range []string{"ca-next", ".ca-next.removed"} {
				if _, err := os.Lstat(filepath.Join(out, p)); !os.IsNotExist(err) {
					t.Errorf("%s still there: %v", p, err)
				}
			}
			wantStages(t, out, "cp1=old cp2=old cp3=old", lifecycle.StepRestart)
			if _, err := lifecycle.Renew(out, lifecycle.RenewOptions{}); err != nil {
				t.Error(err)
			}
			if _, err := lifecycle.AddMember(out, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{}); err != nil {
				t.Error(err)
			}
			checkClean(t, out)
			if _, err := lifecycle.Stage(out, lifecycle.RotateOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFinalizeTombstoneRemovedByAnyCommand: the tombstone of a finalize
// killed after its rename goes with the next command, whichever it is.
func TestFinalizeTombstoneRemovedByAnyCommand(t *testing.T) {
	out := threeMembers(t)
	rotate(t, out)
	// The same goes for what forgetting the retired CA leaves.
	for _, dir := range []string{".ca-next.removed", ".ca-retired.removed"} {
		tomb := filepath.Join(out, dir, "ca.key")
		if err := layout.WriteFile(tomb, []byte("leftover"), layout.KeyPerm); err != nil {
			t.Fatal(err)
		}
		if _, err := lifecycle.Renew(out, lifecycle.RenewOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Dir(tomb)); !os.IsNotExist(err) {
			t.Errorf("tombstone %s still there after renew: %v", dir, err)
		}
	}
}

// TestFinalizeAgain: finalize run again after the rotation ended, or
// with none ever started, has nothing to do and says so without an error.
func TestFinalizeAgain(t *testing.T) {
	ctx := context.Background()
	out := threeMembers(t)
	newCA := rotate(t, out)
	before := snapshot(t, out)
	res, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Promoted || len(res.Changed) != 0 || len(res.Written) != 0 || res.Backup != "" || res.Status == nil || res.Status.InProgress {
		t.Errorf("finalize again: promoted %v, changed %v, wrote %v, backup %q", res.Promoted, res.Changed, res.Written, res.Backup)
	}
	if got := changed(before, snapshot(t, out)); len(got) != 0 {
		t.Errorf("finalize again changed %v", got)
	}
	if ca, _ := os.ReadFile(filepath.Join(out, "ca", "ca.crt")); !bytes.Equal(ca, newCA) {
		t.Error("<out>/ca changed")
	}
	// Run for one member too, and with --live: there is nothing the
	// running members (here: none) must be ready for.
	if _, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true, Members: []string{"cp2"}}); err != nil {
		t.Error(err)
	}
	if _, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{LiveTimeout: 10 * time.Millisecond}); err != nil {
		t.Errorf("finalize --live again: %v", err)
	}
	// A member that trusts some other CA is not "nothing to do".
	other := threeMembers(t)
	foreign, err := os.ReadFile(filepath.Join(other, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.WriteFile(certPath(out, "cp2", pki.KindCA), foreign, layout.CertPerm); err != nil {
		t.Fatal(err)
	}
	_, err = lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
	wantRefused(t, err, "members in no consistent stage: cp2")
}

func wantHint(t *testing.T, err error, detail, hint string) {
	t.Helper()
	var re *lifecycle.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Detail, detail) || !strings.Contains(re.Hint, hint) {
		t.Errorf("got %v (hint %q), want a refusal containing %q with a hint containing %q", err, hintOf(re), detail, hint)
	}
}

func hintOf(re *lifecycle.RefusedError) string {
	if re == nil {
		return ""
	}
	return re.Hint
}

// TestRetiredCA: after the last finalize the old CA is kept in
// <out>/ca-retired (the bytes of the old <out>/ca, with a CA's modes),
// status says that the restarts after finalize are unconfirmed and names
// every member, renew and add-member work on with the new CA, and the next
// stage forgets the retired CA (backed up) and writes the bundle for other
// clients.
func TestRetiredCA(t *testing.T) {
	out := threeMembers(t)
	oldCrt, err := os.ReadFile(filepath.Join(out, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := os.ReadFile(filepath.Join(out, "ca", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	oldFP := pki.Fingerprint(readCert(t, filepath.Join(out, "ca", "ca.crt")))
	rotate(t, out)
	dir := lifecycle.RetiredCADir(out)
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{dir, nil, os.ModeDir | layout.DirPerm}, {filepath.Join(dir, "ca.crt"), oldCrt, layout.CertPerm}, {filepath.Join(dir, "ca.key"), oldKey, layout.KeyPerm}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != f.perm {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode(), f.perm)
		}
		if f.data != nil {
			if got, _ := os.ReadFile(f.path); !bytes.Equal(got, f.data) {
				t.Errorf("%s is not the old CA's file", f.path)
			}
		}
	}
	st, err := lifecycle.Status(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.InProgress || st.Retired != oldFP || st.Next != lifecycle.StepRestart ||
		!strings.Contains(st.Advice, "unconfirmed: cp1, cp2, cp3") || !strings.Contains(st.Advice, "'rotate-ca status --live'") {
		t.Errorf("status after finalize: in progress %v, retired %q, next %s (%s)", st.InProgress, st.Retired, st.Next, st.Advice)
	}
	var text strings.Builder
	if err := st.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if want := "(" + filepath.Join(dir, "ca.crt") + "), kept until"; !strings.Contains(text.String(), want) {
		t.Errorf("status text does not name the retired CA (%s):\n%s", want, text.String())
	}

	// renew and add-member issue from the new CA, the retired one kept.
	if _, err := lifecycle.Renew(out, lifecycle.RenewOptions{Members: []string{"cp1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.AddMember(out, spec.Member{Name: "cp4", IPs: []string{"10.0.0.14"}}, lifecycle.AddMemberOptions{}); err != nil {
		t.Fatal(err)
	}
	newCA := readCert(t, filepath.Join(out, "ca", "ca.crt"))
	for _, m := range []string{"cp1", "cp4"} {
		if err := pki.SignedBy(readCert(t, certPath(out, m, pki.KindServer)), newCA); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	checkClean(t, out)
	wantStages(t, out, "cp1=old cp2=old cp3=old cp4=old", lifecycle.StepRestart)

	// A new stage forgets the retired CA: the restarts it asks for end
	// every member's trust in it too.
	res, err := lifecycle.Stage(out, lifecycle.RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ForgotRetired != oldFP {
		t.Errorf("stage forgot %q, want the retired CA %q", res.ForgotRetired, oldFP)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after stage: %v", dir, err)
	}
	if saved, err := os.ReadFile(filepath.Join(out, res.Backup, "ca-retired", "ca.key")); err != nil || !bytes.Equal(saved, oldKey) {
		t.Errorf("the retired CA's key is not in the stage's backup: %v", err)
	}
	// The bundle for other clients is every staged member's ca.crt.
	if res.Bundle != lifecycle.BundlePath(out) || res.Bundle != filepath.Join(out, "ca-next", "bundle.crt") {
		t.Errorf("bundle %q", res.Bundle)
	}
	bundle, err := os.ReadFile(res.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if member, _ := os.ReadFile(certPath(out, "cp2", pki.KindCA)); !bytes.Equal(bundle, member) {
		t.Error("the bundle differs from cp2's staged ca.crt")
	}
	certs, err := layout.ReadCerts(res.Bundle)
	if err != nil || len(certs) != 2 || !certs[0].Equal(newCA) {
		t.Errorf("bundle: %d certificates, %v; want the current CA, then the next", len(certs), err)
	}
	wantStages(t, out, "cp1=staged cp2=staged cp3=staged cp4=staged", lifecycle.StepReissue)
}

// TestFinalizeKilledAfterRetiring: a finalize killed after it kept the old
// CA in <out>/ca-retired and before the new CA replaced <out>/ca leaves
// ca-retired holding the CA of <out>/ca; the rotation is still in progress,
// nothing counts as retired, and finalize run again completes it.
func TestFinalizeKilledAfterRetiring(t *testing.T) {
	ctx := context.Background()
	out := threeMembers(t)
	old := readCert(t, filepath.Join(out, "ca", "ca.crt"))
	if _, err := lifecycle.Stage(out, lifecycle.RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{Offline: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true, Members: []string{"cp1", "cp2"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "ca.key"} {
		data, err := os.ReadFile(filepath.Join(out, "ca", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := layout.WriteFile(filepath.Join(lifecycle.RetiredCADir(out), f), data, layout.KeyPerm); err != nil {
			t.Fatal(err)
		}
	}
	st, err := lifecycle.Status(out)
	if err != nil {
		t.Fatal(err)
	}
	if !st.InProgress || st.Retired != "" || st.Next != lifecycle.StepFinalize {
		t.Errorf("status: in progress %v, retired %q, next %s", st.InProgress, st.Retired, st.Next)
	}
	res, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
	if err != nil || !res.Promoted {
		t.Fatalf("finalize again: promoted %v, %v", res != nil && res.Promoted, err)
	}
	if got := readCert(t, filepath.Join(lifecycle.RetiredCADir(out), "ca.crt")); !got.Equal(old) {
		t.Error("ca-retired is not the old CA")
	}
	if res.Status == nil || res.Status.Retired != pki.Fingerprint(old) {
		t.Errorf("status after finalize: %+v", res.Status)
	}
	checkClean(t, out)
}
