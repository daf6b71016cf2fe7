package lifecycle

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

// A CA rotation across member directories (node trees, in the layouts
// check reads) runs the same three steps as on init's output, on each
// node's own files, with each node keeping what the rotation needs in its
// state directory ([NodeStateDir]):
//
//	<state>/ca-next/{ca.crt,ca.key,bundle.crt}  the new CA, from stage until the node's finalize
//	<state>/ca-retired/{ca.crt,ca.key}          the old CA, from the node's finalize until
//	                                            status --live has seen the member refuse it
//
// Every node holds the same new CA: stage makes it once, or takes it from
// any node given that has one, and copies it to every node it stages, so
// that a rotation can be run on all the trees at once from a workstation
// or node by node with --local. The member's trusted CA file (kubeadm's
// etcd/ca.crt; one CA for both ports) goes old → old+new → new, its key
// old → new at finalize, and its leaves are re-signed by reissue.
// Distributions with separate peer and client CAs (k3s, RKE2, kops) have
// their own rotation and are refused.

// nodeRot is one member's files as a rotation step reads them.
type nodeRot struct {
	m *member.Member
	// caFiles are the distinct files that hold the member's trusted CA
	// (its --trusted-ca-file, --peer-trusted-ca-file and kube-apiserver's
	// --etcd-cafile when they are other files with the same CA).
	caFiles []*member.File
	keyPath string
	key     crypto.Signer
	state   string
	// next and retired are the CAs in the state directory, or nil.
	next, retired *pki.CA
	// cur is the CA of the trust file whose key is ca.key.
	cur *x509.Certificate
}

func nextDir(state string) string    { return filepath.Join(state, "ca-next") }
func retiredDir(state string) string { return filepath.Join(state, "ca-retired") }

// NodeBundlePath is the bundle old+new that a node's stage writes for the
// other etcd clients on that node.
func NodeBundlePath(in *member.Input) string {
	return filepath.Join(nextDir(NodeStateDir(in.Dir, in.Root)), "bundle.crt")
}

