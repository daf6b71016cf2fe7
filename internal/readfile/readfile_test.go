//go:build unix

package readfile

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenStream: a log is a regular file or a pipe; a directory or a
// device is refused, and a FIFO without a writer reads as empty at once
// instead of blocking.
func TestOpenStream(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "etcd.log")
	if err := os.WriteFile(log, []byte("line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenStream(log)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "line\n" {
		t.Errorf("read %q", b)
	}
	for path, want := range map[string]string{dir: "is a directory", "/dev/zero": "is not a regular file or a pipe", filepath.Join(dir, "missing"): "no such file"} {
		if _, err := OpenStream(path); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("OpenStream(%s) = %v, want an error naming it that says %q", path, err, want)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := OpenStream(fifo)
		if err == nil {
			_, err = io.ReadAll(f)
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("a FIFO without a writer: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenStream blocked on a FIFO without a writer")
	}
}
