package trust_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/trust"
)

func recordPack(t *testing.T, w *testworld.World) string {
	t.Helper()
	dir := t.TempDir()
	pw, err := pack.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if _, _, err := trust.Record(pw, "tuf", trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}, nil); err != nil {
		t.Fatal(err)
	}
	if err := pw.Finish(&pack.Manifest{Release: w.Version.String(), Complete: true, TUF: "tuf"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTUFRecordAndReplay(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: nil})
	dir := recordPack(t, w)
	// The replay uses the repository URL the pack was recorded from.
	p, err := pack.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := trust.FromPack(p, trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}); err != nil {
		t.Fatalf("genuine TUF metadata rejected: %v", err)
	}
	w.Close() // no network needed from here on
	if _, err := trust.FromPack(p, trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}); err != nil {
		t.Fatalf("offline replay failed: %v", err)
	}

	t.Run("another TUF root", func(t *testing.T) {
		other := testworld.StartT(t, testworld.Options{Small: true})
		if _, err := trust.FromPack(p, trust.TUF{RepositoryURL: w.TUF.URL, Root: other.TUF.Root}); err == nil {
			t.Error("metadata verified from a TUF root that did not sign it")
		}
	})
	for _, tc := range []struct {
		name    string
		expires time.Time
		foreign bool
	}{
		{"expired timestamp", time.Now().Add(-time.Hour), false},
		{"timestamp signed by a foreign key", time.Now().Add(time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir2 := t.TempDir()
			if err := os.CopyFS(dir2, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			ts, err := w.TUF.Timestamp(tc.expires, tc.foreign)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir2, "tuf", "timestamp.json"), ts, 0o644); err != nil {
				t.Fatal(err)
			}
			p2, err := pack.Open(dir2)
			if err != nil {
				t.Fatal(err)
			}
			defer p2.Close()
			src := trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}
			_, err = trust.FromPack(p2, src)
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, trust.ErrPackExpired) != !tc.foreign {
				t.Errorf("ErrPackTUFExpired %v for %s: %v", !tc.foreign, tc.name, err)
			}
			t.Log(err)
			// As of two hours ago, before the timestamp expired: only the
			// clock moves, a foreign signature is still refused.
			_, err = trust.FromPackAt(p2, src, time.Now().Add(-2*time.Hour))
			if (err == nil) != !tc.foreign {
				t.Errorf("as of two hours ago: %v", err)
			}
		})
	}
	t.Run("attacker's trusted root in the target", func(t *testing.T) {
		dir2 := t.TempDir()
		if err := os.CopyFS(dir2, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		other := testworld.StartT(t, testworld.Options{Small: true})
		evil, _ := os.ReadFile(other.TrustedRootPath)
		matches, _ := filepath.Glob(filepath.Join(dir2, "tuf", "targets", "*.trusted_root.json"))
		if len(matches) != 1 {
			t.Fatalf("targets: %v", matches)
		}
		if err := os.WriteFile(matches[0], evil, 0o644); err != nil {
			t.Fatal(err)
		}
		p2, err := pack.Open(dir2)
		if err != nil {
			t.Fatal(err)
		}
		defer p2.Close()
		_, err = trust.FromPack(p2, trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root})
		if err == nil || !strings.Contains(err.Error(), "") {
			t.Fatal("a replaced trusted_root.json target is accepted")
		}
		t.Log(err)
	})
}
