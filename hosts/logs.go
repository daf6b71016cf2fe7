package hosts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Messages etcd logs that mark its progress. etcd's default logger writes
// zap JSON lines to stderr ({"level":"info","ts":…,"msg":…}).
const (
	// msgServing is logged when embed.StartEtcd returns: the member
	// serves its peer port (embed/etcd.go).
	msgServing = "now serving peer/client/metrics"
	// msgReady is logged by every client listener once the server's
	// ReadyNotify fires, i.e. the member has joined the cluster and
	// published itself (embed/serve.go), exactly what the in-process
	// cluster waits for.
	msgReady = "ready to serve client requests"
)

// logSink receives one etcd process's stdout and stderr. Each JSON line is
// turned into a zap entry of the member's logger on core (the cluster's
// observer, so Cluster.Logs has the same shape as local.Cluster.Logs), and
// the progress messages close serving and ready. Lines that are not JSON
// (etcd's gRPC logging writes plain text) are kept at warn level as they
// are. With copyTo set, every line is also copied there, prefixed with
// the member's name.
type logSink struct {
	member string
	core   zapcore.Core
	copyTo io.Writer

	mu      sync.Mutex
	partial []byte
	muted   bool // stop was called: what etcd logs on the way down is not kept
	serving chan struct{}
	ready   chan struct{}
	leader  bool // raft's last word on this member's role was "became leader"
}

func newLogSink(member string, core zapcore.Core, copyTo io.Writer) *logSink {
	return &logSink{member: member, core: core, copyTo: copyTo, serving: make(chan struct{}), ready: make(chan struct{})}
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(s.partial[:i])
		s.partial = s.partial[i+1:]
	}
	return len(p), nil
}

// mute stops keeping entries: stopping a member makes etcd log every
// closed listener and connection as an error, which says nothing about
// the PKI.
func (s *logSink) mute() {
	s.mu.Lock()
	s.muted = true
	s.mu.Unlock()
}

func (s *logSink) line(l []byte) {
	l = bytes.TrimRight(l, "\r")
	if len(l) == 0 {
		return
	}
	if s.copyTo != nil {
		fmt.Fprintf(s.copyTo, "%s | %s\n", s.member, l)
	}
	var fields map[string]any
	if err := json.Unmarshal(l, &fields); err != nil {
		s.write(zapcore.Entry{Level: zapcore.WarnLevel, Time: time.Now(), LoggerName: s.member, Message: string(l)}, nil)
		return
	}
	msg, _ := fields["msg"].(string)
	switch {
	case msg == msgServing:
		closeOnce(s.serving)
	case msg == msgReady:
		closeOnce(s.ready)
	case strings.Contains(msg, " became ") && strings.Contains(msg, " at term "):
		// raft logs every change of role: "<id> became leader at
		// term 2", "… became follower at term 3".
		s.leader = strings.Contains(msg, " became leader ")
	}
	e := zapcore.Entry{LoggerName: s.member, Message: msg, Time: time.Now()}
	if lvl, ok := fields["level"].(string); ok {
		e.Level.UnmarshalText([]byte(lvl))
	}
	if ts, ok := fields["ts"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			e.Time = t
		}
	}
	var zf []zap.Field
	for k, v := range fields {
		switch k {
		case "level", "ts", "msg", "caller":
			continue
		}
		zf = append(zf, zap.Any(k, v))
	}
	s.write(e, zf)
}

func (s *logSink) write(e zapcore.Entry, fields []zap.Field) {
	if s.muted || !s.core.Enabled(e.Level) {
		return
	}
	s.core.Write(e, fields)
}

// isLeader reports whether the member was the raft leader when it last
// logged a change of role.
func (s *logSink) isLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// newObserver is where every member's entries go, info and above, as in
// the in-process cluster.
func newObserver() (zapcore.Core, *observer.ObservedLogs) {
	return observer.New(zapcore.InfoLevel)
}
