package local

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// newLogger returns the logger every member logs to: entries at info and
// above are kept in memory (the returned ObservedLogs), and also written to
// w when w is not nil. Each member logs through logger.Named(member), so an
// entry's LoggerName says which member wrote it.
func newLogger(w io.Writer) (*zap.Logger, *observer.ObservedLogs) {
	obsCore, logs := observer.New(zapcore.InfoLevel)
	core := obsCore
	if w != nil {
		enc := zap.NewDevelopmentEncoderConfig()
		enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		core = zapcore.NewTee(obsCore,
			zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel))
	}
	// etcd calls Logger.Fatal on some start-up failures (a snapshot
	// directory it cannot create, too few file descriptors), and zap's
	// default then calls os.Exit, which would skip the clean-up of every
	// other member and of the temp dir. Goexit ends only the goroutine that
	// logged: StartEtcd's caller sees it (start) and the cluster is torn
	// down as for any other failure.
	return zap.New(core, zap.WithFatalHook(zapcore.WriteThenGoexit)), logs
}

// problems returns the warnings and errors etcd logged with an error
// attached before until (zero: all), one line per distinct member, message
// and error, in the order first logged: typically the TLS handshakes a
// member rejected and the peers it could not reach. Entries from the
// shutdown are left out by until: stopping a member makes etcd log every
// closed listener and connection as an error.
func problems(logs *observer.ObservedLogs, until time.Time) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range logs.All() {
		if e.Level < zapcore.WarnLevel || (!until.IsZero() && !e.Time.Before(until)) {
			continue
		}
		msg, ok := e.ContextMap()["error"]
		if !ok || benign(e.Message) {
			continue
		}
		line := fmt.Sprintf("%s: %s: %v", e.LoggerName, e.Message, msg)
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// benign says whether a warning is one every healthy new member logs:
// a fresh member has no storage version yet ("missing term information").
func benign(msg string) bool {
	return msg == "Failed to detect schema version" || msg == "failed to update storage version"
}
