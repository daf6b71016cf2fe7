package exporter_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/exporter"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
)

// faultyPeers serves cp2's and cp3's exporters of a kubeadm cluster whose
// cp2 peer certificate lacks clientAuth (R3-PEER-EKU… on cp2) and returns
// cp1's exporter, aggregating them, scanned once.
func faultyPeers(t *testing.T) (*exporter.Exporter, *testca.Cluster) {
	t.Helper()
	c := testca.New(t, testca.Options{Manifests: true})
	c.Reissue("cp2", pki.KindPeer, testca.EKU(x509.ExtKeyUsageServerAuth))
	peers := []string{peerServer(t, c, "cp2").URL + "/bundle", peerServer(t, c, "cp3").URL + "/bundle"}
	e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: peers, Now: func() time.Time { return c.Now }})
	return e, c
}

// TestPage: the page at / shows the verdict, the planted fault's rule
// under its member with the fix, the expiry table and the trust graph
// with the broken edge, and loads nothing from elsewhere.
func TestPage(t *testing.T) {
	e, c := faultyPeers(t)
	url := serve(t, e, time.Minute)
	body := get(t, url+"/")
	want, err := audit.CheckDirs([]string{c.MemberDir("cp1"), c.MemberDir("cp2"), c.MemberDir("cp3")}, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`<div class="verdict bad" id="verdict">` + want.Verdict.Summary + `</div>`,
		`<meta http-equiv="refresh" content="60">`,
		`<table id="expiry">`,
		`<div class="graph" id="graph"><svg `,
		`class="broken"`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
	// Each finding of check over the three trees is under its member.
	for _, f := range want.Findings {
		re := regexp.MustCompile(`(?s)<h3 class="member">` + regexp.QuoteMeta(f.Member) + ` <span.*?<code>` + regexp.QuoteMeta(string(f.Rule)) + `</code>`)
		if f.Severity == audit.Error && !re.MatchString(body) {
			t.Errorf("the page does not show %s under %s", f.Rule, f.Member)
		}
	}
	if ext := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).FindString(body); ext != "" {
		t.Errorf("the page loads %s from elsewhere: it must work offline", ext)
	}
}

// TestPageNoVerdict: a scan that could not see a peer claims no verdict on
// its page, and says why.
func TestPageNoVerdict(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Peers: []string{"http://127.0.0.1:1/bundle"}, PeerTimeout: time.Second})
	url := serve(t, e, time.Hour)
	body := get(t, url+"/")
	for _, w := range []string{`<div class="verdict unknown" id="verdict">No verdict: the scan did not see the whole cluster.`, `<li>peer http://127.0.0.1:1/bundle: `, `<td>stale</td><td>never</td>`} {
		if !strings.Contains(body, w) {
			t.Errorf("the page lacks %q:\n%s", w, body)
		}
	}
}

// TestPageInChromium opens the page in a real headless browser (Debian's
// chromium): the DOM it loaded shows the planted fault's rule under its
// member and the verdict, and a screenshot of it, kept in the test's
// artifact directory (go test -artifacts), shows the red verdict banner.
// The browser resolves no name and reaches only the loopback exporter.
func TestPageInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed; .ci/run installs it")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	e, _ := faultyPeers(t)
	url := serve(t, e, time.Minute)
	dir := t.TempDir()
	runs := 0
	chrome := func(args ...string) []byte {
		t.Helper()
		runs++
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{
			"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
			"--disable-default-apps", "--metrics-recording-only", "--no-pings",
			// Nothing but the exporter: every other name fails to resolve.
			"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
			// A profile per run: the last run's browser may still be
			// exiting with its profile locked.
			"--user-data-dir=" + filepath.Join(dir, fmt.Sprintf("profile%d", runs)),
		}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %s: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}
	dom := string(chrome("--dump-dom", url+"/"))
	for _, re := range []string{
		`<div class="verdict bad" id="verdict">`,
		`(?s)<h3 class="member">cp2 <span.*?<code>` + string(audit.RuleEKUPeerClient) + `</code>`,
		`<svg `,
	} {
		if !regexp.MustCompile(re).MatchString(dom) {
			t.Errorf("chromium's DOM lacks %s", re)
		}
	}
	shot := filepath.Join(t.ArtifactDir(), "exporter-page.png")
	chrome("--window-size=1400,2400", "--hide-scrollbars", "--screenshot="+shot, url+"/")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 2400 {
		t.Errorf("the screenshot is %v", b)
	}
	// The verdict banner's background, #fdecea, is on the screen.
	if !hasColor(img, 0xfd, 0xec, 0xea) {
		t.Error("the screenshot shows no red verdict banner")
	}
	t.Logf("screenshot: %s", shot)
}

// hasColor reports whether some pixel of img is the colour r, g, b.
func hasColor(img image.Image, r, g, b uint8) bool {
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if uint8(cr>>8) == r && uint8(cg>>8) == g && uint8(cb>>8) == b {
				return true
			}
		}
	}
	return false
}

// get GETs url and returns its body, failing unless it is 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(body)
}

// TestPageExpiryColours: the expiry table is amber for a certificate
// that expires within 30 days and red within 7, as the deployed alerts
// are; the CA, ten years off, is neither.
func TestPageExpiryColours(t *testing.T) {
	c := testca.New(t, testca.Options{Manifests: true})
	leaf, err := layout.ReadCert(c.CertPath("cp1", pki.KindServer))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`<tr class="([a-z]*)"><td>cp1</td><td>etcd-server</td>`)
	ca := regexp.MustCompile(`<tr class="([a-z]*)"><td>etcd-ca</td>`)
	for _, w := range []struct {
		left  time.Duration
		class string
	}{{60 * 24 * time.Hour, ""}, {20 * 24 * time.Hour, "warn"}, {3 * 24 * time.Hour, "bad"}, {-time.Hour, "bad"}} {
		now := leaf.NotAfter.Add(-w.left)
		e := exporter.New(exporter.Options{Dirs: []string{c.MemberDir("cp1")}, Now: func() time.Time { return now }})
		body := get(t, serve(t, e, time.Hour)+"/")
		if m := row.FindStringSubmatch(body); m == nil || m[1] != w.class {
			t.Errorf("%s left: the server certificate's row %q, want class %q", w.left, m, w.class)
		}
		if m := ca.FindStringSubmatch(body); m == nil || m[1] != "" {
			t.Errorf("%s left: the CA's row %q, want no class", w.left, m)
		}
	}
}
