package audit_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/pki"
)

// TestReportFormats: the JSON report of a clean check has an empty list of
// findings (jq '.findings[]' must not fail on it), and a failing check's
// JSON, YAML and text all carry the finding, its file and the verdict.
func TestReportFormats(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	r, err := audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var clean map[string]any
	if err := json.Unmarshal(out.Bytes(), &clean); err != nil {
		t.Fatal(err)
	}
	if fs, ok := clean["findings"].([]any); !ok || len(fs) != 0 {
		t.Errorf("clean report: findings = %#v, want []", clean["findings"])
	}

	c.Reissue("cp3", pki.KindServer, testca.SANs("cp3", "localhost", "::1", "10.0.0.13"))
	r, err = audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	file := c.CertPath("cp3", pki.KindServer)
	var decoded audit.Report
	out.Reset()
	if err := r.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded.Findings) != 1 || decoded.Findings[0].Rule != audit.RuleServerLoopback ||
		decoded.Findings[0].Severity != audit.Error || decoded.Findings[0].File != file || decoded.Verdict.ClientsConnect {
		t.Errorf("JSON round trip: %+v", decoded)
	}
	out.Reset()
	if err := r.WriteYAML(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rule: R4-SERVER-LOOPBACK", "severity: error", "clientsConnect: false", "file: " + file} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("YAML lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := r.WriteText(&out, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"member cp3 (", "error   R4-SERVER-LOOPBACK  " + file, "fix: Re-issue server.crt with 127.0.0.1", "\nFAIL the cluster will form (3 of 3 members); clients will fail on cp3 (R4-SERVER-LOOPBACK) (1 errors, 0 warnings, 0 notes)\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Error("text report without colour has escape codes")
	}
	out.Reset()
	if err := r.WriteText(&out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[31merror\x1b[0m") {
		t.Errorf("coloured text report lacks a red error:\n%q", out.String())
	}
}

// TestVerdictWordAgreesWithCounts: an error that breaks nothing yet (a
// weak key) still makes the text verdict FAIL, never WARN with "1 errors".
func TestVerdictWordAgreesWithCounts(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	c.ReissueFrom(c.CA, "cp2", pki.KindHealthcheckClient, testca.RSAKey(t, 1024))
	r, err := audit.CheckDirs([]string{c.Dir}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict.Errors == 0 {
		t.Fatalf("no error for a 1024-bit key:\n%s", findings(r))
	}
	var b strings.Builder
	if err := r.WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	last := strings.TrimSpace(b.String())
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.HasPrefix(last, "FAIL ") {
		t.Errorf("verdict line %q, want FAIL with %d errors", last, r.Verdict.Errors)
	}
}
