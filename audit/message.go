package audit

import (
	"encoding/json"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Message is one error message or log line as explain reads it: the text
// without its log prefix, and what the line says about who logged it and
// about the other side of the connection.
type Message struct {
	// Text is the message with whitespace and line wraps collapsed,
	// markdown emphasis and JSON escapes removed, and the log prefix cut.
	Text string `json:"text"`
	// Format is the line's shape: etcd-json (etcd 3.4+ zap), etcd-text
	// (etcd 3.3's capnslog and 3.4's default), zap-console, klog (every
	// Kubernetes component), logfmt (k3s, RKE2, k0s), go-log (grpc's
	// logger inside etcd), or plain.
	Format string `json:"format"`
	// Program is who printed it, where the line says: etcd, k3s, rke2,
	// kube-apiserver, kubelet, etcdctl, kubeadm, etcd-gateway.
	Program string `json:"program,omitempty"`
	// Host is the journal's host name, if the line came from journalctl.
	Host string `json:"host,omitempty"`
	// Time is the line's time stamp; lines that carry no year (journal,
	// klog) get year 0.
	Time time.Time `json:"time,omitzero"`
	// Msg and Error are etcd's structured fields: "rejected connection
	// on peer endpoint" and the TLS error.
	Msg   string `json:"msg,omitempty"`
	Error string `json:"error,omitempty"`
	// RemoteAddr is the address of the connection's other side as the
	// rejecting server logged it (etcd's remote-addr).
	RemoteAddr string `json:"remoteAddr,omitempty"`
	// ServerName is the TLS server name the client sent (SNI).
	ServerName string `json:"serverName,omitempty"`
	// Dialed is the host:port a client dialed, from a URL or grpc's
	// address in the line.
	Dialed string `json:"dialed,omitempty"`
	// Endpoint is "peer" or "client" when etcd said which listener
	// rejected the connection (etcd 3.6+), else empty.
	Endpoint string `json:"endpoint,omitempty"`
	// CertIPs and CertDNSNames are the SANs etcd printed of the rejected
	// certificate (checkSAN's IPAddresses and DNSNames).
	CertIPs      []string `json:"certIPs,omitempty"`
	CertDNSNames []string `json:"certDNSNames,omitempty"`

	low string
	// componentStatus: the line is kubectl get componentstatuses'.
	componentStatus bool
	// paste is the whole paste the line came from, lower case, when it
	// had several records: the command line above an error says which
	// flags the client had.
	paste string
}

// pasteText is the whole paste, or the line.
func (m *Message) pasteText() string {
	if m.paste != "" {
		return m.paste
	}
	return m.low
}

// pasteHas reports whether the paste holds any of words (lower case).
func (m *Message) pasteHas(words ...string) bool {
	t := m.pasteText()
	for _, w := range words {
		if strings.Contains(t, w) {
			return true
		}
	}
	return false
}

var (
	// journalctl's default (short) and short-iso output.
	journalRE    = regexp.MustCompile(`^([A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?) (\S+) ([A-Za-z0-9_.@/-]+?)(?:\[\d+\])?: `)
	journalISORE = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:?\d\d|Z)) (\S+) ([A-Za-z0-9_.@/-]+?)(?:\[\d+\])?: `)
	// The CRI log format (crictl logs, /var/log/pods) and kubectl logs
	// --timestamps.
	criRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (?:(?:stdout|stderr) [FP] )?`)
	// etcd's capnslog text format: "2017-07-18 17:10:46.927812 I | etcdmain: ".
	capnslogRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) [DINWEC] \| ([\w.-]+): `)
	// klog: "W0925 22:21:51.575195    2528 clientconn.go:1120] ".
	klogRE = regexp.MustCompile(`^([IWEF])(\d{4} \d\d:\d\d:\d\d(?:\.\d+)?)\s+\d+ ([\w.-]+:\d+)\] `)
	// Go's log package, as grpc logs inside etcd: "2025/06/16 09:22:28 WARNING: "
	// or grpc's old "WARNING: 2018/03/07 22:36:51 ".
	goLogRE    = regexp.MustCompile(`^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (?:(?:INFO|WARNING|ERROR): )?`)
	grpcLogRE  = regexp.MustCompile(`^(?:INFO|WARNING|ERROR): (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?) `)
	zapConsRE  = regexp.MustCompile(`^\[(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?) [^\]]*\] \[(\w+)\] \[[^\]]*\] \["((?:[^"\\]|\\.)*)"\]`)
	zapFieldRE = regexp.MustCompile(`\[([\w-]+)=("(?:[^"\\]|\\.)*"|[^\]]*)\]`)
	logfmtRE   = regexp.MustCompile(`^time="([^"]*)" level=(\w+) msg="((?:[^"\\]|\\.)*)"(.*)$`)
	logfmtComp = regexp.MustCompile(`\bcomponent=("?)([\w.-]+)`)
	logfmtErr  = regexp.MustCompile(`\berr(?:or)?="((?:[^"\\]|\\.)*)"`)
	logfmtURL  = regexp.MustCompile(`\burl="?([^"\s]+)`)
	// kubectl get componentstatuses and kubectl describe pod events.
	componentRE = regexp.MustCompile(`^(etcd-\d+)\s+Unhealthy\s+`)
	probeRE     = regexp.MustCompile(`(?i)\b(liveness|readiness|startup) probe failed:`)

	rejectedRE  = regexp.MustCompile(`rejected connection from "([^"]*)" \(error "(.*?)", ServerName "([^"]*)"`)
	rejectedRE2 = regexp.MustCompile(`rejected connection from "([^"]*)" \((?:error )?"?(.*?)"?\)\s*$`)
	certIPsRE   = regexp.MustCompile(`IPAddresses \[([^\]]*)\]`)
	certDNSRE   = regexp.MustCompile(`DNSNames \[([^\]]*)\]`)
	quotedRE    = regexp.MustCompile(`"([^"]*)"`)
	urlRE       = regexp.MustCompile(`\b(?:https?|wss?)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.$-]+)(?::(\d+))?`)
	grpcAddrRE  = regexp.MustCompile(`\{(?:Addr: )?"?(?:https?://)?(\[[0-9a-fA-F:.]*\]|[A-Za-z0-9_.-]+):(\d+)"?[ ,]`)
	dialRE      = regexp.MustCompile(`(?i)(?:failed to dial|attempted to join via|dial tcp|endpoints://0x[0-9a-f]+/|#initially=\[)\s*(\[[0-9a-fA-F:.]*\]|[A-Za-z0-9_.-]+):(\d+)`)
	wsRE        = regexp.MustCompile(`\s+`)
)

