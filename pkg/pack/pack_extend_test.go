package pack_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/pack"
)

// A fetch never overwrites the pack of another release: it refuses, and
// leaves it as it is.
func TestExtendPackRefusesAnotherRelease(t *testing.T) {
	dir := t.TempDir()
	pw, err := pack.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Finish(&pack.Manifest{Release: "v1.24.16", Complete: true}); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if _, _, err := pack.Extend(dir, "v1.24.17"); !errors.Is(err, pack.ErrConflict) {
		t.Fatalf("another release: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pack.ManifestName)); err != nil {
		t.Fatalf("the other release's pack was touched: %v", err)
	}
	w, prev, err := pack.Extend(dir, "v1.24.16")
	if err != nil || prev == nil || prev.Release != "v1.24.16" {
		t.Fatalf("the same release: %v, %+v", err, prev)
	}
	w.Close()
	if err := os.WriteFile(filepath.Join(dir, pack.ManifestName), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pack.Extend(dir, "v1.24.16"); !errors.Is(err, pack.ErrConflict) {
		t.Fatalf("an unreadable pack: %v", err)
	}
}

// A pack whose manifest is marked incomplete (an interrupted fetch, or
// evidence that could not be had) is refused by every reader, naming the
// release to fetch again; only a fetch adding to it opens it.
func TestOpenRefusesIncompletePack(t *testing.T) {
	dir := t.TempDir()
	pw, err := pack.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Finish(&pack.Manifest{Release: "v1.24.17", Complete: false}); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	_, err = pack.Open(dir)
	var ie *pack.IncompleteError
	if !errors.Is(err, pack.ErrIncomplete) || !errors.As(err, &ie) || ie.Release != "v1.24.17" || ie.Dir != dir {
		t.Fatalf("an incomplete pack opened: %v", err)
	}
	p, err := pack.Open(dir, pack.AllowIncomplete())
	if err != nil {
		t.Fatalf("AllowIncomplete: %v", err)
	}
	p.Close()
	w, prev, err := pack.Extend(dir, "v1.24.17")
	if err != nil || prev == nil {
		t.Fatalf("a fetch cannot add to the incomplete pack: %v", err)
	}
	w.Close()
	if _, err := pack.Open(t.TempDir()); !errors.Is(err, pack.ErrIncomplete) {
		t.Fatalf("a directory without manifest: %v", err)
	}
}

// A fetch writes a pack into a new or empty directory, or adds to the
// pack of its release (complete, marked incomplete, or left without a
// manifest by a fetch that was killed: its lock is there); a directory
// that holds other files and no pack is refused and left as it is.
func TestExtendRefusesADirectoryThatIsNoPack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  error
	}{
		{"new directory", func(t *testing.T, dir string) {}, nil},
		{"empty directory", func(t *testing.T, dir string) { mkdir(t, dir) }, nil},
		{"a file, no pack", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "notes.txt"), "mine") }, pack.ErrNotPackDir},
		{"a subdirectory, no pack", func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "src")) }, pack.ErrNotPackDir},
		{"a killed fetch's files", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, ".k8sverify-fetch.lock"), "999999999 "+hostnameOf(t)+" 2026-01-01T00:00:00Z\n")
			write(t, filepath.Join(dir, "bundles", "kubectl.sigstore.json"), "{}")
		}, nil},
		{"an incomplete pack of this release", func(t *testing.T, dir string) { finish(t, dir, "v1.24.17", false) }, nil},
		{"a pack of this release", func(t *testing.T, dir string) { finish(t, dir, "v1.24.17", true) }, nil},
		{"a pack of another release", func(t *testing.T, dir string) { finish(t, dir, "v1.24.16", true) }, pack.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pack")
			tc.setup(t, dir)
			before, _ := os.ReadDir(dir)
			w, _, err := pack.Extend(dir, "v1.24.17")
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				w.Close()
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("got %v, want %v naming %s", err, tc.want, dir)
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before) {
				t.Errorf("the directory was touched: %v, was %v", after, before)
			}
		})
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func finish(t *testing.T, dir, release string, complete bool) {
	t.Helper()
	pw, err := pack.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if err := pw.Finish(&pack.Manifest{Release: release, Complete: complete}); err != nil {
		t.Fatal(err)
	}
}

func hostnameOf(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return strings.ReplaceAll(h, " ", "_")
}
