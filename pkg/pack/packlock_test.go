package pack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// One writer at a time: a second fetch into the directory is refused
// while the first writes, and welcome after; a lock left by a process
// that no longer runs is taken over.
func TestPackLock(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v, want ErrLocked", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = Create(dir)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	w.Close()

	// A lock of a process that ended (a pid that cannot run: above the
	// kernel's pid_max) on this host is stale; one of another host is not.
	for _, tc := range []struct {
		held string
		ok   bool
	}{
		{fmt.Sprintf("%d %s 2026-01-01T00:00:00Z\n", 1<<30, hostname()), true},
		{fmt.Sprintf("%d other-host 2026-01-01T00:00:00Z\n", 1<<30), false},
		{fmt.Sprintf("%d %s 2026-01-01T00:00:00Z\n", os.Getpid(), hostname()), false},
	} {
		if err := os.WriteFile(filepath.Join(dir, packLockName), []byte(tc.held), 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := Create(dir)
		if (err == nil) != tc.ok {
			t.Errorf("lock %q: %v", tc.held, err)
		}
		if w != nil {
			w.Close()
		}
		os.Remove(filepath.Join(dir, packLockName))
	}
}
