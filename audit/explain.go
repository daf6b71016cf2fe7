package audit

import (
	"regexp"
	"sort"
	"strings"
)

// Match is a rule that explains an error message.
type Match struct {
	Rule *Rule
	// Pattern is the catalogue error text found in the message.
	Pattern string
	// Note adds what the message itself says, e.g. which address the
	// certificate does not name.
	Note string
}

var validForRE = regexp.MustCompile(`certificate is valid for (.*), not ([^\s"]+)`)

// Explain maps an error message from etcd, etcdctl, kube-apiserver or
// Go's TLS stack to the rules that cause it, most specific first. Texts
// from older Go releases ("tls: failed to verify client's certificate")
// match as well as current ones.
func Explain(msg string) []Match {
	low := strings.ToLower(msg)
	type scored struct {
		m     Match
		score int
	}
	var hits []scored
	for i := range catalogue {
		r := &catalogue[i]
		best := ""
		for _, e := range r.Errors {
			if containsInOrder(low, strings.ToLower(e)) && len(e) > len(best) {
				best = e
			}
		}
		if best != "" {
			hits = append(hits, scored{Match{Rule: r, Pattern: best}, len(best)})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	note := ""
	if sm := validForRE.FindStringSubmatch(msg); sm != nil {
		note = "the certificate names " + sm[1] + " but the client dialed " + sm[2]
		if sm[2] == "127.0.0.1" || sm[2] == "::1" {
			// The loopback case is its own rule: move it to the front.
			for i, h := range hits {
				if h.m.Rule.ID == RuleServerLoopback {
					hits[0], hits[i] = hits[i], hits[0]
				}
			}
		}
	}
	out := make([]Match, len(hits))
	for i, h := range hits {
		out[i] = h.m
		out[i].Note = note
	}
	return out
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