// readNodeRot reads what a rotation step needs of member m; op names the
// step for refusals.
func readNodeRot(op string, m *member.Member) (*nodeRot, error) {
	r := &nodeRot{m: m, state: NodeStateDir(m.Input.Dir, m.Input.Root)}
	refuse := func(format string, args ...any) (*nodeRot, error) {
		return nil, &RefusedError{Op: op, Detail: "member " + m.Name + " (" + m.Input.Dir + "): " + fmt.Sprintf(format, args...)}
	}
	if m.CA == nil || m.CA.Cert() == nil {
		return refuse("its trusted CA file cannot be read (etcdpki check says why)")
	}
	if m.PeerCA == nil || m.PeerCA.Cert() == nil {
		return refuse("its peer trusted CA file cannot be read (etcdpki check says why)")
	}
	// The key the member loader read next to the CA file (inside the
	// member's tree: member.Load refuses links that lead out of it).
	r.keyPath, r.key = m.CA.KeyPath, m.CA.Key
	if r.key == nil {
		why := "it is not there"
		if m.CA.KeyErr != nil {
			why = unwrapPath(m.CA.KeyErr).Error()
		}
		return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s: the CA key next to %s cannot be read (%s): rotation signs on the node", m.Name, m.CA.CertPath, why),
			Hint: "run it where the CA key is (kubeadm keeps etcd/ca.key on every control-plane node)"}
	}
	key := r.key
	var err error
	for _, c := range m.CA.Certs {
		if pki.KeyMatches(c.PublicKey, key) {
			r.cur = c
		}
	}
	if r.cur == nil {
		return refuse("%s is the key of none of the CAs in %s (an interrupted write: run the last step again)", r.keyPath, m.CA.CertPath)
	}
	if exists(filepath.Join(nextDir(r.state), "ca.crt")) {
		if r.next, err = readCA(nextDir(r.state)); err != nil {
			return nil, err
		}
	}
	if exists(filepath.Join(retiredDir(r.state), "ca.crt")) {
		if r.retired, err = readCA(retiredDir(r.state)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func orEmptyHint(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// stage judges the node's files against the rotation's new CA next (nil
// when none is under way): the same stages as init's output.
func (r *nodeRot) stage(next *pki.CA) MemberStatus {
	ms := MemberStatus{Name: r.m.Name}
	trustsNext := false
	for _, c := range r.m.CA.Certs {
		switch {
		case next != nil && bytes.Equal(c.Raw, next.Cert.Raw):
			ms.Trusts = append(ms.Trusts, "new")
			trustsNext = true
		case bytes.Equal(c.Raw, r.cur.Raw):
			ms.Trusts = append(ms.Trusts, "old")
		default:
			ms.Trusts = append(ms.Trusts, fmt.Sprintf("%q (%s)", c.Subject.CommonName, pki.Fingerprint(c)[:11]))
		}
	}
	old := r.cur
	if next != nil && bytes.Equal(r.cur.Raw, next.Cert.Raw) {
		old = nil // finalized: ca.key is the new CA's
		if r.retired != nil {
			old = r.retired.Cert
		}
	}
	for _, l := range uniqueLeaves(r.m) {
		c := l.file.Cert()
		switch {
		case c == nil:
			ms.OtherLeaves = append(ms.OtherLeaves, l.kinds[0])
		case next != nil && pki.SignedBy(c, next.Cert) == nil:
			ms.NewLeaves = append(ms.NewLeaves, l.kinds[0])
		case old != nil && pki.SignedBy(c, old) == nil:
			ms.OldLeaves = append(ms.OldLeaves, l.kinds[0])
		default:
			ms.OtherLeaves = append(ms.OtherLeaves, l.kinds[0])
		}
	}
	bad := func(format string, args ...any) MemberStatus {
		ms.Stage, ms.Problem = StageInconsistent, fmt.Sprintf(format, args...)
		return ms
	}
	switch {
	case len(ms.OtherLeaves) > 0:
		return bad("leaves signed by neither CA, or unreadable: %s (etcdpki check %s says more)", joinKinds(ms.OtherLeaves), r.m.Input.Dir)
	case next == nil || !trustsNext:
		if len(r.m.CA.Certs) != 1 {
			return bad("%s holds %d CAs and no rotation is in progress on it", r.m.CA.CertPath, len(r.m.CA.Certs))
		}
		ms.Stage = StageOld
	case len(r.m.CA.Certs) == 1:
		if len(ms.OldLeaves) > 0 {
			return bad("trusts only the new CA but still has leaves of the old one: %s", joinKinds(ms.OldLeaves))
		}
		ms.Stage = StageFinalized
	case len(r.m.CA.Certs) == 2:
		switch {
		case len(ms.NewLeaves) == 0:
			ms.Stage = StageStaged
		case len(ms.OldLeaves) == 0:
			ms.Stage = StageReissued
		default:
			ms.Stage = StageReissuing
		}
	default:
		return bad("%s trusts a CA that is neither the old nor the new one", r.m.CA.CertPath)
	}
	return ms
}

// uniqueLeaves are the member's leaf files, each once.
func uniqueLeaves(m *member.Member) []nodeLeaf {
	leaves, _ := selectNodeLeaves("", m, nil)
	return leaves
}

// NodeRotateResult says what a rotation step did to member directories.
type NodeRotateResult struct {
	// Members are the step's results per member, in the order given.
	Members []NodeMemberResult
	// NewCA is the new CA's fingerprint; CreatedCA is true when this
	// stage made it.
	NewCA     string
	CreatedCA bool
	// Unchecked is true when Offline skipped the live check.
	Unchecked bool
	// Status is where the rotation stands after the step.
	Status *NodeRotationStatus
}

// NodeMemberResult is one member's part of a step.
type NodeMemberResult struct {
	Member string
	Result
	// Changed is true when the step moved the member on.
	Changed bool
	Issued  []Issued
	// Bundle is the bundle old+new that stage wrote for the node's other
	// etcd clients.
	Bundle string
}

// NodeRotationStatus is where a rotation across member directories
// stands, from the files and, after [StatusNodes] with live set, from the
// running members.
type NodeRotationStatus struct {
	InProgress bool           `json:"inProgress"`
	New        string         `json:"new,omitempty"`
	Members    []MemberStatus `json:"members"`
	// Retired lists the members that still keep the CA their finalize
	// retired (until a live check sees them refuse it).
	Retired     []string     `json:"retired,omitempty"`
	Running     []MemberLive `json:"running,omitempty"`
	Restart     []string     `json:"restart,omitempty"`
	Unreachable []string     `json:"unreachable,omitempty"`
	// Forgot lists the members whose retired CA a live check forgot.
	Forgot []string `json:"forgot,omitempty"`
	Next   Step     `json:"next"`
	Advice string   `json:"advice"`
}

// readNodes reads every member's rotation files and the rotation's new CA,
// which every node that has one must agree on.
func readNodes(op string, ms []*member.Member) ([]*nodeRot, *pki.CA, error) {
	var rs []*nodeRot
	var next *pki.CA
	var nextOwner, nextPath string // who holds next, for the refusal
	for _, m := range ms {
		r, err := readNodeRot(op, m)
		if err != nil {
			return nil, nil, err
		}
		if r.next != nil {
			if next != nil && !bytes.Equal(next.Cert.Raw, r.next.Cert.Raw) {
				return nil, nil, &RefusedError{Op: op, Detail: fmt.Sprintf("members disagree on the new CA: %s's %s is %s, %s's %s is %s", m.Name, nextDir(r.state), pki.Fingerprint(r.next.Cert)[:11], nextOwner, nextPath, pki.Fingerprint(next.Cert)[:11]),
					Hint: "copy one staged node's /var/lib/etcdpki/ca-next over the other's, or start again with rotate-ca stage on all the trees at once"}
			}
			if next == nil {
				nextOwner, nextPath = m.Name, nextDir(r.state)
			}
			next = r.next
		}
		rs = append(rs, r)
	}
	for _, r := range rs {
		if err := r.pickCAFiles(op, next); err != nil {
			return nil, nil, err
		}
	}
	return rs, next, nil
}

// pickCAFiles finds the files that hold the member's trusted CA: its
// --trusted-ca-file, and by path its --peer-trusted-ca-file and
// kube-apiserver's --etcd-cafile when they are other files. What they hold
// is not compared with --trusted-ca-file's, which a step killed between
// two of them leaves at different stages: each must hold only the CAs of
// the rotation (the current, the new, the retired one) and is brought to
// the step's content by the next run. A peer CA file holding any other CA
// is a second CA, which rotate-ca on member directories does not rotate;
// an --etcd-cafile holding another CA is kube-apiserver's own business and
// left alone.
func (r *nodeRot) pickCAFiles(op string, next *pki.CA) error {
	m := r.m
	ours := func(f *member.File) bool {
		for _, c := range f.Certs {
			known := bytes.Equal(c.Raw, r.cur.Raw) || slices.ContainsFunc(m.CA.Certs, c.Equal) ||
				(next != nil && c.Equal(next.Cert)) || (r.retired != nil && c.Equal(r.retired.Cert))
			if !known {
				return false
			}
		}
		return len(f.Certs) > 0
	}
	r.caFiles = []*member.File{m.CA}
	if m.PeerCA.CertPath != m.CA.CertPath {
		if !ours(m.PeerCA) {
			return &RefusedError{Op: op, Detail: fmt.Sprintf("member %s (%s): its peer and client ports trust different CAs (%s); rotate-ca on member directories rotates one CA for both ports", m.Name, m.Input.Dir, m.Distribution().Title),
				Hint: "use the distribution's own CA rotation" + orEmptyHint(m.Distribution().Renew)}
		}
		r.caFiles = append(r.caFiles, m.PeerCA)
	}
	if f := m.APIServerCA; f != nil && f.CertPath != m.CA.CertPath && f.CertPath != m.PeerCA.CertPath && ours(f) {
		r.caFiles = append(r.caFiles, f)
	}
	return nil
}

func caPaths(fs []*member.File) string {
	var p []string
	for _, f := range fs {
		p = append(p, f.CertPath)
	}
	return strings.Join(p, ", ")
}

// caFilesAt reports whether every CA file of the member holds exactly
// data.
func (r *nodeRot) caFilesAt(data []byte) bool {
	for _, f := range r.caFiles {
		if b, err := layout.ReadFile(f.CertPath); err != nil || !bytes.Equal(b, data) {
			return false
		}
	}
	return true
}

func nodeStatus(rs []*nodeRot, next *pki.CA) *NodeRotationStatus {
	st := &NodeRotationStatus{InProgress: next != nil}
	if next != nil {
		st.New = pki.Fingerprint(next.Cert)
	}
	for _, r := range rs {
		st.Members = append(st.Members, r.stage(next))
		if r.retired != nil && !bytes.Equal(r.retired.Cert.Raw, r.cur.Raw) {
			st.Retired = append(st.Retired, r.m.Name)
		}
	}
	st.Next, st.Advice = st.next()
	return st
}

func (s *NodeRotationStatus) next() (Step, string) {
	by := map[MemberStage][]string{}
	for _, m := range s.Members {
		by[m.Stage] = append(by[m.Stage], m.Name)
	}
	list := func(st ...MemberStage) string {
		var n []string
		for _, x := range st {
			n = append(n, by[x]...)
		}
		return strings.Join(n, ", ")
	}
	restart := ""
	if len(s.Restart)+len(s.Unreachable) > 0 {
		restart = "first restart (or start) " + strings.Join(slices.Concat(s.Restart, s.Unreachable), ", ") + ", one at a time; then "
	}
	switch {
	case len(by[StageInconsistent]) > 0:
		return StepFix, "members in no consistent stage: " + list(StageInconsistent)
	case !s.InProgress && len(s.Retired) > 0:
		if s.Running == nil {
			return StepRestart, "the rotation is complete in the files; nothing has confirmed that " + strings.Join(s.Retired, ", ") + " were restarted since their finalize: restart any that was not, then 'rotate-ca status --live' forgets the retired CA"
		}
		return StepRestart, restart + "'rotate-ca status --live' again forgets the retired CA"
	case !s.InProgress:
		return StepStage, "no CA rotation in progress; 'rotate-ca stage' starts one"
	case len(by[StageOld]) > 0 && len(list(StageStaged, StageReissuing, StageReissued, StageFinalized)) == 0 && len(by[StageOld]) == len(s.Members):
		return StepStage, "stage " + list(StageOld)
	case len(by[StageOld]) > 0:
		return StepStage, "stage " + list(StageOld) + ", then restart each staged member (etcd and kube-apiserver), one at a time"
	case len(list(StageStaged, StageReissuing)) > 0:
		return StepReissue, restart + "reissue " + list(StageStaged, StageReissuing) + " (refused until every member runs trusting the new CA)"
	case len(by[StageReissued]) > 0:
		return StepFinalize, restart + "finalize " + list(StageReissued) + " and restart each, one at a time, after its finalize"
	}
	return StepRestart, restart + "every member given is finalized; restart each, one at a time, then 'rotate-ca status --live' confirms and forgets the retired CA"
}

// StageNodes starts (or continues) a CA rotation across member
// directories: it makes the new CA once (of the old CA's key type and
// name, valid ten years), or takes the one a node given already keeps,
// copies it to every node's state directory, and makes each member's
// trusted CA file(s) the bundle old+new, also written to the node's
// <state>/ca-next/bundle.crt for its other etcd clients. Each staged member
// must then be restarted, one at a time (etcd builds its CA pools at
// start). The error is a *RefusedError when a member cannot take part
// (no CA key, two CAs, inconsistent files), with nothing written.
func StageNodes(ms []*member.Member, opts RotateOptions) (*NodeRotateResult, error) {
	const op = "rotate-ca stage"
	rs, next, err := readNodes(op, ms)
	if err != nil {
		return nil, err
	}
	st := nodeStatus(rs, next)
	if err := st.refuseInconsistent(op); err != nil {
		return nil, err
	}
	res := &NodeRotateResult{}
	if next == nil {
		// A new CA is made once, for every member: stage run on some of
		// them alone would give the others another one.
		if missing := notGiven(rs); len(missing) > 0 {
			return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("the members' --initial-cluster names %s, whose trees are not given: the new CA is made once for every member", strings.Join(missing, ", ")),
				Hint: "give every member's tree (copies or mounts) to the first stage; to go on node by node, copy /var/lib/etcdpki/ca-next from a staged node to the next node first"}
		}
		cur := rs[0].cur
		for _, r := range rs[1:] {
			if !bytes.Equal(r.cur.Raw, cur.Raw) {
				return nil, &RefusedError{Op: op, Detail: fmt.Sprintf("members %s (%s) and %s (%s) have different CAs: a rotation moves members of one CA to a new one", rs[0].m.Name, rs[0].m.CA.CertPath, r.m.Name, r.m.CA.CertPath),
					Hint: "etcdpki check with the same directories says which is the odd one; etcdpki replace-member gives a member the cluster's CA first"}
			}
		}
		key, err := pki.GenerateKey(algorithmOf(cur.PublicKey))
		if err != nil {
			return nil, err
		}
		now := opts.Now
		if now.IsZero() {
			now = time.Now()
		}
		// pki.NewCA's defaults: etcd-ca's name when the old CA has none,
		// ten years.
		if next, err = pki.NewCA(key, cur.Subject.CommonName, 0, now); err != nil {
			return nil, err
		}
		res.CreatedCA = true
	}
	res.NewCA = pki.Fingerprint(next.Cert)
	keyPEM, err := pki.EncodeKey(next.Key)
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		mr := NodeMemberResult{Member: r.m.Name}
		if stage := st.Members[i].Stage; stage != StageOld && stage != StageStaged {
			// Past its stage: a finalized member must not get ca-next
			// back (its rotation would never end), and the others' files
			// are the new CA's already.
			res.Members = append(res.Members, mr)
			continue
		}
		err := r.run(op, opts.Now, &mr, func(cs *changeSet) error {
			nd := nextDir(r.state)
			if err := cs.apply(change{filepath.Join(nd, "ca.key"), keyPEM, layout.KeyPerm},
				change{filepath.Join(nd, "ca.crt"), pki.EncodeCert(next.Cert), layout.CertPerm}); err != nil {
				return err
			}
			bundle := pki.EncodeCerts(r.cur, next.Cert)
			mr.Bundle = filepath.Join(nd, "bundle.crt")
			if err := cs.apply(change{mr.Bundle, bundle, layout.CertPerm}); err != nil {
				return err
			}
			// Every CA file, also of a member staged already: a stage
			// killed between two of them is completed here.
			mr.Changed = st.Members[i].Stage == StageOld || !r.caFilesAt(bundle)
			for _, f := range r.caFiles {
				if err := cs.apply(change{f.CertPath, bundle, layout.CertPerm}); err != nil {
					return err
				}
			}
			return nil
		})
		res.Members = append(res.Members, mr)
		if err != nil {
			return res, err
		}
	}
	return res.done(ms), nil
}

// notGiven lists the members of the trees' --initial-cluster that are
// not among them.
func notGiven(rs []*nodeRot) []string {
	given := map[string]bool{}
	for _, r := range rs {
		given[r.m.Name] = true
	}
	var out []string
	for _, e := range initialMembers(rs) {
		if !given[e.Name] && !slices.Contains(out, e.Name) {
			out = append(out, e.Name)
		}
	}
	return out
}

// initialMembers are the entries of every member's --initial-cluster, in
// order; a value that does not parse (check reports it) adds none.
func initialMembers(rs []*nodeRot) []member.InitialMember {
	var out []member.InitialMember
	for _, r := range rs {
		if r.m.Settings == nil || r.m.Settings.InitialCluster == "" {
			continue
		}
		if ms, err := member.ParseInitialCluster(r.m.Settings.InitialCluster); err == nil {
			out = append(out, ms...)
		}
	}
	return out
}

// run runs one member's part of a step under its node's lock, with its
// change set; what it did goes into mr.
func (r *nodeRot) run(op string, now time.Time, mr *NodeMemberResult, f func(*changeSet) error) error {
	in := r.m.Input
	cs, unlock, err := beginNode(in.Dir, in.Root, op, now)
	if err != nil {
		return err
	}
	defer unlock()
	if err := cs.repair(append(nodePairs(r.m), layout.Pair{Cert: filepath.Join(nextDir(r.state), "ca.crt"), Key: filepath.Join(nextDir(r.state), "ca.key")},
		layout.Pair{Cert: filepath.Join(retiredDir(r.state), "ca.crt"), Key: filepath.Join(retiredDir(r.state), "ca.key")}), nil); err != nil {
		return err
	}
	err = f(cs)
	mr.Result = *cs.res
	return err
}

// done reads the members again for the status after a step.
func (res *NodeRotateResult) done(ms []*member.Member) *NodeRotateResult {
	fresh := reload(ms)
	if rs, next, err := readNodes("rotate-ca status", fresh); err == nil {
		res.Status = nodeStatus(rs, next)
	}
	return res
}

// reload reads each member's files again.
func reload(ms []*member.Member) []*member.Member {
	var out []*member.Member
	for _, m := range ms {
		in := m.Input
		out = append(out, member.Load(&member.Input{Dir: in.Dir, Root: in.Root, Distribution: in.Distribution, Spec: in.Spec, SpecMember: in.SpecMember, SettingsFile: in.SettingsFile}))
	}
	return out
}

// ReissueNodes signs each given member's leaves with the new CA (renew's
// names: the member's settings merged with the old certificate's), new
// keys unless opts.ReuseKey. It refuses unless every member given trusts
// the new CA in its files and, unless opts.Offline, every running member
// the trees know of (theirs and their --initial-cluster's) accepts a
// client certificate of the new CA, i.e. was restarted since its stage.
func ReissueNodes(ctx context.Context, ms []*member.Member, opts RotateOptions) (*NodeRotateResult, error) {
	const op = "rotate-ca reissue"
	rs, next, st, res, err := beginNodeStep(ctx, op, ms, opts, StageStaged, reissueGate, "the running cluster is not ready for new-CA leaves")
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		mr := NodeMemberResult{Member: r.m.Name}
		if s := st.Members[i].Stage; s == StageStaged || s == StageReissuing {
			rr, err := RenewMember(r.m, RenewOptions{ReuseKey: opts.ReuseKey, Now: opts.Now, signer: next, op: op})
			if rr != nil {
				mr.Result, mr.Issued, mr.Changed = rr.Result, rr.Issued, len(rr.Issued) > 0
			}
			if err != nil {
				res.Members = append(res.Members, mr)
				return res, err
			}
		}
		res.Members = append(res.Members, mr)
	}
	return res.done(ms), nil
}

