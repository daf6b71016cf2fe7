package member

import (
	"fmt"
	"strings"
)

// InitialMember is one member of an --initial-cluster value.
type InitialMember struct {
	Name string
	// URLs are its peer URLs, in the order given.
	URLs []string
}

// ParseInitialCluster reads an --initial-cluster value, name=URL,name=URL,
// as etcd does (types.NewURLsMap in etcd's client/pkg/types): a name may
// appear more than once, with several URLs. Members are in the order of
// their first appearance. An entry that is not name=URL, or a value with no
// member, is an error naming the entry.
func ParseInitialCluster(s string) ([]InitialMember, error) {
	var out []InitialMember
	index := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, u, ok := strings.Cut(part, "=")
		if !ok || name == "" || u == "" {
			return nil, fmt.Errorf("%q is not name=URL", part)
		}
		i, seen := index[name]
		if !seen {
			i = len(out)
			index[name] = i
			out = append(out, InitialMember{Name: name})
		}
		out[i].URLs = append(out[i].URLs, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no members")
	}
	return out, nil
}
