// Package fakeweb serves documents by URL from memory, for tests of code
// that reads the web through an Open function: no server, no network.
// It imports nothing of k8sverify, so any package's own tests can use it.
package fakeweb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotHere is the error of a URL the Pages do not have.
var ErrNotHere = errors.New("404 not found")

// Pages maps URLs to their documents.
type Pages map[string]string

// Open returns the document at url, or an error wrapping ErrNotHere.
func (p Pages) Open(_ context.Context, url string) (io.ReadCloser, error) {
	doc, ok := p[url]
	if !ok {
		return nil, fmt.Errorf("GET %s: %w", url, ErrNotHere)
	}
	return io.NopCloser(strings.NewReader(doc)), nil
}
