package lifecycle_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

func TestRenewAll(t *testing.T) {
	out := threeMembers(t)
	before := snapshot(t, out)
	res, err := lifecycle.Renew(out, lifecycle.RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 12 {
		t.Errorf("issued %d certificates, want 12 (3 members x 4 leaves)", len(res.Issued))
	}
	after := snapshot(t, out)
	got := changed(before, after)
	// Every leaf and its key, nothing else: not the CA, not ca.crt or
	// ca.key on the members, not the spec.
	if len(got) != 24 {
		t.Errorf("%d files changed, want 24: %v", len(got), got)
	}
	for _, p := range got {
		if strings.Contains(p, "ca.") || strings.HasPrefix(p, "ca/") || p == "cluster.yaml" {
			t.Errorf("renew changed %s", p)
		}
	}
	// Each replaced file is in the backup, as it was, with its mode.
	if res.Backup == "" || !strings.HasPrefix(res.Backup, "backups/") || !strings.HasSuffix(res.Backup, "-renew") {
		t.Fatalf("backup dir %q", res.Backup)
	}
	for _, p := range got {
		b, err := os.ReadFile(filepath.Join(out, res.Backup, p))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != before[p] {
			t.Errorf("backup of %s differs from the old file", p)
		}
		st, _ := os.Stat(filepath.Join(out, res.Backup, p))
		if strings.HasSuffix(p, ".key") && st.Mode().Perm() != 0o600 {
			t.Errorf("backup of %s has mode %v", p, st.Mode().Perm())
		}
	}
	for _, is := range res.Issued {
		if is.Serial == is.OldSerial || is.OldSerial == "" || is.KeyReused {
			t.Errorf("%s %s: serial %s (old %s), key reused %v", is.Member, is.Kind, is.Serial, is.OldSerial, is.KeyReused)
		}
	}
	checkClean(t, out)

	// With a window that no certificate is near, nothing is renewed and
	// nothing written.
	res, err = lifecycle.Renew(out, lifecycle.RenewOptions{ExpiringWithin: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 0 || len(res.Kept) != 12 || len(res.Written) != 0 || res.Backup != "" {
		t.Errorf("second renew: issued %d, kept %d, wrote %v, backup %q", len(res.Issued), len(res.Kept), res.Written, res.Backup)
	}
	// A window past the certificates' expiry renews them all again.
	res, err = lifecycle.Renew(out, lifecycle.RenewOptions{ExpiringWithin: 400 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 12 {
		t.Errorf("renew within 400d issued %d, want 12", len(res.Issued))
	}
}

func TestRenewSelection(t *testing.T) {
	out := threeMembers(t)
	before := snapshot(t, out)
	res, err := lifecycle.Renew(out, lifecycle.RenewOptions{Members: []string{"cp2"}, Kinds: []pki.Kind{pki.KindPeer}, ReuseKey: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cp2/etc/kubernetes/pki/etcd/peer.crt"}
	if got := changed(before, snapshot(t, out)); !slices.Equal(got, want) {
		t.Errorf("changed %v, want %v (the key is reused)", got, want)
	}
	if len(res.Issued) != 1 || !res.Issued[0].KeyReused {
		t.Errorf("issued %+v", res.Issued)
	}
	checkClean(t, out)

	for _, tt := range []struct {
		name string
		opts lifecycle.RenewOptions
		want string
	}{
		{"unknown member", lifecycle.RenewOptions{Members: []string{"cp9"}}, `no member "cp9"`},
		{"unknown kind", lifecycle.RenewOptions{Kinds: []pki.Kind{"peer-client"}}, `unknown certificate kind "peer-client"`},
		{"addresses need one member", lifecycle.RenewOptions{AddIPs: []string{"10.0.0.99"}}, "name exactly one member"},
		{"addresses need the serving kinds", lifecycle.RenewOptions{Members: []string{"cp1"}, Kinds: []pki.Kind{pki.KindServer}, AddIPs: []string{"10.0.0.99"}}, "leave out peer"},
		{"remove an address the member lacks", lifecycle.RenewOptions{Members: []string{"cp1"}, RemoveIPs: []string{"10.0.0.12"}}, "IP 10.0.0.12 is not one of member cp1's"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, out)
			_, err := lifecycle.Renew(out, tt.opts)
			var re *lifecycle.RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a refusal containing %q", err, tt.want)
			}
			if got := changed(before, snapshot(t, out)); len(got) != 0 {
				t.Errorf("a refused renew changed %v", got)
			}
		})
	}
}

func TestRenewChangedAddress(t *testing.T) {
	out := threeMembers(t)
	before := snapshot(t, out)
	res, err := lifecycle.Renew(out, lifecycle.RenewOptions{Members: []string{"cp2"}, AddIPs: []string{"10.0.1.12"}, AddDNSNames: []string{"cp2.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.SpecChanged || res.PeerURL != nil {
		t.Errorf("SpecChanged %v, PeerURL %+v: want the spec changed, the advertised URL not", res.SpecChanged, res.PeerURL)
	}
	c, err := spec.Load(layout.SpecFile(out))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := c.Member("cp2")
	if !slices.Equal(m.IPs, []string{"10.0.0.12", "10.0.1.12"}) || !slices.Equal(m.DNSNames, []string{"cp2.example.com"}) {
		t.Errorf("cp2 in the spec: %+v", m)
	}
	for _, kind := range []pki.Kind{pki.KindServer, pki.KindPeer} {
		cert := readCert(t, certPath(out, "cp2", kind))
		if err := cert.VerifyHostname("10.0.1.12"); err != nil {
			t.Errorf("cp2 %s: %v", kind, err)
		}
		if err := cert.VerifyHostname("cp2.example.com"); err != nil {
			t.Errorf("cp2 %s: %v", kind, err)
		}
	}
	for _, p := range changed(before, snapshot(t, out)) {
		if !strings.HasPrefix(p, "cp2/") && p != "cluster.yaml" {
			t.Errorf("changed %s, another member's file", p)
		}
	}
	checkClean(t, out)

	// Removing the advertised address changes the peer URL, which the
	// running cluster must be told about.
	res, err = lifecycle.Renew(out, lifecycle.RenewOptions{Members: []string{"cp2"}, RemoveIPs: []string{"10.0.0.12"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.PeerURL == nil || res.PeerURL.Old != "https://10.0.0.12:2380" || res.PeerURL.New != "https://10.0.1.12:2380" {
		t.Errorf("PeerURL %+v", res.PeerURL)
	}
	cert := readCert(t, certPath(out, "cp2", pki.KindServer))
	if slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("10.0.0.12")) }) {
		t.Errorf("server.crt still names 10.0.0.12: %v", cert.IPAddresses)
	}

	// Another member's address is refused by the spec's validation,
	// which names the field, and nothing is written.
	before = snapshot(t, out)
	_, err = lifecycle.Renew(out, lifecycle.RenewOptions{Members: []string{"cp3"}, AddIPs: []string{"10.0.0.11"}})
	if !spec.IsValidationError(err) || !strings.Contains(err.Error(), "members[2].ips[1]: duplicate IP 10.0.0.11 (also members[0].ips[0])") {
		t.Errorf("got %v, want a validation error naming members[2].ips[1]", err)
	}
	if got := changed(before, snapshot(t, out)); len(got) != 0 {
		t.Errorf("a refused renew changed %v", got)
	}
}

func TestRenewNeverTouchesCA(t *testing.T) {
	out := initPKI(t, func(c *spec.Cluster) { c.ExternalCA = true; c.SplitCredentials = true }, "cp1=10.0.0.11", "cp2=10.0.0.12")
	before := snapshot(t, out)
	res, err := lifecycle.Renew(out, lifecycle.RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 12 {
		t.Errorf("issued %d, want 12 (2 members x 6 leaves with split credentials)", len(res.Issued))
	}
	for _, p := range changed(before, snapshot(t, out)) {
		if strings.Contains(p, "/ca.") || strings.HasPrefix(p, "ca/") {
			t.Errorf("renew changed %s", p)
		}
	}
	checkClean(t, out)
}
