package transport

import "time"

// Knobs for tests: a retry is expected to be fast and few there.

// WithAttempts sets how often a request is tried in all (default 4). A
// host failure (IsHostFailure) is retried once at most.
func WithAttempts(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.attempts = n
		}
	}
}

// WithBackoff sets the first retry delay and the cap of any delay, including
// a server's Retry-After (defaults 200ms and 10s).
func WithBackoff(first, max time.Duration) Option {
	return func(c *Client) { c.backoff, c.maxBackoff = first, max }
}

// ConnsPerHost exposes connsPerHost to the tests.
var ConnsPerHost = connsPerHost
