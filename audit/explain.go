package audit

import (
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Cause is one rule that explains a message.
type Cause struct {
	Rule *Rule `json:"-"`
	// Rank is 1 for the primary cause, 2 for the first alternative, …
	Rank int `json:"rank"`
	// Score orders the causes; it has no unit. Causes the message's words
	// and context decide score 60 and up; one a catalogue error text alone
	// suggests scores under 50.
	Score int `json:"score"`
	// Evidence quotes the words of the message that decided the cause,
	// each with what it means.
	Evidence []string `json:"evidence"`
}

// Explanation is what explain makes of one message.
type Explanation struct {
	Message Message `json:"message"`
	// Direction says who rejected whom, where the message tells.
	Direction string `json:"direction,omitempty"`
	// Causes are ranked, the primary cause first; empty when the message
	// has no TLS cause (NotTLS says what it is) or none that explain knows.
	Causes []Cause `json:"causes"`
	// NotTLS says what the message is when it is not a TLS failure: a
	// symptom (context deadline exceeded) or a connection without a
	// handshake.
	NotTLS string `json:"notTLS,omitempty"`
	// Seen says what the message itself shows, e.g. which address the
	// certificate does not name.
	Seen string `json:"seen,omitempty"`
	// Next is the etcdpki command (or the step) that tells the causes
	// apart.
	Next string `json:"next,omitempty"`
	// Summary is one line: the primary cause in the words of the message.
	Summary string `json:"summary,omitempty"`

	// rejectedRemote: the line is the accepting side's, which refused
	// the other side's certificate (not an alert the other side sent).
	rejectedRemote bool
}

// Primary returns the primary cause, or nil when there is none.
func (e *Explanation) Primary() *Cause {
	if len(e.Causes) == 0 {
		return nil
	}
	return &e.Causes[0]
}

// Explain reads one error message or log line (ParseMessage) and ranks
// the rules that cause it: the most likely first, with the words that
// decided it, then alternatives. It never fails; a message that is not a
// TLS failure gets no causes and says what it is instead.
//
// A paste of several log lines is split into records (a line that does
// not start like a log line continues the one before), each is explained,
// and the record whose primary cause the message decides best is the
// explanation.
func Explain(msg string) *Explanation {
	var best *Explanation
	recs := splitRecords(msg)
	paste := ""
	if len(recs) > 1 {
		paste = strings.ToLower(strings.Join(recs, " "))
	}
	for _, rec := range recs {
		m := ParseMessage(rec)
		m.paste = paste
		e := ExplainMessage(&m)
		if best == nil || better(e, best) {
			best = e
		}
	}
	return best
}

// better says whether a explains its record better than b: a cause
// beats none, a higher primary score a lower one.
func better(a, b *Explanation) bool {
	pa, pb := a.Primary(), b.Primary()
	switch {
	case pa == nil:
		return false
	case pb == nil:
		return true
	}
	return pa.Score > pb.Score
}

// recordStartRE matches the start of a log line or of a new command's
// output in a paste: a time stamp, a JSON object, a klog or journal
// prefix, a level word, a shell prompt or a tool's own error prefix.
var recordStartRE = regexp.MustCompile(`^(\{|\[\d{4}/|\d{4}[-/]\d\d[-/]\d\d|[A-Z][a-z]{2} +\d{1,2} \d\d:|[IWEF]\d{4} |(?:WARNING|ERROR|INFO|Error|error|Warning|F\d{4}):|time=|\$ |# |etcd-\d+\s|\[(?:ERROR|WARNING|preflight|certs)|\S+ +(?:Warning|Normal) )`)

// splitRecords splits a paste into records; a message of one line is one
// record.
func splitRecords(msg string) []string {
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	lines := strings.Split(strings.ReplaceAll(msg, "\r", ""), "\n")
	var recs []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if len(recs) == 0 || recordStartRE.MatchString(t) {
			recs = append(recs, t)
			continue
		}
		// A continuation: a wrapped path ("/etc/kubernetes" + "/pki/…")
		// joins without a space, anything else with one.
		last := recs[len(recs)-1]
		if strings.HasPrefix(t, "/") && last != "" && !strings.HasSuffix(last, " ") && !strings.HasSuffix(last, ":") {
			recs[len(recs)-1] = last + t
		} else {
			recs[len(recs)-1] = last + " " + t
		}
	}
	if len(recs) == 0 {
		recs = []string{""}
	}
	return recs
}

// ExplainMessage explains a parsed message (see [Explain]).
func ExplainMessage(m *Message) *Explanation {
	d := &diagnosis{m: m, score: map[RuleID]int{}, ev: map[RuleID][]string{}}
	d.ctx = contextOf(m)
	d.run()
	e := &Explanation{Message: *m, Direction: d.direction, NotTLS: d.notTLS, Seen: d.seen, Next: d.next, Summary: d.summary,
		rejectedRemote: d.ctx.serverSide && !d.ctx.remote}
	ids := make([]RuleID, 0, len(d.score))
	for id := range d.score {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if d.score[ids[i]] != d.score[ids[j]] {
			return d.score[ids[i]] > d.score[ids[j]]
		}
		return ruleIndex[ids[i]] < ruleIndex[ids[j]]
	})
	for i, id := range ids {
		r := &catalogue[ruleIndex[id]]
		e.Causes = append(e.Causes, Cause{Rule: r, Rank: i + 1, Score: d.score[id], Evidence: d.ev[id]})
	}
	if e.Summary == "" && len(e.Causes) > 0 {
		e.Summary = e.Causes[0].Rule.Title
	}
	return e
}

// diagnosis collects the scored causes of one message.
type diagnosis struct {
	m     *Message
	ctx   context
	score map[RuleID]int
	ev    map[RuleID][]string

	direction, notTLS, seen, next, summary string
}

// add scores a rule; a rule keeps its best score and all its evidence.
func (d *diagnosis) add(id RuleID, score int, evidence ...string) {
	if score > d.score[id] {
		d.score[id] = score
	}
	for _, e := range evidence {
		if e != "" && !contains(d.ev[id], e) {
			d.ev[id] = append(d.ev[id], e)
		}
	}
}

