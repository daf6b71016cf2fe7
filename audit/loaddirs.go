package audit

import "github.com/etcdpki/etcdpki/spec"

// LoadDirs discovers the members in dirs (Discover) and reads them
// (LoadMembers), for commands that look at the files without checking
// them. A spec, when given, describes the members whose directories have
// none of their own, as check's --config does. Member names are made
// distinct as Check makes them.
func LoadDirs(dirs []string, c *spec.Cluster) ([]*Member, error) {
	var inputs []*Input
	for _, d := range dirs {
		ins, err := Discover(d)
		if err != nil {
			return nil, err
		}
		for _, in := range ins {
			if in.Spec == nil && c != nil {
				in.Spec = c
			}
		}
		inputs = append(inputs, ins...)
	}
	members := LoadMembers(inputs)
	uniqueNames(members)
	return members, nil
}
