package lifecycle

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// RotateOptions tune the rotation steps.
type RotateOptions struct {
	// Members limits the step to these members; empty means all. Members
	// already past the step are left alone either way.
	Members []string
	// ReuseKey makes Reissue keep each leaf's key.
	ReuseKey bool
	// Offline makes Reissue and Finalize go by the files alone. By
	// default they first check the running members ([CheckLive]) and
	// refuse, naming each member that is not ready, unless every port
	// accepts a client certificate of the new CA (each member was
	// restarted since its stage) and, for Finalize, serves one (its
	// reissued tree is on its node): a step that goes ahead without
	// that breaks the cluster's connections. With Offline nothing checks
	// the running members, and the result says so (Unchecked).
	Offline bool
	// Live is what asked for the live check before it was the default.
	//
	// Deprecated: Reissue and Finalize check the running members unless
	// Offline is set; Live has no effect.
	Live bool
	// LiveTimeout bounds each handshake of the live check (zero: 2 s).
	LiveTimeout time.Duration
	// Now is the time of issue; zero means time.Now().
	Now time.Time
}

// RotateResult says what a rotation step did.
type RotateResult struct {
	Result
	// Changed lists the members this run moved to the step's stage.
	Changed []string
	// Issued lists the certificates Reissue issued.
	Issued []Issued
	// CreatedCA is true when Stage made the new CA (a second Stage reuses
	// it); NewCA is its fingerprint.
	CreatedCA bool
	NewCA     string
	// Promoted is true when Finalize made the new CA <out>/ca, ending the
	// rotation; the old CA is then kept in <out>/ca-retired (see
	// [RetiredCADir]) until [StatusLive] has seen every member refuse it.
	Promoted bool
	// Bundle is the file Stage wrote for the etcd clients that are not
	// members (see [BundlePath]).
	Bundle string
	// ForgotRetired is the fingerprint of the CA an earlier rotation
	// retired that Stage forgot (removed <out>/ca-retired, backed up):
	// the restarts this rotation needs end every member's trust in it.
	ForgotRetired string
	// Unchecked is true when opts.Offline skipped the check of the
	// running members that the step would have made.
	Unchecked bool
	// Status is where the rotation stands after the step.
	Status *RotationStatus
}

// BundlePath is the file Stage writes for the etcd clients that are not
// members and keep a copy of the CA certificate of their own (backup jobs,
// monitoring, CNI plugins, …): the bundle old+new, <out>/ca-next/bundle.crt,
// the same bytes as every staged member's ca.crt. Such a client must
// trust it before Reissue, from which members serve certificates of the
// new CA; it can trust the new CA alone once every member does (each port
// serves the new CA's certificates, which Finalize checks). The file goes
// with <out>/ca-next when the rotation ends.
func BundlePath(out string) string { return filepath.Join(NextCADir(out), "bundle.crt") }

