package spec

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/etcdpki/etcdpki/internal/readfile"

	"sigs.k8s.io/yaml"
)

// Load reads a cluster spec from a YAML (or JSON) file, rejecting unknown
// fields so that a typo such as "member:" or "ip:" is an error rather than
// a silently ignored setting. The result has defaults applied and is
// validated.
func Load(path string) (*Cluster, error) {
	// The one bounded reader: a FIFO or /dev/zero named as the spec
	// must not hang or exhaust memory.
	data, err := readfile.Read(path)
	if err != nil {
		var re *readfile.Error
		if errors.As(err, &re) {
			err = re.Err
		}
		return nil, &FieldError{Field: "--config", Detail: path + ": " + err.Error()}
	}
	return Parse(data, path)
}

// Parse is Load for data already read; name is used in error messages.
func Parse(data []byte, name string) (*Cluster, error) {
	var c Cluster
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, &FieldError{Field: name, Detail: cleanYAMLError(err)}
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// cleanYAMLError drops the "error converting YAML to JSON" prefix noise of
// sigs.k8s.io/yaml while keeping line numbers and field names.
func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "error converting YAML to JSON: ")
	s = strings.TrimPrefix(s, "error unmarshaling JSON: while decoding JSON: ")
	s = strings.Replace(s, "json: unknown field", "unknown field", 1)
	return s
}

// Marshal renders c as YAML, the form init stores next to its output.
func Marshal(c *Cluster) ([]byte, error) {
	return yaml.Marshal(c)
}

// ParseMember parses a --member flag value: NAME=ADDR[,ADDR…], where each
// ADDR is an IP address or a DNS name, e.g. "cp2=10.0.0.12,cp2.example.com".
func ParseMember(s string) (Member, error) {
	name, addrs, ok := strings.Cut(s, "=")
	field := "--member " + s
	if !ok || name == "" || addrs == "" {
		return Member{}, &FieldError{Field: field, Detail: "want NAME=IP[,IP|DNS…], e.g. cp1=10.0.0.11"}
	}
	m := Member{Name: name}
	for _, a := range strings.Split(addrs, ",") {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			return Member{}, &FieldError{Field: field, Detail: "empty address"}
		case net.ParseIP(a) != nil || looksLikeIP(a):
			// Invalid IPs are kept so Validate names them precisely.
			m.IPs = append(m.IPs, a)
		default:
			m.DNSNames = append(m.DNSNames, a)
		}
	}
	return m, nil
}

// FromFlags builds and validates a spec from --member values over base
// (which carries the other flags' settings).
func FromFlags(base Cluster, members []string) (*Cluster, error) {
	c := base
	for _, s := range members {
		m, err := ParseMember(s)
		if err != nil {
			return nil, err
		}
		c.Members = append(c.Members, m)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Loopback returns a spec for n members on 127.0.0.1, 127.0.0.2, …, the
// cluster that up and the tests run in-process. Linux routes all of
// 127.0.0.0/8 to lo, so each member gets an address of its own.
func Loopback(n, clientPort, peerPort, metricsPort int) (*Cluster, error) {
	if n < 1 || n > 254 {
		return nil, &FieldError{Field: "--members", Detail: fmt.Sprintf("%d out of range", n)}
	}
	c := Cluster{Name: "etcdpki-local", ClientPort: clientPort, PeerPort: peerPort, MetricsPort: metricsPort}
	for i := 1; i <= n; i++ {
		c.Members = append(c.Members, Member{
			Name: fmt.Sprintf("etcd-%d", i),
			IPs:  []string{fmt.Sprintf("127.0.0.%d", i)},
		})
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
