//go:build unix

package localfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/pkg/localfile"
)

// A FIFO, a directory and a device are refused at once, through a plain
// path and inside a root alike; a regular file is read, up to its limit.
func TestOnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	within := func(name string, fn func() error) error {
		done := make(chan error, 1)
		go func() { done <- fn() }()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: blocked", name)
			return nil
		}
	}
	for _, p := range []string{fifo, filepath.Join(dir, "sub"), "/dev/zero"} {
		err := within(p, func() error { _, err := localfile.Read(p, 10); return err })
		if !errors.Is(err, localfile.ErrNotRegular) {
			t.Errorf("Read(%s): %v, want ErrNotRegular", p, err)
		}
	}
	for _, rel := range []string{"fifo", "sub"} {
		err := within(rel, func() error { _, err := localfile.ReadIn(root, rel, 10); return err })
		if !errors.Is(err, localfile.ErrNotRegular) {
			t.Errorf("ReadIn(%s): %v, want ErrNotRegular", rel, err)
		}
	}
	if _, err := localfile.ReadIn(root, "../etc/passwd", 10); err == nil {
		t.Error("ReadIn left its root")
	}
	if data, err := localfile.Read(filepath.Join(dir, "file"), 5); err != nil || string(data) != "12345" {
		t.Errorf("Read(file, 5) = %q, %v", data, err)
	}
	if _, err := localfile.ReadIn(root, "file", 4); !errors.Is(err, localfile.ErrTooLarge) {
		t.Errorf("ReadIn(file, 4): %v, want ErrTooLarge", err)
	}
}
