package lifecycle

import (
	"errors"
	"strings"
	"testing"
)

// TestJudge: a member's two ports merged into one line that states the
// reason once and names the restart, or the copy, it needs.
func TestJudge(t *testing.T) {
	const (
		client = "https://10.0.0.13:2379"
		peer   = "https://10.0.0.13:2380"
	)
	port := func(name string, served string, old, new bool, err string) PortLive {
		u := client
		if name == "peer" {
			u = peer
		}
		return PortLive{Member: "cp3", Port: name, URL: u, Served: served, AcceptsOld: old, AcceptsNew: new, Error: err}
	}
	for _, tt := range []struct {
		name          string
		client, peer  PortLive
		want          expect
		problem       string
		restart, down bool
	}{
		{"staged, not restarted", port("client", "old", true, false, ""), port("peer", "old", true, false, ""), reissueGate,
			"still trusts only the old CA on both ports — restart it (etcd reads --trusted-ca-file and --peer-trusted-ca-file only at start)", true, false},
		{"staged, restarted", port("client", "old", true, true, ""), port("peer", "old", true, true, ""), reissueGate, "", false, false},
		{"one port only", port("client", "old", true, true, ""), port("peer", "old", true, false, ""), reissueGate,
			"still trusts only the old CA on its peer port — restart it (etcd reads --peer-trusted-ca-file only at start)", true, false},
		{"neither CA", port("client", "old", false, false, ""), port("peer", "old", false, false, ""), reissueGate,
			"does not accept a client certificate of the new CA on both ports — restart it (etcd reads --trusted-ca-file and --peer-trusted-ca-file only at start)", true, false},
		{"both down alike", port("client", "", false, false, "connection refused"), port("peer", "", false, false, "connection refused"), reissueGate,
			"unreachable (" + client + ", " + peer + ": connection refused)", false, true},
		{"one down", port("client", "old", true, true, ""), port("peer", "", false, false, "no answer within 2s"), reissueGate,
			"unreachable (" + peer + ": no answer within 2s)", false, true},
		{"down, nothing expected", port("client", "", false, false, "connection refused"), port("peer", "", false, false, "no route to host"), expect{},
			"unreachable (" + client + ": connection refused; " + peer + ": no route to host)", false, true},
		{"reissued tree not on the node", port("client", "old", true, true, ""), port("peer", "old", true, true, ""), finalizeGate,
			"serves a certificate of the old CA on both ports — put its reissued tree on its node (no restart needed: etcd reads its certificate on every handshake)", false, false},
		{"ready to finalize", port("client", "new", true, true, ""), port("peer", "new", true, true, ""), finalizeGate, "", false, false},
		{"finalized, not restarted", port("client", "new", true, true, ""), port("peer", "new", true, true, ""), expect{acceptNew: true, serveNew: true, refuseOld: true},
			"still accepts a client certificate of the old CA on both ports — restart it, so that it trusts only the new CA (etcd reads --trusted-ca-file and --peer-trusted-ca-file only at start)", true, false},
		{"finalized, restarted", port("client", "new", false, true, ""), port("peer", "new", false, true, ""), expect{acceptNew: true, serveNew: true, refuseOld: true}, "", false, false},
		{"two reasons, foreign issuer", port("client", `issuer "other"`, true, false, ""), port("peer", "new", true, false, ""), finalizeGate,
			`still trusts only the old CA on both ports — restart it (etcd reads --trusted-ca-file and --peer-trusted-ca-file only at start); serves a certificate of issuer "other" on its client port — put its reissued tree on its node (no restart needed: etcd reads its certificate on every handshake)`, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := judge(tt.client, tt.peer, tt.want, true)
			if got.Problem != tt.problem || got.Restart != tt.restart || got.Unreachable != tt.down || got.Member != "cp3" {
				t.Errorf("judge:\n got %q restart %v unreachable %v\nwant %q restart %v unreachable %v", got.Problem, got.Restart, got.Unreachable, tt.problem, tt.restart, tt.down)
			}
		})
	}
	// After the rotation, the old CA is the retired one, the new the
	// current one.
	got := judge(port("client", "new", true, true, ""), port("peer", "new", true, true, ""), expect{acceptNew: true, serveNew: true, refuseOld: true}, false)
	if want := "still accepts a client certificate of the retired CA on both ports — restart it, so that it trusts only the current CA (etcd reads --trusted-ca-file and --peer-trusted-ca-file only at start)"; got.Problem != want || !got.Restart {
		t.Errorf("after the rotation:\n got %q restart %v\nwant %q", got.Problem, got.Restart, want)
	}
}

// TestRefuseLiveOneLinePerMember: the refusal is a header and one line
// per member that is not ready, in member order; ready members are not
// named, and no line repeats another's reason for a second port.
func TestRefuseLiveOneLinePerMember(t *testing.T) {
	stale := func(m string) MemberLive {
		return judge(PortLive{Member: m, Port: "client", Served: "old", AcceptsOld: true},
			PortLive{Member: m, Port: "peer", Served: "old", AcceptsOld: true}, reissueGate, true)
	}
	ready := judge(PortLive{Member: "cp2", Port: "client", Served: "old", AcceptsOld: true, AcceptsNew: true},
		PortLive{Member: "cp2", Port: "peer", Served: "old", AcceptsOld: true, AcceptsNew: true}, reissueGate, true)
	down := judge(PortLive{Member: "cp3", Port: "client", URL: "https://10.0.0.13:2379", Error: "connection refused"},
		PortLive{Member: "cp3", Port: "peer", URL: "https://10.0.0.13:2380", Error: "connection refused"}, reissueGate, true)
	err := refuseLive("rotate-ca reissue", "the running cluster is not ready for new-CA leaves", "pki", []MemberLive{stale("cp1"), ready, down})
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a *RefusedError", err)
	}
	want := "rotate-ca reissue: the running cluster is not ready for new-CA leaves:\n" +
		"  cp1: still trusts only the old CA on both ports — restart it (etcd reads --trusted-ca-file and --peer-trusted-ca-file only at start)\n" +
		"  cp3: unreachable (https://10.0.0.13:2379, https://10.0.0.13:2380: connection refused)"
	if err.Error() != want {
		t.Errorf("refusal:\n%s\nwant:\n%s", err, want)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if len(line) > 160 {
			t.Errorf("line of %d characters: %s", len(line), line)
		}
	}
	if !strings.Contains(re.Hint, "rotate-ca status --dir pki --live") {
		t.Errorf("hint %q does not name status --live", re.Hint)
	}
	if err := refuseLive("rotate-ca reissue", "header", "pki", []MemberLive{ready}); err != nil {
		t.Errorf("every member ready: %v", err)
	}
}
