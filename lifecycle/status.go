package lifecycle

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// MemberStage is where a member is in a CA rotation, as its files say.
type MemberStage string

// The stages of a member, in rotation order.
const (
	// StageOld: the member trusts the current CA only and its leaves are
	// signed by it (also every member's stage when no rotation runs).
	StageOld MemberStage = "old"
	// StageStaged: ca.crt is the bundle old+new; the leaves are the old
	// CA's. Once restarted, the member accepts either CA's certificates.
	StageStaged MemberStage = "staged"
	// StageReissuing: ca.crt is the bundle and some leaves are the new
	// CA's, some the old's (an interrupted or partial reissue).
	StageReissuing MemberStage = "reissuing"
	// StageReissued: ca.crt is the bundle and every leaf is the new CA's.
	StageReissued MemberStage = "reissued"
	// StageFinalized: ca.crt (and ca.key) are the new CA's only.
	StageFinalized MemberStage = "finalized"
	// StageInconsistent: the files fit no stage; Problem says why.
	StageInconsistent MemberStage = "inconsistent"
)

// Step is the rotation command that is safe to run next.
type Step string

// The steps.
const (
	StepStage    Step = "stage"
	StepReissue  Step = "reissue"
	StepFinalize Step = "finalize"
	// StepFix: a member's files are inconsistent; a person must look.
	StepFix Step = "fix"
	// StepRestart: members must be restarted (or started) before the
	// next step is safe, as a live check found or, after a finalize, as
	// nothing has confirmed yet; Advice names them.
	StepRestart Step = "restart"
)

// MemberStatus is one member's files, judged against the old and new CA.
type MemberStatus struct {
	Name  string      `json:"name"`
	Stage MemberStage `json:"stage"`
	// Trusts lists the CAs in the member's ca.crt: "old", "new", or the
	// subject and fingerprint of any other.
	Trusts []string `json:"trusts"`
	// OldLeaves and NewLeaves are the leaves signed by the old and the new
	// CA; OtherLeaves those signed by neither or unreadable.
	OldLeaves   []pki.Kind `json:"oldLeaves,omitempty"`
	NewLeaves   []pki.Kind `json:"newLeaves,omitempty"`
	OtherLeaves []pki.Kind `json:"otherLeaves,omitempty"`
	// CAKey is whose key the member's ca.key is: "old", "new", "other",
	// or "" when the CA is external (no ca.key on members).
	CAKey string `json:"caKey,omitempty"`
	// Problem says what is wrong with an inconsistent member.
	Problem string `json:"problem,omitempty"`
}

// RotationStatus is where a CA rotation stands, read from the files alone.
type RotationStatus struct {
	Dir string `json:"dir"`
	// InProgress is true from Stage until Finalize has made the new CA
	// <out>/ca and removed <out>/ca-next.
	InProgress bool `json:"inProgress"`
	// Old and New are the CAs' fingerprints (New empty when no rotation
	// is in progress; Old empty once the new CA is in <out>/ca).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Promoted is true when <out>/ca already holds the new CA: finalize
	// was interrupted before it removed <out>/ca-next.
	Promoted bool `json:"promoted,omitempty"`
	// Retired is the fingerprint of the CA the last rotation retired,
	// while <out>/ca-retired keeps it (see [RetiredCADir]): from the
	// finalize that made the new CA <out>/ca until [StatusLive] has seen
	// every member refuse it.
	Retired string         `json:"retired,omitempty"`
	Members []MemberStatus `json:"members"`
	// Running is what the live check of [StatusLive] found, one entry a
	// member in spec order; nil from [Status].
	Running []MemberLive `json:"running,omitempty"`
	// Restart and Unreachable name the members the live check found
	// running with the trust of an earlier stage (each must be restarted)
	// or could not reach ([StatusLive] only).
	Restart     []string `json:"restart,omitempty"`
	Unreachable []string `json:"unreachable,omitempty"`
	// ForgotRetired is the fingerprint of the retired CA that StatusLive
	// forgot, having seen every member refuse it; Backup is where its
	// files went, relative to Dir.
	ForgotRetired string `json:"forgotRetired,omitempty"`
	Backup        string `json:"backup,omitempty"`
	// Next is the step that is safe now, and Advice says it in words.
	Next   Step   `json:"next"`
	Advice string `json:"advice"`

	old, new *x509.Certificate
}

// Status reads where a CA rotation of the PKI directory out stands: each
// member's stage from its ca.crt, ca.key and leaves, judged against
// <out>/ca and <out>/ca-next, the retired CA still kept, and the step that
// is safe next. It changes nothing and reads files only: whether the
// running members were restarted is [StatusLive]'s business.
func Status(out string) (*RotationStatus, error) {
	d, err := Open(out)
	if err != nil {
		return nil, err
	}
	return d.status()
}