// Stage starts (or continues) a CA rotation of the PKI directory out: it
// makes the new CA, once, in <out>/ca-next, writes the bundle old+new for
// other clients ([BundlePath]), and makes the ca.crt of every selected
// member that is still on the old CA that bundle. Each staged member must
// then be restarted, one at a time: etcd builds its trusted CA pools only
// when it starts (transport.TLSInfo.ServerConfig and ClientConfig).
//
// A CA an earlier rotation retired and [StatusLive] has not yet forgotten
// is forgotten first (backed up, removed; RotateResult.ForgotRetired):
// each member is restarted after this stage before Reissue goes ahead,
// which ends its trust in that CA as well.
func Stage(out string, opts RotateOptions) (*RotateResult, error) {
	const op = "rotate-ca stage"
	ready := func(st *RotationStatus) error {
		if err := st.refuseInconsistent(op); err != nil {
			return err
		}
		if st.Promoted {
			return &RefusedError{Op: op, Detail: "the last rotation's finalize was interrupted", Hint: "etcdpki rotate-ca finalize --dir " + out + " completes it"}
		}
		return nil
	}
	s, err := beginStep(context.Background(), out, op, opts, ready, expect{})
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	d, cs, st, members := s.d, s.cs, s.st, s.members
	res := &RotateResult{}
	if !st.InProgress && exists(RetiredCADir(out)) {
		res.ForgotRetired = st.Retired
		if err := forgetRetired(cs, out); err != nil {
			return res.done(d, cs, err)
		}
	}
	next, err := d.NextCA()
	if err != nil {
		return nil, err
	}
	if next == nil {
		key, err := pki.GenerateKey(d.Spec.Algorithm)
		if err != nil {
			return nil, err
		}
		if next, err = pki.NewCA(key, pki.CACommonName, time.Duration(d.Spec.CAValidity), cs.now); err != nil {
			return nil, err
		}
		keyPEM, err := pki.EncodeKey(next.Key)
		if err != nil {
			return nil, err
		}
		dir := NextCADir(out)
		if err := cs.apply(change{filepath.Join(dir, "ca.key"), keyPEM, layout.KeyPerm},
			change{filepath.Join(dir, "ca.crt"), pki.EncodeCert(next.Cert), layout.CertPerm}); err != nil {
			return nil, err
		}
		res.CreatedCA = true
		// Re-read: every member is judged against the new CA now.
		if st, err = d.status(); err != nil {
			return nil, err
		}
	}
	res.NewCA = pki.Fingerprint(next.Cert)
	// Old first: the first certificate of ca.crt stays the one ca.key
	// belongs to, which is how kubeadm reads a CA pair from disk.
	bundle := pki.EncodeCerts(st.old, next.Cert)
	if err := cs.apply(change1(BundlePath(out), bundle)); err != nil {
		return res.done(d, cs, err)
	}
	res.Bundle = BundlePath(out)
	for _, m := range members {
		if st.member(m.Name).Stage != StageOld {
			continue
		}
		if err := cs.apply(change1(d.CertPath(m.Name, pki.KindCA), bundle)); err != nil {
			return res.done(d, cs, err)
		}
		res.Changed = append(res.Changed, m.Name)
	}
	return res.done(d, cs, nil)
}

// Reissue signs the leaves of the selected members with the new CA, with
// new keys unless opts.ReuseKey. It refuses unless every member's ca.crt
// trusts the new CA (a member's new leaves are presented to all the
// others) and, unless opts.Offline, every running member accepts it on
// both ports; the refusal, a [*RefusedError], names each member that is
// not, one line each, with the restart it needs. No restart
// is needed afterwards: etcd reads its certificate and key on every
// handshake (the GetCertificate and GetClientCertificate callbacks of
// transport.TLSInfo call tlsutil.NewCert).
func Reissue(ctx context.Context, out string, opts RotateOptions) (*RotateResult, error) {
	const op = "rotate-ca reissue"
	ready := func(st *RotationStatus) error { return st.refuseBefore(op, StageStaged) }
	s, err := beginStep(ctx, out, op, opts, ready, reissueGate)
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	d, cs, st, members := s.d, s.cs, s.st, s.members
	next, err := d.NextCA()
	if err != nil {
		return nil, err
	}
	res := &RotateResult{NewCA: pki.Fingerprint(next.Cert), Unchecked: s.unchecked}
	var jobs []leafJob
	for _, m := range members {
		ms := st.member(m.Name)
		for _, kind := range ms.OldLeaves {
			j, err := d.readLeaf(op, m, kind, opts.ReuseKey)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, j)
		}
		if len(ms.OldLeaves) > 0 {
			res.Changed = append(res.Changed, m.Name)
		}
	}
	res.Issued, err = issueLeaves(cs, d.Spec, next, jobs, cs.now)
	return res.done(d, cs, err)
}

