package output

import "testing"

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"etcd-ca":                 "etcd-ca",
		"with space, ünïcode":     "with space, ünïcode",
		"\x1b[2J\x1b]0;owned\x07": `\x1b[2J\x1b]0;owned\x07`,
		"line\nbreak\ttab":        `line\x0abreak\x09tab`,
		"bidi\u202eevil":          `bidi\u{202e}evil`,
		"bad\xffutf8":             `bad\xffutf8`,
		"\u009b31m C1 CSI":        `\x9b31m C1 CSI`,
	} {
		if got := Safe(in); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
}