func (d *Dir) status() (*RotationStatus, error) {
	s := &RotationStatus{Dir: d.Path}
	old, err := layout.ReadCert(filepath.Join(layout.CADir(d.Path), "ca.crt"))
	if err != nil {
		return nil, err
	}
	s.old = old
	if d.rotating() {
		s.InProgress = true
		if d.promoted() {
			s.Promoted, s.new, s.old = true, old, nil
		} else if s.new, err = layout.ReadCert(filepath.Join(NextCADir(d.Path), "ca.crt")); err != nil {
			return nil, err
		}
	}
	if s.old != nil {
		s.Old = pki.Fingerprint(s.old)
	}
	if s.new != nil {
		s.New = pki.Fingerprint(s.new)
	}
	if !s.InProgress || s.Promoted {
		retired, err := d.retiredCert()
		if err != nil {
			return nil, err
		}
		if retired != nil {
			s.Retired = pki.Fingerprint(retired)
		}
	}
	for i := range d.Spec.Members {
		s.Members = append(s.Members, d.memberStatus(&d.Spec.Members[i], s.old, s.new))
	}
	s.Next, s.Advice = s.next()
	return s, nil
}

// setLive records what a live check found (see [StatusLive]) and says
// what is next in its light.
func (s *RotationStatus) setLive(running []MemberLive) {
	s.Running, s.Restart, s.Unreachable = running, nil, nil
	if s.Running == nil {
		s.Running = []MemberLive{}
	}
	for _, m := range running {
		switch {
		case m.Unreachable:
			s.Unreachable = append(s.Unreachable, m.Member)
		case m.Restart:
			s.Restart = append(s.Restart, m.Member)
		}
	}
	s.Next, s.Advice = s.next()
}

// memberStatus judges one member's files.
func (d *Dir) memberStatus(m *spec.Member, old, new *x509.Certificate) MemberStatus {
	ms := MemberStatus{Name: m.Name}
	label := func(c *x509.Certificate) string {
		switch {
		case old != nil && bytes.Equal(c.Raw, old.Raw):
			return "old"
		case new != nil && bytes.Equal(c.Raw, new.Raw):
			return "new"
		}
		return fmt.Sprintf("%q (%s)", c.Subject.CommonName, pki.Fingerprint(c)[:11])
	}
	inconsistent := func(format string, args ...any) MemberStatus {
		ms.Stage, ms.Problem = StageInconsistent, fmt.Sprintf(format, args...)
		return ms
	}
	caPath := d.CertPath(m.Name, pki.KindCA)
	trust, err := layout.ReadCerts(caPath)
	if err != nil {
		return inconsistent("%v", err)
	}
	for _, c := range trust {
		ms.Trusts = append(ms.Trusts, label(c))
	}
	var mismatched []pki.Kind
	for _, kind := range d.LeafKinds() {
		cert, err := layout.ReadCert(d.CertPath(m.Name, kind))
		if err == nil && !layout.PairMatches(d.CertPath(m.Name, kind), d.KeyPath(m.Name, kind)) {
			mismatched = append(mismatched, kind)
		}
		switch {
		case err != nil:
			ms.OtherLeaves = append(ms.OtherLeaves, kind)
		case old != nil && pki.SignedBy(cert, old) == nil:
			ms.OldLeaves = append(ms.OldLeaves, kind)
		case new != nil && pki.SignedBy(cert, new) == nil:
			ms.NewLeaves = append(ms.NewLeaves, kind)
		default:
			ms.OtherLeaves = append(ms.OtherLeaves, kind)
		}
	}
	if !d.Spec.ExternalCA {
		ms.CAKey = "other"
		if key, err := layout.ReadKey(d.KeyPath(m.Name, pki.KindCA)); err == nil {
			switch {
			case old != nil && pki.KeyMatches(old.PublicKey, key):
				ms.CAKey = "old"
			case new != nil && pki.KeyMatches(new.PublicKey, key):
				ms.CAKey = "new"
			}
		}
	}
	trustOld, trustNew := slices.Contains(ms.Trusts, "old"), slices.Contains(ms.Trusts, "new")
	keyIs := func(who string) bool { return d.Spec.ExternalCA || ms.CAKey == who }
	switch {
	case len(mismatched) > 0:
		return inconsistent("certificate and key do not match: %s (an interrupted write: run the last command again, which completes it)", joinKinds(mismatched))
	case len(ms.OtherLeaves) > 0:
		return inconsistent("leaves signed by neither CA, or unreadable: %s (etcdpki check %s says more)", joinKinds(ms.OtherLeaves), d.Path)
	case len(ms.Trusts) != btoi(trustOld)+btoi(trustNew):
		return inconsistent("%s trusts a CA that is neither the old nor the new one", d.rel(caPath))
	case trustOld && !trustNew:
		if len(ms.NewLeaves) > 0 {
			return inconsistent("leaves signed by the new CA, which the member does not trust yet: %s", joinKinds(ms.NewLeaves))
		}
		if !keyIs("old") {
			return inconsistent("ca.key is not the key of ca.crt (an interrupted write: run the last command again)")
		}
		ms.Stage = StageOld
	case trustOld && trustNew:
		if !keyIs("old") {
			return inconsistent("ca.key is the new CA's while ca.crt still trusts the old one (an interrupted finalize: run it again)")
		}
		switch {
		case len(ms.NewLeaves) == 0:
			ms.Stage = StageStaged
		case len(ms.OldLeaves) == 0:
			ms.Stage = StageReissued
		default:
			ms.Stage = StageReissuing
		}
	case trustNew:
		if len(ms.OldLeaves) > 0 {
			return inconsistent("trusts only the new CA but still has leaves of the old one: %s", joinKinds(ms.OldLeaves))
		}
		if !keyIs("new") {
			return inconsistent("ca.key is not the new CA's key (an interrupted finalize: run it again)")
		}
		ms.Stage = StageFinalized
	default:
		return inconsistent("%s is empty", d.rel(caPath))
	}
	return ms
}

