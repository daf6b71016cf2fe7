package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MemberLive is one running member as a live check found it: its client
// and peer port (see [PortLive]), and whether it runs with what its files
// say for the step the rotation is at.
type MemberLive struct {
	Member string   `json:"member"`
	Client PortLive `json:"client"`
	Peer   PortLive `json:"peer"`
	// Unreachable is true when a port could not be reached: what the
	// member runs with is unknown.
	Unreachable bool `json:"unreachable,omitempty"`
	// Restart is true when the member still runs with the trust its
	// ca.crt had before its last stage or finalize and must be restarted:
	// etcd reads --trusted-ca-file and --peer-trusted-ca-file only when it
	// starts (transport.TLSInfo.ServerConfig and ClientConfig build the
	// pools once).
	Restart bool `json:"restart,omitempty"`
	// Problem says in one line what is wrong and what to do about it;
	// empty when the member is ready.
	Problem string `json:"problem,omitempty"`
}

// expect is what a running member must show a live check.
type expect struct {
	// acceptNew: accept a client certificate of the new CA, which a
	// member does once restarted after its stage.
	acceptNew bool
	// refuseOld: refuse one of the old CA, which a member does once
	// restarted after its finalize.
	refuseOld bool
	// serveNew: serve a certificate of the new CA, which a member does
	// from its next handshake once its reissued tree is on its node.
	serveNew bool
}

// The live gates of Reissue and Finalize. Reissue: a member's new leaves
// are presented to every other member, so every port must accept the new
// CA. Finalize: a finalized member, once restarted, refuses a certificate
// of the old CA, so every port must serve the new CA's too.
var (
	reissueGate  = expect{acceptNew: true}
	finalizeGate = expect{acceptNew: true, serveNew: true}
)

// expectFor is what member ms must show a live check for status, from its
// stage: nothing before its stage, the new CA accepted once staged, served
// too once reissued, and the old one refused once finalized (which, once
// the rotation is over, is every member's stage "old" while the retired CA
// is kept).
func (s *RotationStatus) expectFor(ms MemberStatus) expect {
	switch {
	case ms.Stage == StageInconsistent:
		return expect{}
	case !s.InProgress:
		if s.Retired == "" {
			return expect{}
		}
		return expect{acceptNew: true, serveNew: true, refuseOld: true}
	}
	switch ms.Stage {
	case StageStaged, StageReissuing:
		return reissueGate
	case StageReissued:
		return finalizeGate
	case StageFinalized:
		return expect{acceptNew: true, serveNew: true, refuseOld: true}
	}
	return expect{}
}

// runLive checks the running members (checkLive) and judges each against
// what want says it must show.
func (d *Dir) runLive(ctx context.Context, st *RotationStatus, timeout time.Duration, want func(MemberStatus) expect) ([]MemberLive, error) {
	ports, err := d.checkLive(ctx, st, timeout)
	if err != nil {
		return nil, err
	}
	var out []MemberLive
	// checkLive lists each member's client port, then its peer port.
	for i := 0; i+1 < len(ports); i += 2 {
		out = append(out, judge(ports[i], ports[i+1], want(*st.member(ports[i].Member)), st.InProgress))
	}
	return out, nil
}