// ParseMessage reads one error message or log line: a pasted error, a
// line of etcd's log in any of its formats (3.3's capnslog text, 3.4+
// JSON), kube-apiserver's klog line, a journal line (journalctl), a CRI
// log line (crictl logs, kubectl logs --timestamps), k3s/RKE2/k0s logfmt,
// kubectl's componentstatus or event output. It never fails: what it does
// not recognise stays in Text.
func ParseMessage(s string) Message {
	var m Message
	s = normalise(s)
	m.Format = "plain"
	for range 4 {
		var ok bool
		if s, ok = m.cutPrefix(s); !ok {
			break
		}
	}
	if strings.HasPrefix(s, "{") {
		s = m.readJSON(s)
	} else if sm := zapConsRE.FindStringSubmatch(s); sm != nil {
		m.Format = "zap-console"
		m.setTime(sm[1], "2006/01/02 15:04:05.000 -07:00", "2006/01/02 15:04:05")
		m.Msg = unquote(sm[3])
		for _, f := range zapFieldRE.FindAllStringSubmatch(s[len(sm[0]):], -1) {
			m.field(f[1], unquote(strings.Trim(f[2], `"`)))
		}
		s = m.Msg + ": " + m.Error + " " + s
	}
	s = strings.ReplaceAll(s, `\"`, `"`)
	m.Text = strings.TrimSpace(s)
	m.low = strings.ToLower(m.Text)
	m.readText()
	return m
}

// normalise collapses whitespace and line wraps, and removes markdown
// emphasis a user added around a name.
func normalise(s string) string {
	if len(s) > maxMessage {
		s = s[:maxMessage]
	}
	s = strings.ReplaceAll(s, "**", "")
	s = strings.ReplaceAll(s, "⏎", " ")
	return strings.TrimSpace(wsRE.ReplaceAllString(s, " "))
}

// maxMessage bounds what one message is read for: 64 KiB is more than any
// TLS error line (a checkSAN line with every SAN is under 2 KiB).
const maxMessage = 64 << 10