// context is what the line says about where the failure happened.
type context struct {
	peer, client, gateway, apiserver, kubelet, etcdctl, componentStatus bool
	// why quotes the words that set peer or client.
	why string
	// serverSide: the line is the accepting server's ("rejected
	// connection"); remote: the error is an alert from the other side.
	serverSide, remote bool
}

// Ports etcd and the distributions use: 2380 peer (7001 before etcd
// 2.0; 3996/3997 kops etcd-manager's peer gRPC), 2379 client (4001 and
// 4002 kops' and etcd 2's client ports).
var (
	peerPorts   = map[string]bool{"2380": true, "7001": true, "3996": true, "3997": true, "2382": true}
	clientPorts = map[string]bool{"2379": true, "4001": true, "4002": true, "2381": true}
)

func contextOf(m *Message) context {
	var c context
	c.serverSide = m.has("rejected connection")
	c.remote = m.has("remote error:")
	if a, _ := remoteAlertOf(m); a != "" {
		c.remote = true
	}
	port := m.port()
	switch {
	case m.Endpoint == "peer":
		c.peer, c.why = true, `"on peer endpoint": etcd's peer listener (2380) logged it`
	case m.Endpoint == "client":
		c.client, c.why = true, `"on client endpoint": etcd's client listener (2379) logged it`
	case peerPorts[port]:
		c.peer, c.why = true, "port "+port+" is a peer port"
	case clientPorts[port]:
		c.client, c.why = true, "port "+port+" is a client port"
	case m.has("rafthttp", "msgapp", "stream message", "remote-peer-id", "round_tripper", "prober detected", "health check for peer",
		"attempted to join", "failed to reach the peer", "peer became inactive", "grpc-ping discovered peer", "publish local member",
		"failed to get version", "remote-member-id", "could not connect to peer"):
		c.peer, c.why = true, "the words name raft's peer traffic"
	case strings.Contains(strings.ReplaceAll(m.low, "reset by peer", ""), "peer"):
		c.peer, c.why = true, `the word "peer"`
	}
	c.apiserver = m.Program == "kube-apiserver"
	c.kubelet = m.Program == "kubelet"
	c.etcdctl = m.Program == "etcdctl"
	c.componentStatus = m.componentStatus
	if !c.peer && !c.client && (c.apiserver || c.etcdctl || c.kubelet) {
		c.client, c.why = true, m.Program+" is a client of the client port"
	}
	// etcd's grpc-gateway dials etcd's own client listener (its listen
	// address, 0.0.0.0 or [::] when it listens on all), as a client, with
	// --cert-file unless --client-cert-file is set (server/embed/serve.go).
	h := m.dialedHost()
	fromEtcd := m.Program == "etcd" || m.Program == "k3s" || m.Program == "rke2" || m.Format == "go-log" || m.has("[core] [channel")
	switch {
	case h == "0.0.0.0" || h == "::":
		c.gateway = true
	case (h == "127.0.0.1" || h == "::1" || h == "localhost") && fromEtcd && !c.apiserver && m.Format != "klog":
		c.gateway = true
	case m.has(`"code":14`) && m.has("error reading server preface"):
		c.gateway = true
	}
	if c.gateway && !c.peer {
		c.client = true
	}
	return c
}

var (
	validForRE    = regexp.MustCompile(`certificate is valid for (.*?), not ([^\s"()]+)`)
	noIPSANsRE    = regexp.MustCompile(`cannot validate certificate for ([^\s"]+) because it doesn't contain any IP SANs`)
	checkSANRE    = regexp.MustCompile(`tls: "([^"]+)" does not match any of DNSNames`)
	openFileRE    = regexp.MustCompile(`open (/[^\s:"]+): (permission denied|no such file or directory)`)
	possiblyRE    = regexp.MustCompile(`possibly because of "([^"]*)" while trying to verify candidate authority certificate "([^"]*)"`)
	currentTimeRE = regexp.MustCompile(`current time (\S+) is (before|after) (\S+?)[",)]*(?:\s|$)`)
)

// run decides the causes, family by family: the first family whose
// words the message has decides; a message none decides falls back to
// the catalogue's error texts.
func (d *diagnosis) run() {
	for _, family := range []func() bool{
		d.noHandshake, d.files, d.plaintext, d.checkSAN, d.legacyCN, d.names,
		d.validity, d.notCA, d.unknownAuthority, d.keyUsage, d.noClientCert, d.remoteAlert,
	} {
		if family() {
			if d.notTLS == "" {
				d.textMatches(alsoScore)
			}
			return
		}
	}
	d.fallback()
}

// alsoScore is the score of a rule that only prints the same text as the
// decided cause: listed, ranked last.
const alsoScore = 10

// textMatches scores every rule whose catalogue error texts the message
// contains (parts of a pattern separated by " … " in order), with
// score(len) for the longest text of each rule, unless the rule already
// has a better score.
func (d *diagnosis) textMatches(score int) {
	low := d.m.low
	for i := range catalogue {
		r := &catalogue[i]
		best := ""
		for _, e := range r.Errors {
			if containsInOrder(low, strings.ToLower(e)) && len(e) > len(best) {
				best = e
			}
		}
		if best == "" {
			continue
		}
		s := score
		if s != alsoScore {
			s = min(49, score+len(best)/2)
		}
		if _, ok := d.score[r.ID]; !ok {
			d.add(r.ID, s, `"`+best+`" is one of the texts this rule's failure prints`)
		}
	}
}

// noHandshake: etcd logs a rejected connection with error "EOF" when a
// client opened TCP and closed it without a handshake (a TCP health
// check, a load balancer, kube-apiserver's or kubeadm's preflight).
func (d *diagnosis) noHandshake() bool {
	m := d.m
	if !d.ctx.serverSide {
		return false
	}
	e := strings.TrimSpace(strings.ToLower(m.Error))
	if e == "eof" || strings.HasSuffix(e, ": eof") || m.has(`(error "eof"`) || strings.Contains(e, "connection reset by peer") {
		d.notTLS = "the client closed the TCP connection before a TLS handshake (error \"EOF\"): a TCP health check, a load balancer's probe or a port scan, not a certificate problem"
		d.next = "nothing to fix in the PKI; if the rejections flood the log, point the TCP check at the metrics port (--listen-metrics-urls) instead"
		return true
	}
	return false
}

