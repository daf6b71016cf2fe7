package output

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Safe returns s fit for a terminal: control characters (an escape
// sequence in a certificate's CN or SAN could rewrite the screen),
// Unicode format characters such as bidirectional overrides, and invalid
// UTF-8 are shown as \xNN or \u{NNNN}; everything else, spaces included,
// is kept. Text reports print every value that comes from a certificate,
// a file name or a setting through it.
func Safe(s string) string {
	clean := true
	for _, r := range s {
		if unsafe(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == unicode.ReplacementChar && size == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unsafe(r) && r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		case unsafe(r):
			fmt.Fprintf(&b, "\\u{%04x}", r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func unsafe(r rune) bool {
	return r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}
