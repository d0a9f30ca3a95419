package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/localfile"
)

// pinnedRE matches a channel URL pinned to a commit (a 40-hex path
// element): its document never changes.
var pinnedRE = regexp.MustCompile(`/[0-9a-f]{40}/`)

// channelCache keeps the channel documents read at a pinned commit in
// k8sverify's cache directory (DIR/channels/), and reads them from there
// in later runs; a document read at a branch, which changes, is read
// again every run. The cache is the user's own state, as the files it
// verifies are.
type channelCache struct {
	next artifacts.Opener
	dir  string
}

func (c channelCache) Open(ctx context.Context, url string) (io.ReadCloser, error) {
	if !pinnedRE.MatchString(url) {
		return c.next.Open(ctx, url)
	}
	sum := sha256.Sum256([]byte(url))
	name := filepath.Join(c.dir, "channels", hex.EncodeToString(sum[:]))
	if data, err := localfile.Read(name, artifacts.MaxChannelDocument); err == nil {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	body, err := c.next.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, artifacts.MaxChannelDocument+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if len(data) > artifacts.MaxChannelDocument {
		return nil, fmt.Errorf("%s: %w", url, artifacts.ErrChannelTooLarge)
	}
	c.store(name, data) // a cache that cannot be written only costs a later read
	return io.NopCloser(bytes.NewReader(data)), nil
}

// store writes a document into the cache atomically.
func (c channelCache) store(name string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if os.Rename(tmp.Name(), name) != nil {
		os.Remove(tmp.Name())
	}
}