// files: a process could not open a certificate or key file.
func (d *diagnosis) files() bool {
	sm := openFileRE.FindStringSubmatch(d.m.Text)
	if sm == nil {
		return false
	}
	path := sm[1]
	who := d.m.Program
	if who == "" {
		who = "the process"
	}
	if sm[2] == "permission denied" {
		d.add(RuleFileUnreadable, 100, `"open `+path+`: permission denied": `+who+` runs as a user that may not read the file`)
		d.add(RuleFlagFile, 40, "the flag points at a file the process may not read")
		d.next = "ls -ln " + path + " and the directories above it, and the user the process runs as (ps -o user= -C etcd); etcdpki check MEMBER_DIR reports the files' modes and owners"
	} else {
		d.add(RuleFileMissing, 100, `"open `+path+`: no such file or directory"`)
		d.add(RuleFlagFile, 90, "a flag names a file that is not there")
		d.next = "etcdpki check MEMBER_DIR names the flag and the file"
	}
	d.direction = "none: " + who + " failed to open a local file"
	d.seen = path
	return true
}

// plaintext: one side spoke plain TCP/HTTP to the other's TLS.
func (d *diagnosis) plaintext() bool {
	m := d.m
	switch {
	case m.has("first record does not look like a tls handshake") && d.ctx.serverSide:
		// The TLS server read a plaintext first record (crypto/tls
		// conn.go, RecordHeaderError).
		d.direction = "etcd's TLS listener received a plaintext connection from " + orSomeone(m.RemoteAddr)
		d.add(RuleClientPlaintext, 100, `"rejected connection … first record does not look like a TLS handshake": a client spoke plain HTTP or gRPC to the TLS port`)
		d.add(RuleProbeNotTLS, 30)
		d.next = "find the client at " + orSomeone(m.RemoteAddr) + " and give it https:// endpoints and the etcd CA (etcdctl: --endpoints=https://…, --cacert)"
		return true
	case m.has("first record does not look like a tls handshake"), m.has("server gave http response to https client"):
		d.direction = "the client expected TLS and the server answered in plain text"
		d.add(RuleProbeNotTLS, 100, "the TLS client read a plaintext answer: the URL serves plain HTTP")
		d.add(RuleClientPlaintext, 30)
		d.next = "etcdpki probe --endpoints " + d.url() + " shows what the URL serves"
		return true
	case m.has(`malformed http response "\x15\x03`):
		// \x15 is a TLS alert record: the server speaks TLS.
		d.direction = "the client spoke plain HTTP; the server answered with a TLS alert"
		d.add(RuleClientPlaintext, 100, `malformed HTTP response "\x15\x03…": the answer is a TLS alert record, so the client spoke plain HTTP to a TLS port`)
		d.next = "use https:// in the client's endpoint and give it the etcd CA and a client certificate"
		return true
	case m.has("connection closed") && (m.has("#initially=[") || m.has("endpoints://")) && !m.has("https://"):
		d.direction = "the client dialed without TLS; the server closed the connection"
		d.add(RuleClientPlaintext, 70, `"last connection error: connection closed" on an endpoint without https://: etcdctl dials plaintext when the endpoint has no scheme and no TLS flags are given`)
		d.add(RuleProbeUnreachable, 40)
		d.next = "give etcdctl --endpoints=https://HOST:2379 with --cacert, --cert and --key (ETCDCTL_*)"
		return true
	}
	return false
}

// checkSAN: etcd's peer listener matches a connecting member's
// certificate against the connection's source address (transport
// checkSAN, client/pkg/transport/listener_tls.go@v3.5.0), and says "does
// not match any of DNSNames" when no IP SAN has the address and no DNS
// SAN resolves to it.
func (d *diagnosis) checkSAN() bool {
	m := d.m
	sm := checkSANRE.FindStringSubmatch(m.Text)
	if sm == nil && !m.has("does not match any of dnsnames") {
		return false
	}
	ip := ""
	if sm != nil {
		ip = sm[1]
	}
	if ip == "" {
		ip = m.RemoteIP()
	}
	d.direction = "the accepting member rejected the connecting member's peer credential: " + orSomeone(ip) + " is not in its certificate"
	d.seen = "the connection came from " + orSomeone(ip)
	if len(m.CertIPs) > 0 {
		d.seen += "; the certificate names IPs " + strings.Join(m.CertIPs, ", ")
	}
	ev := `"does not match any of DNSNames": only etcd's peer listener checks a connecting member's certificate against its source address (checkSAN)`
	if gw, why := gatewayAddress(ip, m.CertIPs); gw {
		d.add(RulePeerNAT, 100, ev, why)
		d.add(RulePeerSAN, 70, ev)
		d.summary = "peer connections reach the member from " + ip + ", a gateway or NAT address no member's certificate names"
	} else {
		d.add(RulePeerSAN, 100, ev)
		d.add(RulePeerClientSAN, 70, ev+"; with --peer-client-cert-file, that is the credential checked")
		d.add(RulePeerNAT, 50, "if "+orSomeone(ip)+" is no member's address, the traffic is NATed on the way")
		d.summary = "the peer certificate presented from " + orSomeone(ip) + " does not name that address"
		if other := otherMemberIP(ip, m.CertIPs); other != "" {
			d.add(RuleSharedLeaf, 60, "the certificate names "+other+" but arrives from "+ip+": another member's certificate copied to this one?")
		}
	}
	d.next = "etcdpki check MEMBER_DIRS reports R4-PEER-SAN on the member whose peer certificate lacks " + orSomeone(ip) + "; if no member has that address, compare it with the members' --initial-advertise-peer-urls (a NAT or gateway)"
	return true
}

// gatewayAddress says whether ip looks like a gateway in front of the
// members: the .1 of a /24 whose other addresses the certificate names.
func gatewayAddress(ip string, certIPs []string) (bool, string) {
	a := net.ParseIP(ip).To4()
	if a == nil || a[3] != 1 {
		return false, ""
	}
	for _, c := range certIPs {
		b := net.ParseIP(c).To4()
		if b != nil && !b.IsLoopback() && a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && !a.Equal(b) {
			return true, ip + " is the .1 (gateway) of " + c + "'s subnet, and the certificate names the members' own addresses: the connection was NATed or routed through the host's bridge"
		}
	}
	return false, ""
}

