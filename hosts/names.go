package hosts

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

// Prefix starts the name of every namespace, bridge and veth this package
// creates, so that what a crashed run left behind can be found.
const Prefix = "epki-"

// LockDir holds one lock file per live run (LockDir/<id>.lock, flock'ed
// for the run's life). A run whose lock nobody holds has ended, however it
// ended; /run is a tmpfs, cleared at boot with the namespaces themselves.
var LockDir = "/run/etcdpki"

// Interface names are limited to 15 bytes (IFNAMSIZ, 16 with the NUL):
// "epki-" + 4 hex digits + "-br" or "-h" and a member number up to 7 fits
// with room to spare. Namespace names are file names in /run/netns and
// may be longer, so they carry the member's name.
const idLen = 4

// names are the resources of one run.
type names struct{ id string }

func (n names) bridge() string { return Prefix + n.id + "-br" }

// veth is the root-namespace end of member i's (1-based) veth pair, the
// port on the bridge. The other end is created directly inside the
// member's namespace as eth0 (ip link add … peer name eth0 netns NS), so
// it never has a name in the root namespace.
func (n names) veth(i int) string { return fmt.Sprintf("%s%s-h%d", Prefix, n.id, i) }

func (n names) netns(member string) string { return Prefix + n.id + "-" + member }

// idOf returns the run ID in a resource name, or "" if the name is not
// one of ours.
func idOf(name string) string {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok || len(rest) < idLen+1 || rest[idLen] != '-' {
		return ""
	}
	id := rest[:idLen]
	if _, err := hex.DecodeString(id); err != nil {
		return ""
	}
	return id
}

func lockPath(id string) string { return filepath.Join(LockDir, id+".lock") }
