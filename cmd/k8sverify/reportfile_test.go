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

// A report to the process's own stdout or stderr goes through that
// stream (reopening /dev/stderr would overwrite what the run writes
// there), and counts as the one report on stdout.
func TestReportToStandardStreams(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var stdout, stderr strings.Builder
		code := Run(t.Context(), args, &stdout, &stderr, func(string) string { return "" })
		return code, stdout.String(), stderr.String()
	}
	code, out, _ := run("list", "v1.24.17", "--offline", "-o", "json=/dev/stdout")
	if code != ExitOK || !strings.Contains(out, `"schemaVersion"`) {
		t.Errorf("json=/dev/stdout: exit %d, stdout %.80q", code, out)
	}
	code, out, errOut := run("list", "v1.24.17", "--offline", "-o", "json=/dev/stderr")
	if code != ExitOK || out != "" || !strings.HasPrefix(strings.TrimSpace(errOut), "{") {
		t.Errorf("json=/dev/stderr: exit %d, stdout %.80q, stderr %.80q", code, out, errOut)
	}
	if code, _, _ := run("list", "v1.24.17", "--offline", "-o", "table", "-o", "json=/dev/stdout"); code != ExitUsage {
		t.Errorf("two reports on stdout: exit %d", code)
	}
}

// No report replaces what the run reads: an input file, or a file inside
// an input directory; nor one file under two names.
func TestReportNeverReplacesAnInput(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "kubectl")
	pack := filepath.Join(dir, "pack")
	for _, err := range []error{os.WriteFile(input, []byte("binary"), 0o644), os.Mkdir(pack, 0o755), os.Symlink(pack, filepath.Join(dir, "packlink")),
		os.WriteFile(filepath.Join(dir, "h1.json"), nil, 0o644)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(dir, "h1.json"), filepath.Join(dir, "h2.json")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		specs  []string
		inputs []string
	}{
		{[]string{"json=" + input}, []string{input}},
		{[]string{"json=" + filepath.Join(dir, ".", "kubectl")}, []string{input}},
		{[]string{"json=" + filepath.Join(pack, "r.json")}, []string{pack}},
		{[]string{"json=" + filepath.Join(dir, "packlink", "r.json")}, []string{pack}},
		{[]string{"json=" + filepath.Join(pack, "r.json"), "junit=" + filepath.Join(dir, "packlink", "r.json")}, nil},
		{[]string{"json=" + filepath.Join(dir, "h1.json"), "junit=" + filepath.Join(dir, "h2.json")}, nil},
	} {
		o := outputs{specs: tc.specs, allowed: []string{"json", "junit"}}
		if _, err := o.parse(tc.inputs...); err == nil {
			t.Errorf("%v with inputs %v: accepted", tc.specs, tc.inputs)
		}
	}
	if data, _ := os.ReadFile(input); string(data) != "binary" {
		t.Errorf("the input was written: %q", data)
	}
	o := outputs{specs: []string{"json=" + filepath.Join(dir, "r.json")}, allowed: []string{"json"}}
	if _, err := o.parse(input, pack); err != nil {
		t.Errorf("a report beside the inputs: %v", err)
	}
}
