package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// lifecycleCommands are the day-2 commands that change a cluster's files:
// add-member, renew, rotate-ca (issue 5). They call package lifecycle.
func lifecycleCommands() []*cobra.Command {
	return []*cobra.Command{newAddMemberCmd(), newRenewCmd(), newRotateCACmd()}
}

// lifecycleErr makes a lifecycle refusal a usage error (exit 2) with its
// hint: the user asked for something that is not safe or possible now.
func lifecycleErr(err error) error {
	var re *lifecycle.RefusedError
	if errors.As(err, &re) {
		return withHint(usageErr(err), re.Hint)
	}
	return err
}

// memberNamesFlag checks --member values that name existing members.
func memberNamesFlag(names []string) error {
	for _, n := range names {
		if strings.Contains(n, "=") {
			return withHint(usagef("--member takes a member name here (got %q)", n), "addresses change with --add-ip/--remove-ip; new members come with add-member")
		}
	}
	return nil
}

// printIssued lists issued certificates, one a line.
func printIssued(w io.Writer, issued []lifecycle.Issued, withMember bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, is := range issued {
		key := "new key"
		if is.KeyReused {
			key = "same key"
		}
		name := string(is.Kind)
		if withMember {
			name = is.Member + "\t" + name
		}
		fmt.Fprintf(tw, "  %s\t%s\tserial %s\texpires %s\n", name, key, is.Serial, is.NotAfter.UTC().Format(time.DateOnly))
	}
	tw.Flush()
}

// printBackup says where the replaced files went, if any were replaced.
func printBackup(w io.Writer, res *lifecycle.Result) {
	for _, p := range res.Repaired {
		fmt.Fprintf(w, "completed the interrupted write of %s\n", filepath.Join(res.Dir, p))
	}
	if res.Backup != "" {
		fmt.Fprintf(w, "backup of the replaced files: %s\n", filepath.Join(res.Dir, res.Backup))
	}
}

// copyHint is how to put a member's changed tree on its node.
func copyHint(c *spec.Cluster, dir string, members []string) string {
	if len(members) == 0 {
		return ""
	}
	m, err := c.Member(members[0])
	if err != nil {
		return ""
	}
	return fmt.Sprintf("copy each changed member's tree to its node, e.g. rsync -a %s/ root@%s:/", layout.MemberDir(dir, m.Name), m.AdvertiseHost())
}

// kindsFlag parses --kind values.
func kindsFlag(kinds []string) []pki.Kind {
	var out []pki.Kind
	for _, k := range kinds {
		out = append(out, pki.Kind(k))
	}
	return out
}

// count is "1 certificate" or "n certificates".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
