//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/internal/testbin"
)

// TestSpecialFilesEveryCommand: a FIFO, a symlink to /dev/zero or a 2 GB
// sparse file where a command expects a small file (the spec, a member's
// CA or certificate) never hangs a command nor makes it read unbounded:
// each run ends within its time bound and under its memory bound, with
// an error (exit 2) that names the file, and nothing is written in its
// place. Every file read goes through the one bounded reader.
func TestSpecialFilesEveryCommand(t *testing.T) {
	bin := testbin.Etcdpki(t)
	kinds := map[string]func(t *testing.T, p string){
		"fifo": func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		},
		"dev-zero": func(t *testing.T, p string) {
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
		},
		"sparse-2GB": func(t *testing.T, p string) {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(2 << 30); err != nil {
				t.Skipf("sparse file: %v", err)
			}
			f.Close()
		},
	}
	// Each case names the file to replace (relative to an init output
	// "pki" with members cp1..cp3) and the command line.
	cases := []struct {
		name string
		file string
		args []string
	}{
		{"check spec", "pki/cluster.yaml", []string{"check", "pki"}},
		{"expiry spec", "pki/cluster.yaml", []string{"expiry", "pki"}},
		{"graph spec", "pki/cluster.yaml", []string{"graph", "pki"}},
		{"exporter spec", "pki/cluster.yaml", []string{"exporter", "--once", "pki"}},
		{"flags spec", "pki/cluster.yaml", []string{"flags", "--dir", "pki", "--member", "cp1"}},
		{"renew spec", "pki/cluster.yaml", []string{"renew", "--dir", "pki"}},
		{"add-member spec", "pki/cluster.yaml", []string{"add-member", "--dir", "pki", "--member", "cp4=10.0.0.14"}},
		{"rotate-ca status spec", "pki/cluster.yaml", []string{"rotate-ca", "status", "--dir", "pki"}},
		{"init spec", "pki/cluster.yaml", []string{"init", "--config", "pki/cluster.yaml", "--out", "pki2"}},
		{"init member ca.crt", "pki/cp2/etc/kubernetes/pki/etcd/ca.crt", []string{"init", "--member", "cp1=10.0.0.11", "--member", "cp2=10.0.0.12", "--member", "cp3=10.0.0.13", "--out", "pki", "--algo", "ecdsa-p256"}},
		{"renew server.crt", "pki/cp2/etc/kubernetes/pki/etcd/server.crt", []string{"renew", "--dir", "pki", "--member", "cp2", "--kind", "server"}},
		{"check server.crt", "pki/cp2/etc/kubernetes/pki/etcd/server.crt", []string{"check", "pki"}},
	}
	for kind, make := range kinds {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				init := exec.Command(bin, "init", "--member", "cp1=10.0.0.11", "--member", "cp2=10.0.0.12", "--member", "cp3=10.0.0.13", "--out", "pki", "--algo", "ecdsa-p256")
				init.Dir = dir
				if out, err := init.CombinedOutput(); err != nil {
					t.Fatalf("init: %v\n%s", err, out)
				}
				p := filepath.Join(dir, c.file)
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				make(t, p)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, c.args...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if ctx.Err() != nil {
					t.Fatalf("%v hangs on a %s at %s", c.args, kind, c.file)
				}
				if err == nil {
					t.Fatalf("%v: exit 0 with a %s at %s:\n%s", c.args, kind, c.file, out)
				}
				if rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss; rss > 300<<10 {
					t.Errorf("%v: %d KB max RSS with a %s (bounded reads want well under 300 MB)", c.args, rss, kind)
				}
				if code := cmd.ProcessState.ExitCode(); code != 1 && code != 2 {
					t.Errorf("%v: exit %d, want 1 (check's findings) or 2:\n%s", c.args, code, out)
				}
				// Nothing replaced the special file, and no backup copied it.
				if st, err := os.Lstat(p); err != nil || st.Mode().IsRegular() && st.Size() != 2<<30 {
					t.Errorf("%s changed: %v %v", c.file, st, err)
				}
				if bk, _ := filepath.Glob(filepath.Join(dir, "pki/backups/*", strings.TrimPrefix(c.file, "pki/"))); len(bk) > 0 {
					t.Errorf("backed up the special file: %v", bk)
				}
			})
		}
	}
}

// TestUnreadableMemberDir: a member directory the user cannot read is an
// error saying so (exit 2), not "no etcd PKI found" nor a missing server
// certificate. Run as nobody (setpriv) when the test runs as root.
func TestUnreadableMemberDir(t *testing.T) {
	bin := testbin.Etcdpki(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "node1")
	if err := os.MkdirAll(filepath.Join(dir, "etc/kubernetes/pki/etcd"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Let nobody reach it: only the test's own directories (TempDir and
	// the one the testing package made for it) are opened up.
	for _, p := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	cmd := exec.Command(bin, "check", dir)
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("root without setpriv: cannot make the directory unreadable")
		}
		cmd = exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "check", dir)
	}
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "cannot be read: permission denied") {
		t.Errorf("exit %d:\n%s\nwant exit 2 saying the directory cannot be read", code, out)
	}
}