// FinalizeNodes makes the new CA the only one each given member trusts: its
// trusted CA file(s) the new CA's certificate, ca.key the new CA's key
// (the old pair kept in <state>/ca-retired and backed up), and the node's
// <state>/ca-next removed. It refuses while a member given still has a
// leaf of the old CA and, unless opts.Offline, while a running member does
// not serve a certificate of the new CA. Each finalized member must then
// be restarted, one at a time.
func FinalizeNodes(ctx context.Context, ms []*member.Member, opts RotateOptions) (*NodeRotateResult, error) {
	const op = "rotate-ca finalize"
	rs, next, st, res, err := beginNodeStep(ctx, op, ms, opts, StageReissued, finalizeGate, "the running cluster is not ready for finalize")
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.EncodeKey(next.Key)
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		mr := NodeMemberResult{Member: r.m.Name}
		stage := st.Members[i].Stage
		// A finalized member that still has ca-next (a finalize killed
		// before its end) is completed: its other CA files, then ca-next
		// removed.
		if stage == StageReissued || (stage == StageFinalized && (r.next != nil || !r.caFilesAt(pki.EncodeCert(next.Cert)))) {
			err := r.run(op, opts.Now, &mr, func(cs *changeSet) error {
				oldKey, err := layout.ReadFile(r.keyPath)
				if err != nil {
					return err
				}
				// ca-retired is written before ca.key changes; a run killed
				// after that has ca.key the new CA's, and kept the old one.
				if !bytes.Equal(r.cur.Raw, next.Cert.Raw) {
					rd := retiredDir(r.state)
					if err := cs.apply(change{filepath.Join(rd, "ca.key"), oldKey, layout.KeyPerm},
						change{filepath.Join(rd, "ca.crt"), pki.EncodeCert(r.cur), layout.CertPerm}); err != nil {
						return err
					}
				}
				// The key first: a run killed between the two leaves the
				// certificate's temporary file, which repair completes.
				group := []change{{r.keyPath, keyPEM, layout.KeyPerm}, {r.m.CA.CertPath, pki.EncodeCert(next.Cert), layout.CertPerm}}
				if err := cs.apply(group...); err != nil {
					return err
				}
				for _, f := range r.caFiles[1:] {
					if err := cs.apply(change{f.CertPath, pki.EncodeCert(next.Cert), layout.CertPerm}); err != nil {
						return err
					}
				}
				mr.Changed = stage == StageReissued
				return removeDir(r.state, nextDir(r.state), nextCATombstone)
			})
			if err != nil {
				res.Members = append(res.Members, mr)
				return res, err
			}
		}
		res.Members = append(res.Members, mr)
	}
	return res.done(ms), nil
}

