package audit

import (
	"io"
	"os"
	"path/filepath"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// keptFile is a download in progress: a temporary file renamed into place
// only when what arrived verified, so a partial or rejected download never
// looks complete. A nil keptFile keeps nothing.
type keptFile struct {
	tmp, final string
	f          *os.File
}

// newKeptFile starts keeping artifact a of release r below outDir; nil
// when outDir is "" (the download is hashed and discarded).
func newKeptFile(outDir string, r *artifacts.Release, a artifacts.Artifact) (*keptFile, error) {
	if outDir == "" {
		return nil, nil
	}
	rel, err := r.FilePath(a)
	if err != nil {
		return nil, err
	}
	final := filepath.Join(outDir, r.Version.String(), filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(final), ".k8sverify-partial-*")
	if err != nil {
		return nil, err
	}
	return &keptFile{tmp: f.Name(), final: final, f: f}, nil
}

// writer is where the download goes; nil (discard) when nothing is kept.
func (k *keptFile) writer() io.Writer {
	if k == nil {
		return nil
	}
	return k.f
}

// finish keeps the file when keep is set, else removes it.
func (k *keptFile) finish(keep bool) error {
	if k == nil {
		return nil
	}
	err := k.f.Close()
	if keep && err == nil {
		if err = os.Rename(k.tmp, k.final); err == nil {
			return nil
		}
	}
	_ = os.Remove(k.tmp)
	if keep {
		return err
	}
	return nil
}
