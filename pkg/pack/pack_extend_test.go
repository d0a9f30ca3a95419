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