// judge says whether a member whose ports showed client and peer is what e
// wants, and if not, in one line, what is wrong on which ports and what to
// do: a member's two ports merged, the reason said once. inProgress says
// whether a rotation is (see caWord).
func judge(client, peer PortLive, e expect, inProgress bool) MemberLive {
	ml := MemberLive{Member: client.Member, Client: client, Peer: peer}
	if ml.Member == "" {
		ml.Member = peer.Member
	}
	// A zero PortLive is a port whose address is unknown (another
	// member's client port, which only its own settings name): not
	// judged.
	ports := portsWhere([]PortLive{client, peer}, func(p PortLive) bool { return p.Port != "" })
	if down := portsWhere(ports, func(p PortLive) bool { return p.Error != "" }); len(down) > 0 {
		ml.Unreachable = true
		ml.Problem = "unreachable (" + reachSummary(down) + ")"
		return ml
	}
	old, new := caWord(inProgress, "old"), caWord(inProgress, "new")
	var why []string
	if bad := portsWhere(ports, func(p PortLive) bool { return e.acceptNew && !p.AcceptsNew }); len(bad) > 0 {
		ml.Restart = true
		what := "does not accept a client certificate of the " + new + " CA"
		if len(portsWhere(bad, func(p PortLive) bool { return p.AcceptsOld })) == len(bad) {
			what = "still trusts only the " + old + " CA"
		}
		why = append(why, fmt.Sprintf("%s %s — restart it (etcd reads %s only at start)", what, on(bad), caFlags(bad)))
	} else if bad := portsWhere(ports, func(p PortLive) bool { return e.refuseOld && p.AcceptsOld }); len(bad) > 0 {
		ml.Restart = true
		why = append(why, fmt.Sprintf("still accepts a client certificate of the %s CA %s — restart it, so that it trusts only the %s CA (etcd reads %s only at start)", old, on(bad), new, caFlags(bad)))
	}
	if bad := portsWhere(ports, func(p PortLive) bool { return e.serveNew && p.Served != "new" }); len(bad) > 0 {
		var served []string
		for _, label := range distinct(bad) {
			of := "the " + caWord(inProgress, label) + " CA"
			if label != "old" {
				of = label
			}
			served = append(served, fmt.Sprintf("a certificate of %s %s", of, on(portsWhere(bad, func(p PortLive) bool { return p.Served == label }))))
		}
		why = append(why, "serves "+strings.Join(served, " and ")+" — put its reissued tree on its node (no restart needed: etcd reads its certificate on every handshake)")
	}
	ml.Problem = strings.Join(why, "; ")
	return ml
}

func portsWhere(ports []PortLive, f func(PortLive) bool) []PortLive {
	var out []PortLive
	for _, p := range ports {
		if f(p) {
			out = append(out, p)
		}
	}
	return out
}

// distinct lists the Served labels of ports, each once, in order.
func distinct(ports []PortLive) []string {
	var out []string
	for _, p := range ports {
		if !slices.Contains(out, p.Served) {
			out = append(out, p.Served)
		}
	}
	return out
}

// on names the ports of one member: "on both ports", "on its peer port".
func on(ports []PortLive) string {
	if len(ports) == 2 {
		return "on both ports"
	}
	return "on its " + ports[0].Port + " port"
}

// caFlags names the etcd flags whose files the ports' trust pools were
// built from.
func caFlags(ports []PortLive) string {
	switch {
	case len(ports) == 2:
		return "--trusted-ca-file and --peer-trusted-ca-file"
	case ports[0].Port == "peer":
		return "--peer-trusted-ca-file"
	}
	return "--trusted-ca-file"
}

// reachSummary is each unreachable port's URL and error, the error said
// once when both ports failed alike.
func reachSummary(down []PortLive) string {
	if len(down) == 2 && down[0].Error == down[1].Error {
		return down[0].URL + ", " + down[1].URL + ": " + down[0].Error
	}
	var parts []string
	for _, p := range down {
		parts = append(parts, p.URL+": "+p.Error)
	}
	return strings.Join(parts, "; ")
}

// refuseLive is the refusal of a step whose live gate a member failed:
// header, then one line per member that is not ready.
func refuseLive(op, header, dir string, running []MemberLive) error {
	var lines []string
	for _, m := range running {
		if m.Problem != "" {
			lines = append(lines, "  "+m.Member+": "+m.Problem)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return &RefusedError{Op: op, Detail: header + ":\n" + strings.Join(lines, "\n"),
		Hint: "do what each line says, one member at a time, then run this again; 'etcdpki rotate-ca status --dir " + dir + " --live' shows what each port serves and accepts"}
}
