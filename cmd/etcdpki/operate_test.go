package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testca"
)

// TestExporterServes runs `etcdpki exporter` as its own process, as an
// operator does: it serves /metrics on the port it was given (0: any) and
// shuts down cleanly, exit status 0, on SIGTERM and on SIGINT.
func TestExporterServes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// TestMain runs this binary as etcdpki when it is called so.
	bin := filepath.Join(t.TempDir(), "etcdpki")
	if err := os.Symlink(exe, bin); err != nil {
		t.Fatal(err)
	}
	c := testca.New(t, testca.Options{Members: 1})
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "exporter", "--listen", "127.0.0.1:0", "--interval", "100ms", c.Dir)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := bufio.NewScanner(stderr)
			if !lines.Scan() {
				t.Fatalf("no output: %v", lines.Err())
			}
			m := regexp.MustCompile(`serving metrics on (http://127\.0\.0\.1:\d+/metrics)`).FindStringSubmatch(lines.Text())
			if m == nil {
				t.Fatalf("first line %q does not say where it serves", lines.Text())
			}
			resp, err := http.Get(m[1])
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(body, []byte(`x509_cert_expired{filename=`)) || !bytes.Contains(body, []byte("etcdpki_last_scan_success 1")) {
				t.Errorf("metrics:\n%s", body)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var rest strings.Builder
			for lines.Scan() {
				rest.WriteString(lines.Text() + "\n")
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit: %v; stderr:\n%s", err, rest.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no exit 10s after the signal")
			}
			if !strings.Contains(rest.String(), "etcdpki: shut down") {
				t.Errorf("stderr after the signal:\n%s", rest.String())
			}
		})
	}
}

// TestKeyProgress: the progress line rewrites itself and is cleared at
// the end; it is off (nil) when stderr is not a terminal.
func TestKeyProgress(t *testing.T) {
	var b bytes.Buffer
	if keyProgress(&b, "rsa-4096") != nil {
		t.Error("progress on a buffer, which is no terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if keyProgress(f, "rsa-4096") != nil {
		t.Error("progress on a regular file")
	}
	p := progressLine(&b, "rsa-4096")
	for i := 0; i <= 3; i++ {
		p(i, 3)
	}
	want := "\rgenerating 3 rsa-4096 keys: 0/3\rgenerating 3 rsa-4096 keys: 1/3\rgenerating 3 rsa-4096 keys: 2/3\r\x1b[K"
	if b.String() != want {
		t.Errorf("progress wrote %q, want %q", b.String(), want)
	}
}

func TestOrList(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  string
	}{{nil, ""}, {[]string{"a"}, "a"}, {[]string{"a", "b"}, "a or b"}, {[]string{"a", "b", "c"}, "a, b or c"}} {
		if got := orList(tc.words); got != tc.want {
			t.Errorf("orList(%q) = %q, want %q", tc.words, got, tc.want)
		}
	}
}