// next says which step is safe, from the members' stages and, once
// setLive has run, from what the running members showed.
func (s *RotationStatus) next() (Step, string) {
	by := map[MemberStage][]string{}
	var all []string
	for _, m := range s.Members {
		by[m.Stage] = append(by[m.Stage], m.Name)
		all = append(all, m.Name)
	}
	list := func(stages ...MemberStage) string {
		var names []string
		for _, st := range stages {
			names = append(names, by[st]...)
		}
		return strings.Join(names, ", ")
	}
	live := s.Running != nil
	// then is the step after the restarts a live check asks for, and
	// thenAdvice says it.
	var then Step
	var advice, thenAdvice string
	switch {
	case len(by[StageInconsistent]) > 0:
		return StepFix, "members in no consistent stage: " + list(StageInconsistent) + "; fix them before any rotation step"
	case s.ForgotRetired != "":
		return StepStage, "every member refuses the retired CA now: the rotation is complete, and the retired CA is forgotten (" + RetiredCADir(s.Dir) + " removed, backed up in " + filepath.Join(s.Dir, s.Backup) + "); 'rotate-ca stage' starts the next one"
	case !s.InProgress && s.Retired == "":
		return StepStage, "no CA rotation in progress; 'rotate-ca stage' starts one"
	case !s.InProgress:
		if !live {
			return StepRestart, fmt.Sprintf("the rotation is complete in the files, but nothing has confirmed that each member was restarted since its finalize (unconfirmed: %s); restart any that was not, one at a time, then 'rotate-ca status --live' checks that every member refuses the retired CA and forgets it (%s)",
				strings.Join(all, ", "), RetiredCADir(s.Dir))
		}
		then, advice = StepStage, "every member refuses the retired CA now: the rotation is complete"
		thenAdvice = "'rotate-ca status --live' again, which forgets the retired CA once every member refuses it"
	case len(by[StageOld]) > 0:
		then, advice = StepStage, fmt.Sprintf("stage %s; then restart every staged member (etcd, and the kube-apiserver next to it), one at a time (both read the trusted CA file only at start), and reissue", list(StageOld))
		thenAdvice = "stage " + list(StageOld)
	case len(list(StageStaged, StageReissuing)) > 0:
		then, advice = StepReissue, fmt.Sprintf("every member's ca.crt trusts the new CA; once each has been restarted since it was staged (reissue checks it; 'rotate-ca status --live' shows who has), reissue %s; no restart is needed after reissue", list(StageStaged, StageReissuing))
		if live {
			advice = fmt.Sprintf("every member runs trusting the new CA; reissue %s; no restart is needed after reissue", list(StageStaged, StageReissuing))
		}
		thenAdvice = "reissue " + list(StageStaged, StageReissuing)
	case len(by[StageReissued]) > 0:
		then, advice = StepFinalize, fmt.Sprintf("every leaf is signed by the new CA; finalize %s and restart each, one at a time, after its finalize", list(StageReissued))
		thenAdvice = "finalize " + list(StageReissued)
	case s.Promoted:
		then, advice = StepFinalize, "every member is finalized and the new CA is already "+layout.CADir(s.Dir)+"; finalize once more to remove "+NextCADir(s.Dir)+", which ends the rotation (restart any member not yet restarted since its finalize)"
		thenAdvice = "finalize once more"
	default:
		then, advice = StepFinalize, "every member is finalized; finalize once more to make the new CA "+layout.CADir(s.Dir)+" (restart any member not yet restarted since its finalize)"
		thenAdvice = "finalize once more"
	}
	if !live || len(s.Restart)+len(s.Unreachable) == 0 {
		return then, advice
	}
	var parts []string
	if len(s.Restart) > 0 {
		who := strings.Join(s.Restart, ", ")
		if len(s.Restart) > 1 {
			who += ", one at a time"
		}
		parts = append(parts, "restart "+who+" (etcd, and the kube-apiserver next to it: both read their trusted CA file only at start)")
	}
	if len(s.Unreachable) > 0 {
		parts = append(parts, "start "+strings.Join(s.Unreachable, ", ")+", or make each reachable (nothing can tell what a member runs with until then)")
	}
	return StepRestart, strings.Join(parts, "; ") + "; then " + thenAdvice
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