// beginNodeStep reads the members, refuses while any is short of stage min
// and, unless opts.Offline, checks the running members against gate.
func beginNodeStep(ctx context.Context, op string, ms []*member.Member, opts RotateOptions, min MemberStage, gate expect, header string) ([]*nodeRot, *pki.CA, *NodeRotationStatus, *NodeRotateResult, error) {
	rs, next, err := readNodes(op, ms)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	st := nodeStatus(rs, next)
	if err := st.refuseInconsistent(op); err != nil {
		return nil, nil, nil, nil, err
	}
	if next == nil {
		return nil, nil, nil, nil, &RefusedError{Op: op, Detail: "no CA rotation in progress on these members", Hint: "etcdpki rotate-ca stage with the same directories starts one"}
	}
	order := []MemberStage{StageOld, StageStaged, StageReissuing, StageReissued, StageFinalized}
	var behind []string
	for _, m := range st.Members {
		if slices.Index(order, m.Stage) < slices.Index(order, min) {
			behind = append(behind, fmt.Sprintf("%s (%s)", m.Name, m.Stage))
		}
	}
	if len(behind) > 0 {
		what := "not every member trusts the new CA yet: " + strings.Join(behind, ", ") + "; a leaf of the new CA would be refused by them"
		hint := "etcdpki rotate-ca stage on them, then restart each, one at a time"
		if min == StageReissued {
			what = "not every member's leaves are the new CA's yet: " + strings.Join(behind, ", ") + "; a member that trusts only the new CA refuses them"
			hint = "etcdpki rotate-ca reissue on them first"
		}
		return nil, nil, nil, nil, &RefusedError{Op: op, Detail: what, Hint: hint}
	}
	for i, r := range rs {
		if stage := st.Members[i].Stage; stage == StageFinalized || stage == StageOld {
			continue
		}
		if data, err := layout.ReadFile(r.m.CA.CertPath); err != nil || !r.caFilesAt(data) {
			return nil, nil, nil, nil, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s: its trusted CA files differ (%s): a stage was interrupted between them", r.m.Name, caPaths(r.caFiles)),
				Hint: "etcdpki rotate-ca stage with the same directories completes it; then restart the member"}
		}
	}
	res := &NodeRotateResult{NewCA: pki.Fingerprint(next.Cert)}
	if opts.Offline {
		res.Unchecked = true
		return rs, next, st, res, nil
	}
	running, err := liveNodes(ctx, rs, next, opts.LiveTimeout, func(string) expect { return gate })
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var lines []string
	for _, m := range running {
		if m.Problem != "" {
			lines = append(lines, "  "+m.Member+": "+m.Problem)
		}
	}
	if len(lines) > 0 {
		return nil, nil, nil, nil, &RefusedError{Op: op, Detail: header + ":\n" + strings.Join(lines, "\n"),
			Hint: "do what each line says, one member at a time, then run this again; 'etcdpki rotate-ca status --live' with the same directories shows each member"}
	}
	return rs, next, st, res, nil
}

