package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

// TestProbeCommand probes a running 3-member cluster (ports 24579-24581 on
// 127.0.0.1-3; 24590-24599 are left closed) through the CLI, with the
// etcdctl environment variables and with flags; testdata/script/probe.txtar
// covers the usage errors.
func TestProbeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an etcd cluster")
	}
	cl, err := local.Start(context.Background(), local.Options{Dir: t.TempDir(), Members: 3, ClientPort: 24579, PeerPort: 24580, MetricsPort: 24581})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	l, _ := layout.ForName(cl.Spec().Layout)
	root := layout.MemberDir(cl.Dir(), "etcd-2")
	ca := layout.OnDisk(root, l.CertPath(pki.KindCA))
	cert := layout.OnDisk(root, l.CertPath(pki.KindHealthcheckClient))
	key := layout.OnDisk(root, l.KeyPath(pki.KindHealthcheckClient))
	const closed = "https://127.0.0.1:24599"

	// report is what -o json and -o yaml carry, as far as the test reads it.
	type report struct {
		SchemaVersion string `json:"schemaVersion"`
		Members       []struct {
			Name string `json:"name"`
		} `json:"members"`
		Findings []struct {
			Rule string `json:"rule"`
			File string `json:"file"`
		} `json:"findings"`
		Endpoints []struct {
			Member    string `json:"member"`
			URL       string `json:"url"`
			Port      string `json:"port"`
			Reachable bool   `json:"reachable"`
			ReadOK    *bool  `json:"readOK"`
		} `json:"endpoints"`
	}
	probe := func(t *testing.T, wantCode int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"probe"}, args...), &stdout, &stderr); code != wantCode {
			t.Fatalf("etcdpki probe %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, &stdout, &stderr)
		}
		if stderr.Len() > 0 {
			t.Errorf("stderr: %s", &stderr)
		}
		return stdout.String()
	}
	healthy := func(t *testing.T, r report) {
		t.Helper()
		if r.SchemaVersion != "etcdpki.io/probe/v1" {
			t.Errorf("schemaVersion %q, want etcdpki.io/probe/v1", r.SchemaVersion)
		}
		var names []string
		for _, m := range r.Members {
			names = append(names, m.Name)
		}
		if strings.Join(names, ",") != "etcd-1,etcd-2,etcd-3" {
			t.Errorf("members %v, want etcd-1,etcd-2,etcd-3 (discovered)", names)
		}
		if len(r.Endpoints) != 6 {
			t.Errorf("%d endpoints, want 6: %+v", len(r.Endpoints), r.Endpoints)
		}
		for _, e := range r.Endpoints {
			if !e.Reachable || e.ReadOK == nil || !*e.ReadOK {
				t.Errorf("endpoint %+v: want reachable and read ok", e)
			}
		}
		if len(r.Findings) != 0 {
			t.Errorf("findings %+v, want none", r.Findings)
		}
	}

	t.Run("environment", func(t *testing.T) {
		t.Setenv("ETCDCTL_ENDPOINTS", cl.Endpoints()[1])
		t.Setenv("ETCDCTL_CACERT", ca)
		t.Setenv("ETCDCTL_CERT", cert)
		t.Setenv("ETCDCTL_KEY", key)
		var r report
		if err := json.Unmarshal([]byte(probe(t, 0, "-o", "json")), &r); err != nil {
			t.Fatal(err)
		}
		healthy(t, r)
	})

	t.Run("flags win", func(t *testing.T) {
		t.Setenv("ETCDCTL_ENDPOINTS", closed)
		t.Setenv("ETCDCTL_CACERT", "missing.crt")
		t.Setenv("ETCDCTL_CERT", "missing.crt")
		t.Setenv("ETCDCTL_KEY", "missing.key")
		var r report
		out := probe(t, 0, "-o", "yaml", "--endpoints", cl.Endpoints()[0], "--cacert", ca, "--cert", cert, "--key", key)
		if err := yaml.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		healthy(t, r)
	})

	t.Run("unreachable", func(t *testing.T) {
		// A cluster endpoint and a closed port: the cluster is discovered
		// through the first and probed; the second is a finding, exit 1.
		out := probe(t, 1, "-o", "json", "--timeout", "500ms", "--endpoints", cl.Endpoints()[2]+","+closed, "--cacert", ca, "--cert", cert, "--key", key)
		var r report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range r.Findings {
			got = append(got, string(f.Rule)+" "+f.File)
		}
		if want := "PROBE-UNREACHABLE " + closed; strings.Join(got, ",") != want {
			t.Errorf("findings %v, want %s", got, want)
		}
		if len(r.Endpoints) != 7 {
			t.Errorf("%d endpoints, want 7 (6 of the cluster and the closed one)", len(r.Endpoints))
		}
	})

	t.Run("text", func(t *testing.T) {
		out := probe(t, 0, "--endpoints", cl.Endpoints()[0], "--cacert", ca, "--cert", cert, "--key", key, "--no-discover")
		// MEMBER PORT URL TLS SERVED-SERIAL EXPIRES CHAIN NAME NO-CERT FOREIGN-CA TLS1.1 READ MS
		row := regexp.MustCompile(`(?m)^127\.0\.0\.1 +client +https://127\.0\.0\.1:24579 +TLS 1\.3 +[0-9A-F]+… +\d{4}-\d\d-\d\d +ok +ok +refused +refused +refused +ok +\d+$`)
		if !strings.HasPrefix(out, "MEMBER ") || !row.MatchString(out) {
			t.Errorf("text output lacks the header or a row matching %s:\n%s", row, out)
		}
		if !regexp.MustCompile(`(?m)^PASS .*\(0 errors, 0 warnings, 0 notes\)$`).MatchString(out) {
			t.Errorf("text output lacks a PASS verdict without findings:\n%s", out)
		}
	})
}
