//go:build unix

package main

import (
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A report file never replaces what is not a regular file: a pipe or a
// device is written in place, a link's target is written and the link
// kept, a directory or a socket is refused.
func TestReportFileTargets(t *testing.T) {
	dir := t.TempDir()
	fill := func(w io.Writer) error { _, err := io.WriteString(w, "report\n"); return err }
	write := func(t *testing.T, p string) {
		t.Helper()
		if err := checkWritable(p); err != nil {
			t.Fatalf("checkWritable(%s): %v", p, err)
		}
		if err := writeFile(p, fill); err != nil {
			t.Fatalf("writeFile(%s): %v", p, err)
		}
	}
	content := func(t *testing.T, p string) string {
		t.Helper()
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	t.Run("new and existing files", func(t *testing.T) {
		p := filepath.Join(dir, "new.json")
		write(t, p)
		write(t, p)
		if got := content(t, p); got != "report\n" {
			t.Fatalf("content %q", got)
		}
	})
	t.Run("a link: its target is written, the link stays", func(t *testing.T) {
		target := filepath.Join(dir, "target.json")
		if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.json")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		write(t, link)
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
		}
		if got := content(t, target); got != "report\n" {
			t.Fatalf("target content %q", got)
		}
	})
	t.Run("a pipe is written through", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("no named pipes here: %v", err)
		}
		got := make(chan string, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- err.Error()
				return
			}
			defer f.Close()
			data, _ := io.ReadAll(f)
			got <- string(data)
		}()
		write(t, fifo)
		if s := <-got; s != "report\n" {
			t.Fatalf("read from the pipe %q", s)
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
			t.Fatalf("the pipe was replaced: %v %v", fi.Mode(), err)
		}
	})
	t.Run("a device stays a device", func(t *testing.T) {
		write(t, os.DevNull)
		if fi, err := os.Lstat(os.DevNull); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Fatalf("%s is no longer a device: %v %v", os.DevNull, fi.Mode(), err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		sock := filepath.Join(dir, "s.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		dangling := filepath.Join(dir, "dangling.json")
		if err := os.Symlink(filepath.Join(dir, "nothing"), dangling); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dir, sock, dangling, "/dev/k8sverify-report.json"} {
			if err := checkWritable(p); err == nil {
				t.Errorf("checkWritable(%s) accepted", p)
			}
			if err := writeFile(p, fill); err == nil {
				t.Errorf("writeFile(%s) wrote", p)
			}
		}
		if _, err := os.Lstat("/dev/k8sverify-report.json"); err == nil {
			os.Remove("/dev/k8sverify-report.json")
			t.Error("a file was created under /dev")
		}
	})
}

// -o FORMAT= names no file, and two reports cannot share one.
func TestOutputFilesRefused(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	for _, specs := range [][]string{
		{"json="},
		{"json=" + a, "junit=" + a},
		{"json=" + a, "junit=" + filepath.Join(dir, ".", "a")},
	} {
		o := outputs{specs: specs, allowed: []string{"table", "json", "junit"}}
		if _, err := o.parse(); err == nil || !strings.Contains(err.Error(), "-o") {
			t.Errorf("%v: %v, want a usage error", specs, err)
		}
	}
	o := outputs{specs: []string{"json=" + a, "junit=" + filepath.Join(dir, "b")}, allowed: []string{"json", "junit"}}
	if _, err := o.parse(); err != nil {
		t.Errorf("two files: %v", err)
	}
}