// cutPrefix removes one log prefix, recording what it says.
func (m *Message) cutPrefix(s string) (string, bool) {
	if sm := journalRE.FindStringSubmatch(s); sm != nil {
		m.setTime(sm[1], "Jan _2 15:04:05.000000", "Jan _2 15:04:05")
		m.Host, m.Program = sm[2], programOf(sm[3])
		return s[len(sm[0]):], true
	}
	if sm := journalISORE.FindStringSubmatch(s); sm != nil {
		m.setTime(sm[1], "2006-01-02T15:04:05-0700", time.RFC3339Nano)
		m.Host, m.Program = sm[2], programOf(sm[3])
		return s[len(sm[0]):], true
	}
	if sm := capnslogRE.FindStringSubmatch(s); sm != nil {
		m.setTime(sm[1], "2006-01-02 15:04:05.000000")
		m.Format = "etcd-text"
		if m.Program == "" {
			m.Program = "etcd"
		}
		return s[len(sm[0]):], true
	}
	if sm := klogRE.FindStringSubmatch(s); sm != nil {
		m.setTime(sm[2], "0102 15:04:05.000000")
		m.Format = "klog"
		return s[len(sm[0]):], true
	}
	if sm := logfmtRE.FindStringSubmatch(s); sm != nil {
		m.setTime(sm[1], "2006-01-02 15:04:05", time.RFC3339Nano)
		m.Format = "logfmt"
		if c := logfmtComp.FindStringSubmatch(sm[4]); c != nil {
			m.Program = programOf(c[2])
		}
		text := unquote(sm[3])
		// k3s and RKE2 put the error in its own field.
		if e := logfmtErr.FindStringSubmatch(sm[4]); e != nil {
			m.Error = unquote(e[1])
			text += ": " + m.Error
		}
		if u := logfmtURL.FindStringSubmatch(sm[4]); u != nil {
			text += " url=" + u[1]
		}
		return text, true
	}
	if sm := grpcLogRE.FindStringSubmatch(s); sm != nil {
		m.setTime(sm[1], "2006/01/02 15:04:05")
		m.Format = "go-log"
		return s[len(sm[0]):], true
	}
	if sm := goLogRE.FindStringSubmatch(s); sm != nil {
		m.setTime(sm[1], "2006/01/02 15:04:05.000000", "2006/01/02 15:04:05")
		m.Format = "go-log"
		return s[len(sm[0]):], true
	}
	if sm := criRE.FindStringSubmatch(s); sm != nil && len(sm[0]) < len(s) {
		m.setTime(sm[1], time.RFC3339Nano)
		return s[len(sm[0]):], true
	}
	if sm := componentRE.FindStringSubmatch(s); sm != nil {
		// kube-apiserver's componentstatus probe of etcd (kubectl get cs).
		m.Program, m.componentStatus = "kube-apiserver", true
		return s[len(sm[0]):], true
	}
	if m.Program == "" && strings.Contains(s, "robe failed:") && probeRE.MatchString(s) {
		m.Program = "kubelet"
	}
	return s, false
}

// programOf names the program of a journal identifier or a component.
func programOf(id string) string {
	id = strings.TrimSuffix(strings.ToLower(id), ".service")
	switch {
	case strings.HasPrefix(id, "etcd-manager"):
		return "etcd-manager"
	case strings.HasPrefix(id, "etcd"):
		return "etcd"
	case strings.HasPrefix(id, "rke2"):
		return "rke2"
	case strings.HasPrefix(id, "k3s"):
		return "k3s"
	case strings.HasPrefix(id, "k0s"):
		return "k0s"
	}
	return id
}

// readJSON reads an etcd (zap) JSON line and returns the text to match:
// msg, error and whatever followed the object.
func (m *Message) readJSON(s string) string {
	dec := json.NewDecoder(strings.NewReader(s))
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return s
	}
	rest := strings.TrimSpace(s[dec.InputOffset():])
	m.Format = "etcd-json"
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			m.field(k, v)
		case float64:
			if k == "ts" {
				m.Time = time.Unix(0, int64(v*1e9)).UTC()
			}
		case []any:
			var l []string
			for _, e := range v {
				if es, ok := e.(string); ok {
					l = append(l, es)
				}
			}
			switch k {
			case "ip-addresses":
				m.CertIPs = l
			case "dns-names":
				m.CertDNSNames = l
			}
		}
	}
	text := m.Msg
	if m.Error != "" {
		text += ": " + m.Error
	}
	for _, k := range []string{"target", "address", "remote-peer-id", "remote-peer-url", "round-tripper-name", "endpoint", "logger", "caller"} {
		if v, ok := obj[k].(string); ok && v != "" {
			text += " " + k + "=" + v
		}
	}
	if rest != "" {
		text += " " + rest
	}
	return text
}

// field records one structured field of a JSON or zap-console line.
func (m *Message) field(k, v string) {
	switch k {
	case "msg":
		m.Msg = v
	case "error", "err":
		m.Error = v
	case "remote-addr":
		m.RemoteAddr = v
	case "server-name":
		m.ServerName = v
	case "ts":
		m.setTime(v, time.RFC3339Nano, "2006-01-02T15:04:05.999-0700")
	case "logger":
		switch v {
		case "etcd-client", "client":
			m.Program = "etcdctl"
		}
	}
}