// otherMemberIP is an address the certificate names in the same /24 as
// ip, other than loopback: a sign the certificate is another member's.
func otherMemberIP(ip string, certIPs []string) string {
	a := net.ParseIP(ip).To4()
	if a == nil {
		return ""
	}
	var others []string
	for _, c := range certIPs {
		b := net.ParseIP(c).To4()
		if b != nil && !b.IsLoopback() && a[0] == b[0] && a[1] == b[1] && a[2] == b[2] {
			others = append(others, c)
		}
	}
	if len(others) == 1 {
		return others[0]
	}
	return ""
}

// legacyCN: Go 1.15+ ignores the Common Name; a certificate with a name
// only there fails host verification (crypto/x509 verify.go).
func (d *diagnosis) legacyCN() bool {
	if !d.m.has("relies on legacy common name field") {
		return false
	}
	ev := `"relies on legacy Common Name field": the certificate has no SANs, and Go (1.15+) no longer matches the CN`
	d.direction = "the client rejected the server's certificate"
	if d.ctx.peer {
		d.add(RulePeerSAN, 100, ev, d.ctx.why)
		d.add(RuleServerSAN, 50, ev)
	} else {
		d.add(RuleServerSAN, 100, ev, d.ctx.why)
		d.add(RulePeerSAN, 50, ev)
	}
	d.next = "etcdpki inspect FILE shows the certificate's SANs; etcdpki renew MEMBER_DIR --kind KIND issues it with SANs"
	return true
}

// names: the client's host check failed (crypto/x509 VerifyHostname).
func (d *diagnosis) names() bool {
	m := d.m
	var names []string
	dialed := ""
	ev := ""
	if sm := validForRE.FindStringSubmatch(m.Text); sm != nil {
		names = strings.Split(sm[1], ", ")
		dialed = strings.Trim(sm[2], `"'.,;`)
		ev = `"certificate is valid for ` + sm[1] + `, not ` + dialed + `"`
		d.seen = "the certificate names " + sm[1] + " but the client dialed " + dialed
	} else if sm := noIPSANsRE.FindStringSubmatch(m.Text); sm != nil {
		dialed = sm[1]
		ev = `"cannot validate certificate for ` + dialed + ` because it doesn't contain any IP SANs": the certificate names no IP, and the client dialed one`
		d.seen = "the client dialed " + dialed + "; the certificate has DNS names only"
	} else if m.has("x509: certificate is not valid for any names") {
		ev = `"certificate is not valid for any names": it has no SANs at all`
	} else if w := firstOf(m, "certificate host mismatch", "no alternative certificate subject name matches target host name", "hostname mismatch", "does not match target host name"); w != "" {
		// OpenSSL's and lua-resty's wordings, which do not list the names.
		ev = `"` + w + `": the certificate does not name the host the client dialed`
		dialed = m.dialedHost()
	} else {
		return false
	}
	if d.ctx.remote && d.ctx.serverSide {
		return false
	}
	d.direction = "the client rejected the server's certificate: it does not name the address the client dialed"
	loop := dialed == "127.0.0.1" || dialed == "::1" || dialed == "localhost"
	addr := m.dialedHost()
	switch {
	case dialed != "" && otherEndpoint(m, dialed, names) != "":
		other := otherEndpoint(m, dialed, names)
		d.add(RuleClientWrongHost, 100, ev, "the certificate names "+other+", another endpoint the client was given: it reached that member but checked the name "+dialed+" (etcd clientv3 before 3.4.4 and 3.3.19 verified every endpoint against one server name)")
		d.add(RuleServerSAN, 55, ev)
	case addr != "" && dialed != "" && addr != dialed && slices.Contains(names, addr):
		// The certificate names the address the client dialed, but the
		// client checked another name: a client that verifies every
		// endpoint against one server name (etcd clientv3 3.3/3.4 with
		// several endpoints, a balancer in front of the members).
		d.add(RuleClientWrongHost, 100, ev, "the client dialed "+addr+", which the certificate names, but checked the name "+dialed+": the client verifies against the wrong server name")
		d.add(RuleServerSAN, 50, ev)
	case d.ctx.peer:
		d.direction = "the dialing member rejected the other member's peer certificate: it does not name the address dialed"
		d.add(RulePeerSAN, 100, ev, d.ctx.why)
		d.add(RuleServerSAN, 40, ev)
		if loop {
			d.add(RuleServerLoopback, 30, ev)
		}
	case loop:
		d.add(RuleServerLoopback, 100, ev, "the client dialed the loopback address, as kube-apiserver and the health checks on a stacked control plane do")
		d.add(RuleServerSAN, 60, ev)
	case dialed != "" && net.ParseIP(dialed) == nil && shortName(dialed, names):
		d.add(RuleClientWrongHost, 100, ev, dialed+" is a short form of a name the certificate has: the client should dial the name the certificate names")
		d.add(RuleServerSAN, 60, ev)
	default:
		d.add(RuleServerSAN, 100, ev, d.ctx.why)
		d.add(RuleClientWrongHost, 40, "if the client dials an address the member does not advertise, fix the client instead")
		if !d.ctx.client {
			d.add(RulePeerSAN, 50, ev)
		}
	}
	if dialed != "" {
		d.summary = "the server certificate does not name " + dialed + ", the address the client dialed"
		if d.ctx.peer {
			d.summary = "the peer certificate does not name " + dialed + ", the address the other member dialed"
		}
	}
	d.next = "etcdpki inspect " + d.url() + " --cacert CA shows the names the endpoint serves; etcdpki check MEMBER_DIRS reports the certificate that lacks " + orSomeone(dialed)
	return true
}

// otherEndpoint is a host the certificate names that is another of the
// endpoints in the paste (URLs, --endpoints), not the one checked.
func otherEndpoint(m *Message, dialed string, names []string) string {
	for _, u := range urlRE.FindAllStringSubmatch(m.pasteText(), -1) {
		h := strings.Trim(u[1], "[]")
		if h != dialed && slices.Contains(names, h) {
			return h
		}
	}
	return ""
}

