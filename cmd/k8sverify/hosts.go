package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// hostNotices says once on stderr that the run gave up on a host: each
// artifact on it is an error in the report, but the diagnosis is one
// line, not one per artifact.
type hostNotices struct {
	w    io.Writer
	seen map[string]bool
}

func newHostNotices(w io.Writer) *hostNotices { return &hostNotices{w: w, seen: map[string]bool{}} }

// note prints the host v's error gave up on, the first time it is seen;
// it reports whether v is an error of such a host.
func (h *hostNotices) note(v verify.Verdict) bool {
	var down *transport.HostDownError
	if v.Status != verify.StatusError || !errors.As(v.Err, &down) {
		return false
	}
	if !h.seen[down.Host] {
		h.seen[down.Host] = true
		fmt.Fprintf(h.w, "k8sverify: %v\n", down)
	}
	return true
}

// noteAll notes the hosts given up on among verdicts.
func (h *hostNotices) noteAll(vs []verify.Verdict) {
	for _, v := range vs {
		h.note(v)
	}
}