// readText finds in the text what the structured fields did not give.
func (m *Message) readText() {
	t := m.Text
	if sm := rejectedRE.FindStringSubmatch(t); sm != nil {
		m.RemoteAddr, m.Error, m.ServerName = sm[1], sm[2], sm[3]
	} else if sm := rejectedRE2.FindStringSubmatch(t); sm != nil && m.RemoteAddr == "" {
		m.RemoteAddr, m.Error = sm[1], sm[2]
	}
	if len(m.CertIPs) == 0 {
		if sm := certIPsRE.FindStringSubmatch(t); sm != nil {
			m.CertIPs = quotedList(sm[1])
		}
	}
	if len(m.CertDNSNames) == 0 {
		if sm := certDNSRE.FindStringSubmatch(t); sm != nil {
			m.CertDNSNames = quotedList(sm[1])
		}
	}
	switch {
	case strings.Contains(m.low, "on peer endpoint"):
		m.Endpoint = "peer"
	case strings.Contains(m.low, "on client endpoint"):
		m.Endpoint = "client"
	}
	if m.Dialed == "" {
		if sm := grpcAddrRE.FindStringSubmatch(t); sm != nil {
			m.Dialed = net.JoinHostPort(strings.Trim(sm[1], "[]"), sm[2])
		} else if sm := dialRE.FindStringSubmatch(t); sm != nil {
			m.Dialed = net.JoinHostPort(strings.Trim(sm[1], "[]"), sm[2])
		} else if sm := urlRE.FindStringSubmatch(t); sm != nil && sm[2] != "" {
			m.Dialed = net.JoinHostPort(strings.Trim(sm[1], "[]"), sm[2])
		}
	}
	if m.Program == "" {
		switch {
		case m.Format == "klog" && (strings.Contains(m.low, "clientconn") || strings.Contains(m.low, "addrconn") ||
			strings.Contains(m.low, "storage") || strings.Contains(m.low, "etcd")):
			// A Kubernetes component's grpc client: kube-apiserver's etcd
			// client logs grpc's warnings through klog
			// (k8s.io/apiserver@v0.34.4 pkg/storage/etcd3/logger.go).
			m.Program = "kube-apiserver"
		case strings.Contains(m.low, "unable to create storage backend"):
			m.Program = "kube-apiserver"
		case strings.HasPrefix(m.low, "failure loading ") || strings.Contains(m.low, "[certs]") || strings.Contains(m.low, "kubeadm"):
			m.Program = "kubeadm"
		case strings.Contains(m.low, "etcdctl") || strings.Contains(m.low, "retry_interceptor") ||
			strings.HasPrefix(m.low, "error:") || strings.Contains(m.low, "etcd cluster is unavailable or misconfigured") ||
			strings.Contains(m.low, "failed to check the health of member") || strings.Contains(m.low, "failed to get the status of endpoint"):
			m.Program = "etcdctl"
		case m.Format == "etcd-text" || m.Format == "etcd-json" || m.Format == "zap-console":
			m.Program = "etcd"
		}
	}
}

// setTime parses a time stamp with the first layout that fits.
func (m *Message) setTime(v string, layouts ...string) {
	for _, l := range layouts {
		if t, err := time.Parse(l, v); err == nil {
			m.Time = t
			return
		}
	}
}

// port is the port of the dialed address, or "".
func (m *Message) port() string {
	if _, p, err := net.SplitHostPort(m.Dialed); err == nil {
		return p
	}
	return ""
}

// dialedHost is the host of the dialed address, or "".
func (m *Message) dialedHost() string {
	if h, _, err := net.SplitHostPort(m.Dialed); err == nil {
		return h
	}
	return ""
}

// RemoteIP is the IP of RemoteAddr (without its port), or "".
func (m *Message) RemoteIP() string {
	h := m.RemoteAddr
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	if net.ParseIP(h) == nil {
		return ""
	}
	return h
}

func (m *Message) has(words ...string) bool {
	for _, w := range words {
		if strings.Contains(m.low, w) {
			return true
		}
	}
	return false
}

func quotedList(s string) []string {
	var out []string
	for _, q := range quotedRE.FindAllStringSubmatch(s, -1) {
		out = append(out, q[1])
	}
	return out
}

// unquote undoes Go's %q (or JSON) escaping, leaving s as it is when it
// is not quoted text.
func unquote(s string) string {
	if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
		return u
	}
	return s
}