func firstOf(m *Message, words ...string) string {
	for _, w := range words {
		if m.has(w) {
			return w
		}
	}
	return ""
}

// shortName says whether host is a first label (or a prefix label run)
// of a name in names, or names' short form of host: the same machine
// under another name.
func shortName(host string, names []string) bool {
	host = strings.ToLower(host)
	for _, n := range names {
		n = strings.ToLower(strings.Trim(n, `"* `))
		if n == host {
			continue
		}
		if strings.HasPrefix(n, host+".") || strings.HasPrefix(host, n+".") {
			return true
		}
	}
	return false
}

// validity: expired or not yet valid.
func (d *diagnosis) validity() bool {
	m := d.m
	sm := currentTimeRE.FindStringSubmatch(m.Text)
	switch {
	case sm != nil && sm[2] == "before":
		d.seen = "the verifier's clock read " + sm[1] + ", before the certificate's NotBefore " + sm[3]
		d.add(RuleNotYetValid, 100, `"current time `+sm[1]+` is before `+sm[3]+`": not yet valid, not expired: a clock skew between the machine that issued it and the one that verified it`)
		d.add(RuleExpired, 20)
		d.summary = "a certificate is not valid yet: a clock is off"
		d.next = "compare date -u on the issuing and the verifying node (NTP: chronyc tracking / timedatectl); etcdpki inspect FILE shows NotBefore"
	case sm != nil:
		d.seen = "the verifier's clock read " + sm[1] + ", after the certificate's NotAfter " + sm[3]
		d.add(RuleExpired, 100, `"current time `+sm[1]+` is after `+sm[3]+`": the certificate has expired`)
		d.summary = "a certificate has expired"
		d.next = "etcdpki expiry MEMBER_DIRS lists every certificate's expiry"
	case m.has("has expired or is not yet valid"):
		d.add(RuleExpired, 90, `"has expired or is not yet valid" (Go before 1.15 does not say which; expiry is the common case)`)
		d.add(RuleNotYetValid, 70, "a certificate issued on a machine whose clock runs ahead reads the same")
		d.next = "etcdpki expiry MEMBER_DIRS tells the two apart (an expired leaf, or a NotBefore in the future)"
	case m.has("remote error: tls: expired certificate"), m.has("certificate has expired"):
		d.add(RuleExpired, 100, `"expired certificate"`)
		d.next = "etcdpki expiry MEMBER_DIRS lists every certificate's expiry"
	case m.has("is not yet valid"):
		d.add(RuleNotYetValid, 100, `"is not yet valid"`)
	default:
		return false
	}
	d.sides()
	return true
}

// sides sets the direction of a verification error from the context.
func (d *diagnosis) sides() {
	switch {
	case d.ctx.serverSide && d.ctx.remote:
		d.direction = "the client rejected this server's certificate (\"remote error\": the alert came from the other side)"
	case d.ctx.serverSide && d.ctx.peer:
		d.direction = "the accepting member rejected the connecting member's peer credential"
	case d.ctx.serverSide:
		d.direction = "etcd rejected the connecting client's certificate"
	case d.ctx.remote:
		d.direction = "the server rejected this side's certificate (\"remote error\": the alert came from the other side)"
	case d.m.Program == "kubeadm":
		d.direction = "none: kubeadm checked the file on disk"
	default:
		d.direction = "this side rejected the other side's certificate"
	}
}

// notCA: the chain runs through a certificate that is not a CA.
func (d *diagnosis) notCA() bool {
	if !d.m.has("parent certificate cannot sign this kind of certificate") {
		return false
	}
	d.add(RuleNotCA, 100, `"parent certificate cannot sign this kind of certificate": the certificate in the CA file is not a CA (CA:FALSE or no keyCertSign)`)
	d.sides()
	d.next = "etcdpki inspect CA_FILE shows the basic constraints and key usages"
	return true
}

// unknownAuthorityWords are the ways TLS stacks say they could not
// chain a certificate to a trusted CA: Go's, OpenSSL's verify errors 19,
// 20 and 21 (curl, nginx, lua-resty, Python), and "certificate verify
// failed", which OpenSSL-based clients print for any of them.
var unknownAuthorityWords = []string{"signed by unknown authority", "unable to get local issuer certificate",
	"self signed certificate in certificate chain", "self-signed certificate in certificate chain",
	"unable to verify the first certificate", "certificate verify failed"}

