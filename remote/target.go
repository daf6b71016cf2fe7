package remote

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Scheme is the prefix of a node's URL.
const Scheme = "ssh://"

// Target is one node to collect: ssh://[user@]host[:port][/path].
type Target struct {
	// URL is the target as the user gave it; errors name the node by it.
	URL string
	// User and Port are passed to ssh as -l and -p; empty leaves them to
	// the user's ssh config.
	User string
	Host string
	Port string
	// Path is the directory on the node that collect reads; empty for
	// the node's root, which collect --local reads.
	Path string
}

// IsURL reports whether arg names a node over ssh rather than a
// directory or bundle file on this machine.
func IsURL(arg string) bool { return strings.HasPrefix(arg, Scheme) }

// ParseURL parses ssh://[user@]host[:port][/path]. The host is what ssh
// is given: a name of the user's ssh config, a DNS name or an address
// (IPv6 in brackets). The path, when there is one, is absolute on the
// node. The error is a *[URLError].
func ParseURL(s string) (Target, error) {
	fail := func(format string, args ...any) (Target, error) {
		return Target{}, &URLError{URL: s, Err: fmt.Errorf(format, args...)}
	}
	if !IsURL(s) {
		return fail("want %s[user@]host[:port][/path]", Scheme)
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("%v", err)
	}
	t := Target{URL: s, Host: u.Hostname(), Port: u.Port(), Path: u.Path}
	switch {
	case t.Host == "":
		return fail("no host")
	case strings.HasPrefix(t.Host, "-"):
		// ssh would read it as an option.
		return fail("host %q starts with '-'", t.Host)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return fail("no query or fragment, please")
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return fail("no password in the URL: ssh authenticates with your keys and agent")
		}
		t.User = u.User.Username()
		if t.User == "" || strings.HasPrefix(t.User, "-") {
			return fail("user %q", t.User)
		}
	}
	if t.Port != "" {
		if n, err := strconv.Atoi(t.Port); err != nil || n < 1 || n > 65535 {
			return fail("port %q is not 1-65535", t.Port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return fail("empty port")
	}
	if t.Path == "/" {
		t.Path = ""
	}
	return t, nil
}

// URLError is a malformed ssh:// URL.
type URLError struct {
	URL string
	Err error
}

func (e *URLError) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *URLError) Unwrap() error { return e.Err }
