package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNeedsNetwork is returned when a request cannot be answered offline,
// such as resolving "latest-1.24". Test with errors.Is.
var ErrNeedsNetwork = errors.New("needs the network")

// Opener opens a URL for reading. The caller closes the body. An error for
// an absent document should satisfy the caller's own not-found test (the
// CLI uses transport.ErrNotFound); its users pass errors through
// wrapped.
type Opener interface {
	Open(ctx context.Context, url string) (io.ReadCloser, error)
}

// ResolveVersion parses "v1.24.17", "1.24.17" or "latest-1.24". The
// newest release of a line is read from
// <downloadURL>/release/stable-<line>.txt through open; with a nil open
// (offline) "latest-…" is an error wrapping ErrNeedsNetwork.
func ResolveVersion(ctx context.Context, s, downloadURL string, open Opener) (Version, error) {
	line, ok := ParseLatest(s)
	if !ok {
		return ParseVersion(s)
	}
	url := fmt.Sprintf("%s/release/stable-%s.txt", strings.TrimRight(downloadURL, "/"), line.Line())
	if open == nil {
		return Version{}, fmt.Errorf("%s %w: it is read from %s", s, ErrNeedsNetwork, url)
	}
	body, err := open.Open(ctx, url)
	if err != nil {
		return Version{}, fmt.Errorf("resolve %s: %w", s, err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, 256))
	if err != nil {
		return Version{}, fmt.Errorf("resolve %s: read %s: %w", s, url, err)
	}
	v, err := ParseVersion(strings.TrimSpace(string(data)))
	if err != nil {
		return Version{}, fmt.Errorf("resolve %s: %s: %w", s, url, err)
	}
	if v.Major != line.Major || v.Minor != line.Minor {
		return Version{}, fmt.Errorf("resolve %s: %s names %s, which is not of line %s", s, url, v, line.Line())
	}
	return v, nil
}