// unknownAuthority: a verifier does not trust the certificate's issuer.
func (d *diagnosis) unknownAuthority() bool {
	m := d.m
	if m.has("failed to load system roots and no roots provided") {
		// Go found no system CA pool and the client was given no CA
		// file (crypto/x509 root_unix.go; Go 1.18+ returns an empty pool).
		d.direction = "the client cannot verify the server: it has no CA at all"
		d.add(RuleClientNoCA, 100, `"failed to load system roots and no roots provided": the client was given no CA file, and the system has no CA bundle either (a minimal container)`)
		d.next = "give the client the etcd CA (etcdctl --cacert, ETCDCTL_CACERT; the client's CA option)"
		d.summary = "the client was given no CA to verify etcd with"
		return true
	}
	words := ""
	for _, w := range unknownAuthorityWords {
		if m.has(w) {
			words = w
			break
		}
	}
	if words == "" || d.ctx.remote {
		return false
	}
	d.sides()
	ev := `"` + words + `"`
	if sm := possiblyRE.FindStringSubmatch(m.Text); sm != nil {
		// Go names a candidate when a CA with the issuer's name is in
		// the pool but its key did not verify the signature
		// (crypto/x509 verify.go, UnknownAuthorityError.hintErr).
		why := `"possibly because of ` + sm[1] + ` while trying to verify candidate authority certificate ` + sm[2] + `": a CA named ` + sm[2] + ` is trusted, but with another key: the two sides hold different CAs of the same name`
		d.seen = "a CA named " + sm[2] + " is trusted on the verifying side, but it did not sign this certificate"
		d.summary = "the two sides hold different CAs named " + sm[2]
		switch {
		case d.ctx.peer:
			d.add(RuleCAMismatch, 100, why)
			d.add(RulePeerTrust, 70, why)
			d.add(RulePeerCA, 60, ev)
		case d.ctx.serverSide:
			// etcd's client listener refused a client certificate from
			// another CA of its CA's name: another cluster's, or an old one.
			d.add(RuleClientCA, 100, why, "etcd's client listener refused the client's certificate: it comes from another CA named "+sm[2]+" (another cluster's, or one replaced since)")
			d.add(RuleAPIServer, 90, why)
			d.add(RuleClientTrust, 80, why)
			d.add(RuleCAMismatch, 70, why)
			d.summary = "a client certificate comes from another CA named " + sm[2]
		case d.ctx.apiserver:
			d.add(RuleAPIServer, 100, why, "kube-apiserver's --etcd-cafile holds another CA named "+sm[2])
			d.add(RuleCAMismatch, 90, why)
			d.add(RuleClientTrust, 70, why)
		default:
			d.add(RuleCAMismatch, 100, why)
			d.add(RuleServerCA, 80, why)
			d.add(RuleClientTrust, 70, why)
		}
		d.next = "etcdpki check MEMBER_DIRS compares every member's CA by fingerprint (R2-CA-MISMATCH names the odd one)"
		return true
	}
	d.next = "etcdpki check MEMBER_DIRS tells a certificate from another CA (R1) from a member with a CA of its own (R2)"
	port := m.port()
	switch {
	case (m.Program == "k3s" || m.Program == "rke2") && (port == "6443" || port == "9345" || m.pasteHas(":6443/", ":9345/", "connect to proxy")):
		if port == "" {
			port = "6443"
			if m.Program == "rke2" {
				port = "9345"
			}
		}
		// A k3s or RKE2 server dialing another server's supervisor port
		// (6443; RKE2 9345) verifies it with its own cluster CA: a server
		// that rejoined with another cluster's CA files or token fails so.
		d.add(RuleCAMismatch, 100, ev, m.Program+" dialed another server's supervisor port "+port+" and does not trust its CA: the servers hold different cluster CAs (a server rejoined with old CA files, or another cluster's token)")
		d.add(RuleClientNoCA, 50, ev)
		d.summary = "the " + m.Program + " servers hold different cluster CAs"
		d.next = "compare the CA certificates under /var/lib/rancher/" + m.Program + "/server/tls on the servers (etcdpki check on each server's tree reports R2)"
	case d.ctx.peer:
		d.add(RulePeerCA, 100, ev, d.ctx.why)
		d.add(RuleCAMismatch, 80, ev)
		d.add(RulePeerTrust, 70, ev)
		d.summary = "a peer certificate comes from a CA the other member does not trust"
	case d.ctx.serverSide:
		d.add(RuleClientCA, 100, ev, "etcd verified the client's certificate against --trusted-ca-file", d.ctx.why)
		d.add(RuleClientTrust, 75, ev)
		d.add(RuleAPIServer, 65, ev)
		d.add(RulePeerCA, 60, ev)
		d.summary = "a client certificate comes from a CA etcd does not trust"
	case d.ctx.apiserver:
		d.add(RuleAPIServer, 100, ev, "kube-apiserver verifies etcd's serving certificate with --etcd-cafile")
		d.add(RuleServerCA, 80, ev)
		d.add(RuleClientTrust, 60, ev)
		d.next = "etcdpki check on the control-plane node compares --etcd-cafile with the CA that signed etcd's server.crt"
	default:
		// A client without a CA falls back to the system roots, which do
		// not hold a private etcd CA: plain "unknown authority".
		d.add(RuleClientNoCA, 95, ev+" with no CA named: a client that was given no CA file verifies against the system roots, which never hold a private etcd CA")
		d.add(RuleServerCA, 90, ev)
		d.add(RuleClientTrust, 60, ev)
		d.next = "etcdpki inspect " + d.url() + " --cacert CA verifies the served chain with the CA the client should have; etcdctl needs --cacert (ETCDCTL_CACERT)"
		d.summary = "the client does not trust the CA of the server's certificate"
	}
	return true
}

// keyUsage: a certificate lacks the extended key usage of its role.
func (d *diagnosis) keyUsage() bool {
	m := d.m
	if !m.has("incompatible key usage") || d.ctx.remote {
		return false
	}
	ev := `"incompatible key usage": the certificate lacks the extended key usage of the role it was used in`
	ra := m.RemoteIP()
	loopRemote := ra == "127.0.0.1" || ra == "::1"
	// The server side verifies a client certificate (needs clientAuth);
	// the client side a server certificate (needs serverAuth).
	serverSide := d.ctx.serverSide || m.has("client's certificate", "client certificate")
	switch {
	case serverSide && d.ctx.peer:
		d.direction = "the accepting member rejected the connecting member's peer credential (no clientAuth)"
		d.add(RuleEKUPeerClient, 100, ev, d.ctx.why)
		d.add(RuleChainRejected, 30)
	case serverSide && (loopRemote || (ra == "" && d.ctx.client)):
		d.direction = "etcd's client port rejected a client certificate without clientAuth from " + orSomeone(m.RemoteAddr)
		why := "the connection comes from the member's own host"
		if ra == "" {
			why = "on the client port: etcd's grpc-gateway presents --cert-file as its client certificate"
		}
		d.add(RuleEKUServerGateway, 100, ev, why+": etcd's grpc-gateway dials its own client port with --cert-file, which then needs clientAuth")
		d.add(RuleEKUClient, 60, ev)
		d.add(RuleEKUPeerClient, 30)
		d.summary = "etcd's own grpc-gateway is refused: server.crt lacks clientAuth"
	case serverSide && d.ctx.client:
		d.direction = "etcd's client port rejected the client's certificate (no clientAuth)"
		d.add(RuleEKUClient, 100, ev, d.ctx.why)
		d.add(RuleEKUServerGateway, 50, ev)
	case serverSide:
		d.direction = "etcd rejected the connecting side's certificate (no clientAuth) from " + orSomeone(m.RemoteAddr)
		d.add(RuleEKUClient, 90, ev, "the remote address is another host: a client or a member")
		d.add(RuleEKUPeerClient, 85, ev)
		d.add(RuleEKUServerGateway, 50, ev)
	case d.ctx.peer:
		d.direction = "the dialing member rejected the other member's peer certificate (no serverAuth)"
		d.add(RuleEKUPeerServer, 100, ev, d.ctx.why)
		d.add(RuleChainRejected, 30)
	default:
		d.direction = "the client rejected the server's certificate (no serverAuth)"
		d.add(RuleEKUServer, 100, ev, "the client side verified a server certificate")
		d.add(RuleEKUPeerServer, 50, ev)
		d.add(RuleChainRejected, 30, "a CA whose own extended key usages exclude serverAuth reads the same")
	}
	d.next = "etcdpki inspect FILE lists the certificate's extended key usages and the roles it can fill; etcdpki check MEMBER_DIR names the file"
	return true
}

