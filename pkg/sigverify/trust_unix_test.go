//go:build unix

package sigverify_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// A trusted root named by mistake as a FIFO, a directory or a device is
// refused at once, never waited on.
func TestLoadTrustedRootRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "trusted_root.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	for _, p := range []string{fifo, dir, "/dev/zero"} {
		done := make(chan error, 1)
		go func() {
			_, err := sigverify.LoadTrustedRoot(p)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: %v", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: LoadTrustedRoot blocked", p)
		}
	}
}
