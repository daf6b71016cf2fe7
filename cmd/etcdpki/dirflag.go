package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// defaultDir is init's output directory when --out is not given, and so
// the --dir of every command that reads or changes init's output (flags,
// add-member, renew, rotate-ca): 'etcdpki init …; etcdpki flags --member
// cp1' works in a fresh directory.
const defaultDir = "etcd-pki"

// dirFlag registers --dir/-d, init's output directory, with its one
// default.
func dirFlag(fs *pflag.FlagSet, dir *string) {
	fs.StringVarP(dir, "dir", "d", defaultDir, "init's output `DIR` (its --out)")
}

// memberNamesFlag checks --member values of the commands where --member
// names an existing member (flags, renew, rotate-ca): NAME only. On init
// and add-member --member defines one, as NAME=IP; a user who writes that
// here is told the difference. The returned error is a usage error.
func memberNamesFlag(names ...string) error {
	for _, n := range names {
		if name, _, ok := strings.Cut(n, "="); ok {
			return withHint(usagef("--member %s: give the member's name only here (--member %s)", n, name),
				"NAME=IP defines a member, with init or add-member; addresses change with renew --add-ip/--remove-ip")
		}
	}
	return nil
}

// dirArg is " --dir DIR" for a command line that this output suggests, or
// nothing when DIR is the default.
func dirArg(dir string) string {
	if dir == defaultDir {
		return ""
	}
	return " --dir " + dir
}