// noClientCert: etcd requires a client certificate and got none.
func (d *diagnosis) noClientCert() bool {
	m := d.m
	if !m.has("client didn't provide a certificate") {
		return false
	}
	ev := `"client didn't provide a certificate": etcd (--client-cert-auth) requires one, and the client sent none`
	d.direction = "etcd rejected a client from " + orSomeone(m.RemoteAddr) + " that sent no certificate"
	d.add(RuleClientNoCert, 100, ev)
	d.add(RuleAPIServer, 60, "kube-apiserver without --etcd-certfile/--etcd-keyfile reads the same")
	d.summary = "a client of " + orSomeone(d.m.RemoteAddr) + " connects without a client certificate"
	d.next = "find the client at " + orSomeone(m.RemoteAddr) + ": an HTTPS liveness probe (kubelet sends no certificate; probe http://127.0.0.1:2381/health, --listen-metrics-urls), or a client needing --cert/--key (ETCDCTL_CERT, ETCDCTL_KEY)"
	return true
}

// alertWords are the wordings of a TLS alert received from the other
// side: Go's (crypto/tls alert.go, "remote error: bad certificate" before
// Go 1.8), OpenSSL's (curl, nginx: "sslv3 alert bad certificate", "SSL
// alert number 42") and GnuTLS's ("Certificate is bad").
var alertWords = []struct{ alert, words string }{
	{"bad certificate", "remote error: tls: bad certificate"},
	{"bad certificate", "remote error: bad certificate"},
	{"unknown certificate authority", "remote error: tls: unknown certificate authority"},
	{"certificate required", "remote error: tls: certificate required"},
	{"unsupported certificate", "remote error: tls: unsupported certificate"},
	{"certificate required", "alert certificate required"},
	{"certificate required", "alert number 116"},
	{"unknown certificate authority", "alert unknown ca"},
	{"unknown certificate authority", "alert number 48"},
	{"bad certificate", "alert bad certificate"},
	{"bad certificate", "alert number 42"},
	{"bad certificate", "certificate is bad"},
}

// remoteAlertOf returns the alert the other side sent and the words that
// say so, or "".
func remoteAlertOf(m *Message) (alert, words string) {
	for _, a := range alertWords {
		if m.has(a.words) {
			return a.alert, a.words
		}
	}
	return "", ""
}

