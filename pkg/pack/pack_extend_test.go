package pack_test

import (
	"errors"
	"os"
	"path/filepath"
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