// refuseInconsistent refuses a step while a member fits no stage.
func (s *NodeRotationStatus) refuseInconsistent(op string) error {
	var lines []string
	for _, m := range s.Members {
		if m.Stage == StageInconsistent {
			lines = append(lines, "  "+m.Name+": "+m.Problem)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return &RefusedError{Op: op, Detail: "members in no consistent stage:\n" + strings.Join(lines, "\n"), Hint: "etcdpki check with the same directories says what is wrong"}
}

// liveNodes checks every running member the trees know of: each given
// member's client and peer URL (from its settings), and the peer URL of
// every other member of their --initial-cluster. The client certificates
// are made for the occasion from the old CA (ca.key, or ca-retired after
// finalize) and the new one, held in memory only.
func liveNodes(ctx context.Context, rs []*nodeRot, next *pki.CA, timeout time.Duration, want func(member string) expect) ([]MemberLive, error) {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	// The old CA: a member's ca.key until its finalize, its ca-retired
	// after.
	var oldCA *pki.CA
	for _, r := range rs {
		finalized := next == nil || bytes.Equal(r.cur.Raw, next.Cert.Raw)
		switch {
		case oldCA != nil:
		case finalized && r.retired != nil:
			oldCA = r.retired
		case !finalized:
			oldCA = &pki.CA{Cert: r.cur, Key: r.key}
		}
	}
	newCA := next
	if newCA == nil { // after the rotation: the current CA is the new one
		newCA = &pki.CA{Cert: rs[0].cur, Key: rs[0].key}
	}
	type pair struct{ client, peer PortLive }
	var names []string
	ports := map[string]*pair{}
	add := func(name string, p PortLive) {
		if ports[name] == nil {
			ports[name] = &pair{}
			names = append(names, name)
		}
		pp := ports[name]
		if p.Port == "client" && pp.client.URL == "" {
			pp.client = p
		} else if p.Port == "peer" && pp.peer.URL == "" {
			pp.peer = p
		}
	}
	for _, r := range rs {
		s := r.m.Settings
		if s == nil {
			continue
		}
		if u := first(s.AdvertiseClientURLs); u != "" {
			add(r.m.Name, PortLive{Member: r.m.Name, Port: "client", URL: u})
		}
		if u := first(s.AdvertisePeerURLs); u != "" {
			add(r.m.Name, PortLive{Member: r.m.Name, Port: "peer", URL: u})
		}
	}
	for _, e := range initialMembers(rs) {
		if _, err := url.Parse(e.URLs[0]); err == nil {
			add(e.Name, PortLive{Member: e.Name, Port: "peer", URL: e.URLs[0]})
		}
	}
	var flat []PortLive
	for _, n := range names {
		flat = append(flat, ports[n].client, ports[n].peer)
	}
	if err := dialPorts(ctx, flat, oldCA, newCA, timeout); err != nil {
		return nil, err
	}
	var out []MemberLive
	for i, n := range names {
		out = append(out, judge(flat[2*i], flat[2*i+1], want(n), next != nil))
	}
	return out, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// StatusNodes says where a rotation across member directories stands,
// from the files; with live, from the running members too (each judged by
// its stage, as [StatusLive] does), and once the rotation is over and a
// member refuses the retired CA on every port, its node's <state>/ca-retired
// is removed (backed up) and the member named in Forgot.
func StatusNodes(ctx context.Context, ms []*member.Member, live bool, timeout time.Duration) (*NodeRotationStatus, error) {
	const op = "rotate-ca status"
	rs, next, err := readNodes(op, ms)
	if err != nil {
		return nil, err
	}
	st := nodeStatus(rs, next)
	if !live || (next == nil && len(st.Retired) == 0) {
		return st, nil
	}
	stage := map[string]MemberStage{}
	for _, m := range st.Members {
		stage[m.Name] = m.Stage
	}
	want := func(name string) expect {
		s, given := stage[name]
		switch {
		case next == nil:
			return expect{acceptNew: true, serveNew: true, refuseOld: true}
		case !given:
			return expect{} // a member not given: only reachability
		case s == StageStaged || s == StageReissuing:
			return reissueGate
		case s == StageReissued:
			return finalizeGate
		case s == StageFinalized:
			return expect{acceptNew: true, serveNew: true, refuseOld: true}
		}
		return expect{}
	}
	running, err := liveNodes(ctx, rs, next, timeout, want)
	if err != nil {
		return nil, err
	}
	st.Running = running
	ready := map[string]bool{}
	for _, m := range running {
		switch {
		case m.Unreachable:
			st.Unreachable = append(st.Unreachable, m.Member)
		case m.Restart:
			st.Restart = append(st.Restart, m.Member)
		default:
			ready[m.Member] = m.Problem == ""
		}
	}
	if next == nil {
		for _, r := range rs {
			if r.retired == nil || !ready[r.m.Name] {
				continue
			}
			var mr NodeMemberResult
			err := r.run(op, time.Time{}, &mr, func(cs *changeSet) error {
				return forgetCA(cs, r.state, retiredDir(r.state), retiredCATombstone)
			})
			if err != nil {
				return nil, err
			}
			st.Forgot = append(st.Forgot, r.m.Name)
			st.Retired = slices.DeleteFunc(st.Retired, func(n string) bool { return n == r.m.Name })
		}
	}
	st.Next, st.Advice = st.next()
	if next == nil && len(st.Retired) == 0 && len(st.Forgot) > 0 {
		st.Next, st.Advice = StepStage, "every member refuses the retired CA now: the rotation is complete, and the retired CA is forgotten on "+strings.Join(st.Forgot, ", ")
	}
	return st, nil
}