// remoteAlert: the other side sent a TLS alert about this side's
// certificate ("remote error: tls: …", Go's alert.go; "remote error: bad
// certificate" before Go 1.8).
func (d *diagnosis) remoteAlert() bool {
	m := d.m
	if !d.ctx.remote {
		return false
	}
	alert, words := remoteAlertOf(m)
	if alert == "" {
		return false
	}
	ev := `"` + words + `": the other side rejected this side's certificate`
	c := d.ctx
	switch {
	case c.serverSide:
		// The server logs the alert its client sent: the client rejected
		// the server's certificate.
		d.direction = "the client at " + orSomeone(m.RemoteAddr) + " rejected this member's certificate (\"remote error\" logged by the server)"
		evs := ev + ", logged by etcd's listener: the client did not accept etcd's serving certificate; the client's own log says why"
		if c.peer {
			d.add(RulePeerSAN, 90, evs, c.why)
			d.add(RulePeerCA, 85, evs)
			d.add(RuleCAMismatch, 80, evs)
			d.add(RuleEKUPeerServer, 75, evs)
			d.add(RuleExpired, 60, evs+"; an expired certificate is refused the same way")
			d.next = "the dialing member's log has the reason (certificate is valid for …, unknown authority); etcdpki check MEMBER_DIRS"
			return true
		}
		ra := m.RemoteIP()
		if m.ServerName == "" && (ra == "127.0.0.1" || ra == "::1") {
			d.add(RuleServerLoopback, 90, evs, "a client on the member's own host dialed an IP (no server name): kube-apiserver or a health check dialing https://127.0.0.1:2379")
			d.add(RuleClientNoCA, 85, evs)
		} else {
			d.add(RuleClientNoCA, 90, evs, "a client without the etcd CA (etcdctl without --cacert) rejects every etcd certificate this way")
			d.add(RuleServerLoopback, 70, evs)
		}
		d.add(RuleServerSAN, 85, evs)
		d.add(RuleServerCA, 80, evs)
		d.add(RuleExpired, 60, evs+"; an expired certificate is refused the same way")
		d.next = "the client's own error says which (unknown authority: the client lacks the CA; valid for …: a missing SAN); etcdpki inspect https://" + orSomeone(m.ServerName) + ":2379 --cacert CA shows what etcd serves"
		return true
	case c.kubelet && (alert == "certificate required" || alert == "bad certificate"):
		d.direction = "etcd rejected the kubelet's HTTPS probe: the kubelet sends no client certificate"
		d.add(RuleClientNoCert, 100, ev, `"probe failed": kubelet's HTTPS probes never present a client certificate, and etcd requires one on a client-cert port`)
		d.next = "probe http://127.0.0.1:2381/health (--listen-metrics-urls), as kubeadm's static pod does"
		d.summary = "the kubelet's HTTPS probe sends no client certificate"
		return true
	case c.componentStatus:
		d.direction = "etcd rejected kube-apiserver's health check (componentstatus), which sent no client certificate"
		d.add(RuleClientNoCert, 100, ev, `"Unhealthy Get https://…/health": kube-apiserver's componentstatus check of etcd`)
		d.add(RuleAPIServer, 70, ev)
		d.next = "check kube-apiserver's --etcd-certfile/--etcd-keyfile; componentstatus is deprecated: etcdpki probe checks the members instead"
		return true
	case c.gateway:
		d.direction = "etcd's own grpc-gateway was rejected by etcd's client port"
		d.add(RuleEKUServerGateway, 100, ev, "the dialed address "+orSomeone(m.Dialed)+" is etcd's own listen address: only etcd's grpc-gateway dials it, presenting --cert-file as its client certificate, which needs clientAuth")
		d.add(RuleEKUClient, 40, ev)
		d.summary = "etcd's own grpc-gateway is refused: server.crt lacks clientAuth"
		d.next = "etcdpki inspect SERVER_CRT lists its extended key usages (it needs clientAuth too, or set --client-cert-file)"
		return true
	case c.peer:
		d.direction = "the other member rejected this member's peer credential"
		if alert == "unknown certificate authority" {
			d.add(RulePeerCA, 100, ev, c.why, "unknown certificate authority: the other member does not trust the credential's CA")
			d.add(RuleCAMismatch, 85, ev)
			d.add(RulePeerTrust, 70, ev)
		} else {
			// Go 1.21+ answers an unknown CA with unknown_ca and an expired
			// certificate with certificate_expired, so "bad certificate"
			// is mostly a credential without clientAuth; older Go sent it
			// for every verification failure.
			d.add(RuleEKUPeerClient, 90, ev, c.why, `"bad certificate" from a member: most often a peer credential without clientAuth (a cert from a "server" profile)`)
			d.add(RulePeerCA, 85, ev)
			d.add(RuleCAMismatch, 75, ev)
		}
		d.add(RulePeerSAN, 60, ev)
		d.add(RuleExpired, 60, ev+"; an expired certificate is refused the same way")
		d.next = "the other member's log says why (rejected connection on peer endpoint: …); etcdpki check MEMBER_DIRS"
		return true
	}
	d.direction = "the server rejected this client's certificate (\"remote error\": the alert came from the server)"
	switch alert {
	case "certificate required":
		if c.apiserver {
			d.add(RuleAPIServer, 100, ev, "kube-apiserver presented no certificate: --etcd-certfile/--etcd-keyfile unset")
			d.add(RuleClientNoCert, 70, ev)
		} else {
			d.add(RuleClientNoCert, 100, ev, "the client presented no certificate")
			d.add(RuleAPIServer, 60, ev)
		}
	case "unknown certificate authority":
		if c.apiserver {
			d.add(RuleAPIServer, 100, ev, "etcd does not trust the CA of kube-apiserver's --etcd-certfile")
			d.add(RuleClientCA, 90, ev)
		} else {
			d.add(RuleClientCA, 100, ev, "etcd does not trust the CA of the client certificate")
			d.add(RuleAPIServer, 80, ev)
			d.add(RuleClientTrust, 70, ev)
		}
	default:
		foreign := m.has("ssl routines", "gnutls", "curl:", "ssl_do_handshake")
		if m.has("curl ") && !m.has("--cert", " -e ") || (foreign && !m.has("--cert")) {
			d.add(RuleClientNoCert, 95, ev, "a non-Go client (OpenSSL, GnuTLS) refused with bad_certificate, and no client certificate is in the command: etcd requires one")
		}
		if c.etcdctl && m.pasteHas("server.crt", "server.pem") {
			d.add(RuleEKUClient, 95, ev, "etcdctl presents the member's server certificate as its client certificate; a server profile without clientAuth is refused")
			d.add(RuleEKUServerGateway, 60, ev)
		}
		if c.etcdctl && !c.apiserver {
			d.add(RuleClientCA, 90, ev, "etcdctl's --cert is from a CA etcd does not trust, or lacks clientAuth")
			d.add(RuleEKUClient, 85, ev)
			if !m.pasteHas("--cert", "etcdctl_cert") {
				d.add(RuleClientNoCert, 88, ev, "no --cert in the command: etcdctl presented no client certificate")
			}
		} else if c.apiserver || m.has("transport: authentication handshake failed") {
			why := "kube-apiserver is etcd's main gRPC client: its --etcd-certfile is missing, from another CA or without clientAuth"
			if c.apiserver {
				why = "kube-apiserver's line: its --etcd-certfile is missing, from another CA or without clientAuth"
			}
			d.add(RuleAPIServer, 90, ev, why)
			d.add(RuleEKUServerGateway, 80, ev)
		} else {
			d.add(RuleClientCA, 90, ev)
		}
		d.add(RuleClientCA, 85, ev)
		d.add(RuleEKUClient, 70, ev)
		d.add(RuleClientNoCert, 60, ev)
	}
	d.next = "etcd's log says why it refused the client (rejected connection on client endpoint: …); etcdpki inspect CLIENT_CRT shows the client certificate's issuer and usages"
	return true
}

// fallback ranks the rules whose catalogue error texts the message
// contains, longest text first, and says when the message is a symptom.
func (d *diagnosis) fallback() {
	d.textMatches(12)
	if len(d.score) > 0 {
		return
	}
	if d.m.has("context deadline exceeded", "deadlineexceeded", "unable to create storage backend", "etcd cluster is unavailable", "connection closed") {
		d.notTLS = "a symptom, not a cause: the client got no answer in time. The TLS error, if there is one, is in the client's earlier lines (grpc: addrConn.createTransport failed …) or in etcd's log (rejected connection …)"
		d.next = "etcdpki probe --endpoints " + d.url() + " with the client's CA and certificate says what fails"
	}
}

// url is the URL the message dialed, or a placeholder.
func (d *diagnosis) url() string {
	if d.m.Dialed != "" {
		return "https://" + d.m.Dialed
	}
	if sm := urlRE.FindString(d.m.Text); sm != "" {
		return "https://" + strings.TrimPrefix(strings.TrimPrefix(sm, "https://"), "http://")
	}
	return "https://HOST:2379"
}

func orSomeone(s string) string {
	if s == "" || s == `""` {
		return "the remote address"
	}
	return s
}

// containsInOrder reports whether every part of pattern (parts separated
// by " … ") occurs in s, in order. A plain pattern is a substring test.
func containsInOrder(s, pattern string) bool {
	for _, part := range strings.Split(pattern, " … ") {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return true
}
