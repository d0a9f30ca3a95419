package audit

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/k8sverify/k8sverify/pkg/verify"
)

// filesDir is a directory of release files, read without leaving it.
type filesDir struct {
	root *os.Root
}

func openFilesDir(dir string) (*filesDir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("--files: %w", err)
	}
	return &filesDir{root: root}, nil
}

func (d *filesDir) Close() error { return d.root.Close() }

// hash streams the regular file at rel through SHA-256.
func (d *filesDir) hash(rel string) (verify.Digest, error) {
	if !fs.ValidPath(rel) {
		return verify.Digest{}, fmt.Errorf("--files: invalid path %q", rel)
	}
	f, err := d.root.Open(rel)
	if err != nil {
		return verify.Digest{}, fmt.Errorf("--files: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return verify.Digest{}, err
	}
	if !fi.Mode().IsRegular() {
		return verify.Digest{}, fmt.Errorf("--files: %s is not a regular file", rel)
	}
	digest, err := hashReader(f)
	if err != nil {
		return verify.Digest{}, fmt.Errorf("--files: read %s: %w", rel, err)
	}
	return digest, nil
}

// hashReader streams r through SHA-256 with a 1 MiB buffer: memory
// independent of the size of what is read.
func hashReader(r io.Reader) (verify.Digest, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, 1<<20)); err != nil {
		return verify.Digest{}, err
	}
	return verify.SHA256Digest(h.Sum(nil)), nil
}
