package transport

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrOffline: a network request in offline mode.
var ErrOffline = errors.New("offline: network access refused")

// OfflineTransport refuses every request: in offline mode nothing may
// reach the network, and a bug that tries says so instead of leaking.
type OfflineTransport struct{}

// RoundTrip refuses.
func (OfflineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%s %s: %w", req.Method, Redact(req.URL.String()), ErrOffline)
}