// Finalize makes the new CA the only one the selected members trust: their
// ca.crt becomes the new CA's certificate and, unless the CA is external,
// their ca.key its key (the old key is backed up first). It refuses while
// any member still has a leaf of the old CA: a finalized member refuses
// them once restarted, and, unless opts.Offline, while a running member
// does not serve the new CA's certificates on both ports (or does not
// accept them), naming each such member, one line each. Each finalized
// member must then be restarted, one at a time. When every member is
// finalized, the old CA is kept in <out>/ca-retired (see [RetiredCADir]),
// the new CA replaces <out>/ca (backed up) and <out>/ca-next is removed,
// which ends the rotation; [StatusLive] says which members still need
// their restart and forgets the old CA once none does.
//
// Finalize is idempotent: run again after a finalize that was killed, it
// completes it (from <out>/ca once the new CA is there, whatever is left of
// <out>/ca-next); run when no rotation is in progress, it changes nothing
// and returns a result with no Changed members and Promoted false, as long
// as every member trusts <out>/ca alone.
func Finalize(ctx context.Context, out string, opts RotateOptions) (*RotateResult, error) {
	const op = "rotate-ca finalize"
	ready := func(st *RotationStatus) error {
		if !st.InProgress {
			// Every member already trusts the one CA there is: the
			// state finalize makes holds (a finished rotation, run
			// again), unless a member fits no stage.
			return st.refuseInconsistent(op)
		}
		return st.refuseBefore(op, StageReissued)
	}
	s, err := beginStep(ctx, out, op, opts, ready, finalizeGate)
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	d, cs, st, members := s.d, s.cs, s.st, s.members
	if !st.InProgress {
		return (&RotateResult{}).done(d, cs, nil)
	}
	// The new CA's files, whose bytes are copied as they are: those of
	// <out>/ca-next or, once an interrupted finalize has made the new CA
	// <out>/ca (Promoted), those of <out>/ca, because what is left of
	// <out>/ca-next may then be a certificate without its key or a key
	// without its certificate (see removeNextCA).
	src := NextCADir(out)
	if st.Promoted {
		src = layout.CADir(out)
	}
	certPEM, err := layout.ReadFile(filepath.Join(src, "ca.crt"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := layout.ReadFile(filepath.Join(src, "ca.key"))
	if err != nil {
		return nil, err
	}
	if _, err := readCA(src); err != nil {
		return nil, err
	}
	res := &RotateResult{NewCA: st.New, Unchecked: s.unchecked}
	pairOf := func(certPath, keyPath string, withKey bool) []change {
		g := []change{{certPath, certPEM, layout.CertPerm}}
		if withKey {
			// The key goes first, as for leaves (see issueLeaves).
			g = append([]change{{keyPath, keyPEM, layout.KeyPerm}}, g...)
		}
		return g
	}
	for _, m := range members {
		if st.member(m.Name).Stage == StageFinalized {
			continue
		}
		if err := cs.apply(pairOf(d.CertPath(m.Name, pki.KindCA), d.KeyPath(m.Name, pki.KindCA), !d.Spec.ExternalCA)...); err != nil {
			return res.done(d, cs, err)
		}
		res.Changed = append(res.Changed, m.Name)
	}
	if st, err = d.status(); err != nil {
		return res.done(d, cs, err)
	}
	for _, m := range st.Members {
		if m.Stage != StageFinalized {
			return res.done(d, cs, nil)
		}
	}
	// Every member is finalized: the new CA becomes the cluster's CA, for
	// init, add-member and renew from now on. The old one is kept first,
	// for StatusLive's check of the restarts after finalize; once the new
	// CA is <out>/ca (st.Promoted, an interrupted run) it has been kept.
	caDir := layout.CADir(out)
	if !st.Promoted {
		if err := retire(cs, out); err != nil {
			return res.done(d, cs, err)
		}
	}
	if err := cs.apply(pairOf(filepath.Join(caDir, "ca.crt"), filepath.Join(caDir, "ca.key"), true)...); err != nil {
		return res.done(d, cs, err)
	}
	if err := removeNextCA(out); err != nil {
		return res.done(d, cs, err)
	}
	res.Promoted = true
	return res.done(d, cs, nil)
}

// nextCATombstone is the name <out>/ca-next takes while it is removed. A
// leading dot makes it no valid member name (spec.Validate).
const nextCATombstone = ".ca-next.removed"

// removeNextCA ends a rotation whose new CA is <out>/ca: it removes
// <out>/ca-next in one step (removeDir), because half a CA left there
// would still be seen as a rotation in progress.
func removeNextCA(out string) error { return removeDir(out, NextCADir(out), nextCATombstone) }

// step is a rotation step under way: the directory (locked and repaired),
// its change set, the status it started from, and the selected members;
// unchecked when opts.Offline skipped the live check.
type step struct {
	d         *Dir
	cs        *changeSet
	st        *RotationStatus
	members   []*spec.Member
	unlock    func()
	unchecked bool
}

// beginStep starts a rotation step: begin, the status, the step's own
// refusal (ready), the members selected and, unless opts.Offline, the
// check of the running members, each of which must show gate. Nothing is
// written before all of them pass.
func beginStep(ctx context.Context, out, op string, opts RotateOptions, ready func(*RotationStatus) error, gate expect) (*step, error) {
	d, cs, unlock, err := begin(out, op, opts.Now)
	if err != nil {
		return nil, err
	}
	s := &step{d: d, cs: cs, unlock: unlock}
	fail := func(err error) (*step, error) {
		unlock()
		return nil, err
	}
	if s.st, err = d.status(); err != nil {
		return fail(err)
	}
	if err := ready(s.st); err != nil {
		return fail(err)
	}
	if s.members, err = d.members(op, opts.Members); err != nil {
		return fail(err)
	}
	// With no rotation in progress there is nothing the running members
	// must be ready for (finalize run again has nothing to do).
	if !s.st.InProgress || gate == (expect{}) {
		return s, nil
	}
	if opts.Offline {
		s.unchecked = true
		return s, nil
	}
	running, err := d.runLive(ctx, s.st, opts.LiveTimeout, func(MemberStatus) expect { return gate })
	if err != nil {
		return fail(err)
	}
	header := "the running cluster is not ready for new-CA leaves"
	if gate.serveNew {
		header = "the running cluster is not ready to trust only the new CA"
	}
	if err := refuseLive(op, header, out, running); err != nil {
		return fail(err)
	}
	return s, nil
}

// done records what the change set did and the status after it.
func (r *RotateResult) done(d *Dir, cs *changeSet, err error) (*RotateResult, error) {
	r.Result = *cs.res
	if st, serr := d.status(); serr == nil {
		r.Status = st
	}
	return r, err
}

// member returns the status of member name.
func (s *RotationStatus) member(name string) *MemberStatus {
	for i := range s.Members {
		if s.Members[i].Name == name {
			return &s.Members[i]
		}
	}
	return &MemberStatus{Name: name, Stage: StageInconsistent}
}

// refuseInconsistent refuses any step while a member fits no stage.
func (s *RotationStatus) refuseInconsistent(op string) error {
	var lines []string
	for _, m := range s.Members {
		if m.Stage == StageInconsistent {
			lines = append(lines, m.Name+": "+m.Problem)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return &RefusedError{Op: op, Detail: "members in no consistent stage: " + strings.Join(lines, "; "),
		Hint: "etcdpki check " + s.Dir + " says what is wrong; backups of replaced files are in " + BackupsDir(s.Dir)}
}

// refuseBefore refuses a step while any member is short of stage min: a
// member that is not yet staged when leaves are reissued, or one that
// still has leaves of the old CA when the CA is finalized.
func (s *RotationStatus) refuseBefore(op string, min MemberStage) error {
	if !s.InProgress {
		return &RefusedError{Op: op, Detail: "no CA rotation in progress", Hint: "etcdpki rotate-ca stage --dir " + s.Dir + " starts one"}
	}
	if err := s.refuseInconsistent(op); err != nil {
		return err
	}
	order := []MemberStage{StageOld, StageStaged, StageReissuing, StageReissued, StageFinalized}
	var behind []string
	for _, m := range s.Members {
		if slices.Index(order, m.Stage) < slices.Index(order, min) {
			behind = append(behind, fmt.Sprintf("%s (%s)", m.Name, m.Stage))
		}
	}
	if len(behind) == 0 {
		return nil
	}
	switch min {
	case StageStaged:
		return &RefusedError{Op: op, Detail: "not every member trusts the new CA yet: " + strings.Join(behind, ", ") +
			"; a leaf of the new CA would be refused by them", Hint: "etcdpki rotate-ca stage --dir " + s.Dir + ", then restart each staged member, one at a time"}
	default:
		return &RefusedError{Op: op, Detail: "not every member's leaves are the new CA's yet: " + strings.Join(behind, ", ") +
			"; a member that trusts only the new CA refuses them", Hint: "etcdpki rotate-ca reissue --dir " + s.Dir + " first"}
	}
}
