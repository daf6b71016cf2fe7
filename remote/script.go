package remote

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// What runs on the node. ssh(1) joins its command arguments with spaces
// and hands the line to the remote user's login shell, so every command
// here is one line, "sh -c 'SCRIPT' etcdpki-remote ARG…", each word
// single-quoted: the same line for bash, dash, zsh and the csh family,
// and a POSIX sh (with mktemp, as every Linux and BSD has) does the rest.
// The scripts speak to this side on stderr in lines starting with
// marker, and with exit statuses: 127 is sh's "command not found"
// (POSIX.1-2017 XCU 2.8.2), 126 "found but cannot run".
const (
	marker = "etcdpki-remote: "
	// absent is the marker line of a node without etcdpki, followed by
	// uname -s and uname -m.
	absent = marker + "absent "
	// exitScript is the streaming script's own failure (no temporary
	// directory, a short transfer), told apart from etcdpki's 1 and 2.
	exitScript = 125
)

// probeScript runs the etcdpki on the node's PATH (that of a
// non-interactive ssh session) with the script's arguments, or reports
// that there is none, with the node's system and machine. One round trip
// for a node that has etcdpki.
func probeScript(sudo bool) string {
	return `p=$(command -v etcdpki) && exec ` + sudoWord(sudo) + `"$p" "$@"; ` +
		`echo "` + absent + `$(uname -s) $(uname -m)" >&2; exit 127`
}

// streamScript receives an etcdpki of size bytes on stdin into a mktemp
// directory under ${TMPDIR:-/tmp} (mode 0700, as mktemp -d makes it),
// refuses a short transfer, runs it with the script's arguments and
// removes the directory when the script exits, also on SIGHUP (the ssh
// connection dropped), SIGINT, SIGPIPE and SIGTERM: sh runs the EXIT
// trap only on exit, so each signal's trap exits (with 128+signal, as
// sh reports a death by that signal). etcdpki is not exec'd: the trap
// must outlive it, and the script's status is etcdpki's.
func streamScript(size int64, sudo bool) string {
	return `d=$(mktemp -d "${TMPDIR:-/tmp}/etcdpki.XXXXXX") || { echo "` + marker + `cannot make a directory in ${TMPDIR:-/tmp}" >&2; exit 125; }; ` +
		`trap 'rm -rf "$d"' 0; trap 'exit 129' 1; trap 'exit 130' 2; trap 'exit 141' 13; trap 'exit 143' 15; ` +
		`cat > "$d/etcdpki" || exit 125; ` +
		fmt.Sprintf(`n=$(wc -c < "$d/etcdpki"); [ $n -eq %d ] || { echo "`+marker+`received $n of %d bytes of etcdpki" >&2; exit 125; }; `, size, size) +
		`chmod 700 "$d/etcdpki" || exit 125; ` + sudoWord(sudo) + `"$d/etcdpki" "$@"`
}

// sudoWord runs the node's etcdpki as root without asking for a
// password (sudo -n fails instead: nobody could type it under BatchMode).
func sudoWord(sudo bool) string {
	if sudo {
		return "sudo -n "
	}
	return ""
}

// shellLine is the command line ssh sends: sh -c SCRIPT with args as
// its positional parameters, every word quoted for a POSIX shell.
func shellLine(script string, args []string) string {
	words := []string{"sh", "-c", quote(script), "etcdpki-remote"}
	for _, a := range args {
		words = append(words, quote(a))
	}
	return strings.Join(words, " ")
}

// quote single-quotes s for a POSIX shell: inside single quotes nothing
// is special but the quote itself, which closes the quotes, is written
// escaped, and reopens them.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// collectArgs are etcdpki's arguments on the node for t.
func collectArgs(t Target, layout string) []string {
	args := []string{"collect"}
	if layout != "" {
		args = append(args, "--layout", layout)
	}
	if t.Path == "" {
		return append(args, "--local")
	}
	return append(args, "--", t.Path)
}

// unameSystems and unameMachines are what uname -s and uname -m print on
// a system that runs a program built for GOOS and GOARCH. 32-bit ARM is
// left out: armv6l or armv7l does not say which GOARM the node runs.
var (
	unameSystems = map[string]string{
		"linux": "Linux", "darwin": "Darwin", "freebsd": "FreeBSD", "netbsd": "NetBSD", "openbsd": "OpenBSD",
	}
	unameMachines = map[string][]string{
		"amd64":   {"x86_64", "amd64"},
		"arm64":   {"aarch64", "arm64"},
		"386":     {"i386", "i486", "i586", "i686"},
		"ppc64le": {"ppc64le"},
		"s390x":   {"s390x"},
		"riscv64": {"riscv64"},
		"loong64": {"loongarch64"},
	}
)

// runsOn reports whether a node whose uname -s and -m print system and
// machine runs a program built for goos and goarch.
func runsOn(goos, goarch, system, machine string) bool {
	return unameSystems[goos] != "" && unameSystems[goos] == system && slices.Contains(unameMachines[goarch], machine)
}

// thisPlatform is runtime.GOOS/GOARCH, as errors print it.
func thisPlatform() string { return runtime.GOOS + "/" + runtime.GOARCH }
