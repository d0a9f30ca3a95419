package transport

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// WithLogger logs each request the client sends (every attempt, every
// redirect hop, registry requests too) at debug level: method, URL
// (redacted), status or error, size and time.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) { c.log = l }
}

// labelKey is the context key of a request's label.
type labelKey struct{}

// WithLabel labels the requests sent within ctx (e.g. with the artifact
// they are for): the request log names it. A request that serves several
// (a batched log lookup, a registry's ping asked once) bears the label of
// the one that sent it.
func WithLabel(ctx context.Context, label string) context.Context {
	return context.WithValue(ctx, labelKey{}, label)
}

// loggingTransport logs the requests it sends.
type loggingTransport struct {
	inner http.RoundTripper
	log   *slog.Logger
}

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.inner.RoundTrip(req)
	attrs := []any{"method", req.Method, "url", Redact(req.URL.String())}
	var labels []any
	if label, ok := req.Context().Value(labelKey{}).(string); ok {
		labels = []any{"for", label}
	}
	if err != nil {
		t.log.Debug("request", append(append(attrs, "error", err, "elapsed", time.Since(start).Round(time.Millisecond)), labels...)...)
		return nil, err
	}
	attrs = append(attrs, "status", resp.StatusCode, "proto", resp.Proto)
	if resp.ContentLength >= 0 {
		attrs = append(attrs, "bytes", resp.ContentLength)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		attrs = append(attrs, "location", Redact(loc))
	}
	t.log.Debug("request", append(append(attrs, "elapsed", time.Since(start).Round(time.Millisecond)), labels...)...)
	return resp, nil
}
