package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
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
	return []*cobra.Command{newAddMemberCmd(), newReplaceMemberCmd(), newRenewCmd(), newRotateCACmd()}
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
	return "copy each changed member's tree to its node and install it there, e.g.\n  " + installHint(layout.MemberDir(dir, m.Name), m.AdvertiseHost())
}

// installHint is how to put a member tree on its node: copied into root's
// home (not a shared /tmp another user may have made the name in) and
// placed by etcdpki install, which keeps the node's directory modes,
// writes atomically and backs up what it replaces. rsync -a of the tree
// to / would copy the tree's directory modes onto the node's.
func installHint(tree, host string) string {
	name := "etcdpki-" + filepath.Base(tree)
	return fmt.Sprintf("scp -rp %s root@%s:%s && ssh root@%s 'etcdpki install --from %s && rm -rf %s'", tree, host, name, host, name, name)
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

// The -o json and yaml documents of add-member, renew and rotate-ca's
// steps. package lifecycle's results carry no JSON names; these give them
// the lower-camel names of check's and rotate-ca status's documents.

// filesDoc is a [lifecycle.Result]: the files a command wrote.
type filesDoc struct {
	Dir       string   `json:"dir"`
	Written   []string `json:"written"`
	Unchanged []string `json:"unchanged,omitempty"`
	Repaired  []string `json:"repaired,omitempty"`
	// Backup is the backup directory's path (under Dir), empty when no
	// file was replaced.
	Backup string `json:"backup,omitempty"`
}

func newFilesDoc(res *lifecycle.Result) filesDoc {
	d := filesDoc{Dir: res.Dir, Written: orEmpty(res.Written), Unchanged: res.Unchanged, Repaired: res.Repaired}
	if res.Backup != "" {
		d.Backup = filepath.Join(res.Dir, res.Backup)
	}
	return d
}

// issuedDoc is a [lifecycle.Issued].
type issuedDoc struct {
	Member         string    `json:"member"`
	Kind           pki.Kind  `json:"kind"`
	Serial         string    `json:"serial"`
	Fingerprint    string    `json:"fingerprint"`
	OldSerial      string    `json:"oldSerial,omitempty"`
	OldFingerprint string    `json:"oldFingerprint,omitempty"`
	NotAfter       time.Time `json:"notAfter"`
	KeyReused      bool      `json:"keyReused"`
}

func issuedDocs(issued []lifecycle.Issued) []issuedDoc {
	out := []issuedDoc{}
	for _, is := range issued {
		out = append(out, issuedDoc{is.Member, is.Kind, is.Serial, is.Fingerprint, is.OldSerial, is.OldFingerprint, is.NotAfter.UTC(), is.KeyReused})
	}
	return out
}

// caDoc names a CA certificate, as the text output does: subject CN, key
// and expiry.
type caDoc struct {
	Subject  string    `json:"subject"`
	Key      string    `json:"key"`
	NotAfter time.Time `json:"notAfter"`
}

func newCADoc(c *x509.Certificate) caDoc {
	return caDoc{c.Subject.CommonName, pki.KeyDescription(c.PublicKey), c.NotAfter.UTC()}
}

// orEmpty makes a nil list an empty one, so JSON says [] rather than null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
