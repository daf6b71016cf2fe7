package audit

import (
	"slices"
	"sort"
	"strings"

	"github.com/etcdpki/etcdpki/member"
)

// membership checks that the members' settings describe one cluster:
// --initial-cluster names each member with its advertised peer URLs and
// agrees across members, one --initial-cluster-token, and no member
// bootstrapping a cluster of its own. etcd checks a new member's
// --initial-cluster against its name and --initial-advertise-peer-urls
// when it starts (go.etcd.io/etcd/server/v3@v3.7.3 embed/config.go
// PeerURLsMapAndToken, etcdserver/bootstrap.go); a restarted member
// ignores the initial-* settings, and k3s drops them from a restarted
// member's config, so members without them are not judged.
func membership(members []*member.Member) []Finding {
	var out []Finding
	type view struct {
		m       *member.Member
		cluster map[string][]string // name → peer URLs
		state   string
	}
	var views []view
	for _, m := range members {
		s := m.Settings
		if s == nil || s.InitialCluster == "" {
			continue
		}
		cl, err := parseInitialCluster(s.InitialCluster)
		src := s.Sources["initial-cluster"]
		if src == "" {
			src = s.Source
		}
		if err != nil {
			out = append(out, NewFinding(RuleInitialCluster, m.Name, s.Source, BreaksPeers, "--initial-cluster %q cannot be read: %v", s.InitialCluster, err))
			continue
		}
		own, ok := cl[s.Name]
		switch {
		case !ok:
			out = append(out, NewFinding(RuleInitialCluster, m.Name, s.Source, BreaksPeers, "--initial-cluster does not list the member's own name %q (%s): etcd refuses to start", s.Name, src))
		case len(s.AdvertisePeerURLs) > 0 && !sameSet(own, s.AdvertisePeerURLs):
			out = append(out, NewFinding(RuleInitialCluster, m.Name, s.Source, BreaksPeers, "--initial-cluster gives %s the peer URLs %s, but it advertises %s (--initial-advertise-peer-urls): etcd refuses to start",
				s.Name, strings.Join(own, ","), strings.Join(s.AdvertisePeerURLs, ",")))
		}
		views = append(views, view{m, cl, s.InitialClusterState})
	}
	// Everyone's entry for a member must match what that member itself
	// advertises.
	adv := map[string][]string{}
	for _, v := range views {
		if s := v.m.Settings; len(s.AdvertisePeerURLs) > 0 {
			adv[s.Name] = s.AdvertisePeerURLs
		}
	}
	for _, v := range views {
		for _, name := range sortedNames(v.cluster) {
			if a, ok := adv[name]; ok && name != v.m.Settings.Name && !sameSet(v.cluster[name], a) {
				out = append(out, NewFinding(RuleInitialCluster, v.m.Name, v.m.Settings.Source, BreaksPeers, "--initial-cluster gives %s the peer URLs %s, but %s advertises %s",
					name, strings.Join(v.cluster[name], ","), name, strings.Join(a, ",")))
			}
		}
	}
	// Members bootstrapping together (state new) must list the same
	// members; members that list only themselves while others exist form
	// clusters of their own.
	var fresh []view
	for _, v := range views {
		if v.state == "" || v.state == "new" {
			fresh = append(fresh, v)
		}
	}
	if len(members) > 1 {
		var alone []string
		for _, v := range fresh {
			if len(v.cluster) == 1 {
				alone = append(alone, v.m.Name)
			}
		}
		if len(alone) > 1 {
			for _, v := range fresh {
				if len(v.cluster) == 1 {
					out = append(out, NewFinding(RuleSplitClusters, v.m.Name, v.m.Settings.Source, BreaksPeers,
						"--initial-cluster lists only %s itself (--initial-cluster-state=new): it bootstraps a one-member cluster of its own, and %d members given form %d clusters, not one",
						v.m.Settings.Name, len(members), len(alone)))
				}
			}
		} else if len(fresh) > 1 {
			first := fresh[0]
			for _, v := range fresh[1:] {
				if !sameKeys(first.cluster, v.cluster) {
					out = append(out, NewFinding(RuleInitialCluster, v.m.Name, v.m.Settings.Source, BreaksPeers, "--initial-cluster lists %s, but %s's lists %s: members bootstrapping together must list the same members",
						strings.Join(sortedNames(v.cluster), ", "), first.m.Name, strings.Join(sortedNames(first.cluster), ", ")))
				}
			}
		}
	}
	// One token: it seeds the cluster ID of a new cluster.
	tokens := map[string][]string{}
	for _, v := range fresh {
		tokens[v.m.Settings.InitialClusterToken] = append(tokens[v.m.Settings.InitialClusterToken], v.m.Name)
	}
	if len(tokens) > 1 {
		var keys []string
		for k := range tokens {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(tokens[keys[i]]) != len(tokens[keys[j]]) {
				return len(tokens[keys[i]]) > len(tokens[keys[j]])
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys[1:] {
			for _, name := range tokens[k] {
				m := findMember(members, name)
				out = append(out, NewFinding(RuleClusterToken, name, m.Settings.Source, BreaksPeers, "--initial-cluster-token %q, but %s use %q: they bootstrap different clusters",
					k, strings.Join(tokens[keys[0]], ", "), keys[0]))
			}
		}
	}
	return out
}

// parseInitialCluster is member.ParseInitialCluster by name.
func parseInitialCluster(s string) (map[string][]string, error) {
	ms, err := member.ParseInitialCluster(s)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, m := range ms {
		out[m.Name] = m.URLs
	}
	return out, nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func sameKeys(a, b map[string][]string) bool {
	return slices.Equal(sortedNames(a), sortedNames(b))
}

func sortedNames(m map[string][]string) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func findMember(members []*member.Member, name string) *member.Member {
	for _, m := range members {
		if m.Name == name {
			return m
		}
	}
	return nil
}
