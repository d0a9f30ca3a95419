package audit

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	"github.com/k8sverify/k8sverify/pkg/localfile"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// filesDir is a directory of release files, read without leaving it.
type filesDir struct {
	root *os.Root
}

func openFilesDir(dir string) (*filesDir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, classify(ErrLocalInput, fmt.Errorf("release files: %w", err))
	}
	return &filesDir{root: root}, nil
}

func (d *filesDir) Close() error { return d.root.Close() }

// hash streams the regular file at rel through SHA-256 and SHA-512.
func (d *filesDir) hash(rel string) ([]verify.DigestClaim, error) {
	if !fs.ValidPath(rel) {
		return nil, classify(ErrLocalInput, fmt.Errorf("release files: invalid path %q", rel))
	}
	f, err := localfile.OpenIn(d.root, rel)
	switch {
	case errors.Is(err, localfile.ErrNotRegular):
		return nil, classify(ErrLocalInput, fmt.Errorf("release files: %w", err))
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("release files: no %s in %s", rel, d.root.Name())
	case err != nil:
		return nil, fmt.Errorf("release files: %w", err)
	}
	defer f.Close()
	claims, err := hashReader(f)
	if err != nil {
		return nil, fmt.Errorf("release files: read %s: %w", rel, err)
	}
	return claims, nil
}

// hashReader streams r through SHA-256 and SHA-512 with a 1 MiB buffer:
// memory independent of the size of what is read.
func hashReader(r io.Reader) ([]verify.DigestClaim, error) {
	return hashWith(r, verify.ChannelFile, "sha256", "sha512")
}

// hashWith streams r through the named algorithms and returns a claim of
// each, from channel.
func hashWith(r io.Reader, channel verify.Channel, algs ...string) ([]verify.DigestClaim, error) {
	hs := make([]hash.Hash, len(algs))
	ws := make([]io.Writer, len(algs))
	for i, alg := range algs {
		if alg == "sha512" {
			hs[i] = sha512.New()
		} else {
			hs[i] = sha256.New()
		}
		ws[i] = hs[i]
	}
	if _, err := io.CopyBuffer(io.MultiWriter(ws...), r, make([]byte, 1<<20)); err != nil {
		return nil, err
	}
	claims := make([]verify.DigestClaim, len(algs))
	for i, alg := range algs {
		claims[i] = verify.DigestClaim{Digest: sigverify.Digest{Algorithm: alg, Hex: fmt.Sprintf("%x", hs[i].Sum(nil))}, Channel: channel}
	}
	return claims, nil
}
