package main

import (
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
)

// lines returns the lines of stderr but the notice of the test world's
// catalog (every run in a world uses its catalog file, and says so).
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "k8sverify: using catalog ") {
			out = append(out, l)
		}
	}
	return out
}

// Against a download site that never answers, a whole release ends with
// exit 3 and ONE line on stderr naming the host, not one per artifact.
func TestVerifyHangingSiteOneLine(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds})
	site := testworld.HangingServer(t)
	host := strings.TrimPrefix(site, "http://")
	// The site never answers: the timeout ends each request to it, and the
	// host is given up on. The timeout also bounds the requests to the test
	// world (the SBOM), and the deadline the whole run: neither is tight, so
	// that a loaded machine changes nothing.
	code, out, errOut := runIn(t, w, "verify", "v1.24.17", "--kind", "binary,tarball", "--timeout", "2s", "--deadline", "10m", "--download-url", site)
	if code != ExitIncomplete {
		t.Errorf("exit %d, want %d", code, ExitIncomplete)
	}
	if !strings.Contains(out, "130 artifacts: 0 verified, 0 failed") {
		t.Errorf("want 130 artifacts not verified:\n%s", out)
	}
	got := lines(errOut)
	if len(got) != 1 || !strings.Contains(got[0], "host "+host+": no answer within 2s") || !strings.Contains(got[0], "giving up on it") {
		t.Errorf("want one line on stderr naming %s, got:\n%s", host, errOut)
	}
	if strings.Contains(out, "incident") {
		t.Errorf("a network error blamed on an incident:\n%s", out)
	}
}

// When the deadline passes, the run ends with exit 3 (not 130), and what
// was not checked says why.
func TestVerifyDeadlineExit3(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	// The deadline must outlast what comes before the first download (the
	// trust, the SBOM) on a loaded machine: not 300 ms.
	code, out, errOut := runIn(t, w, "verify", "v1.24.17", "--kind", "binary", "--timeout", "1m", "--deadline", "2s", "--download-url", testworld.HangingServer(t))
	if code != ExitIncomplete || !strings.Contains(out, "could not check: deadline exceeded (2s)") {
		t.Errorf("exit %d (want %d):\n%s\n%s", code, ExitIncomplete, out, errOut)
	}
	if len(lines(errOut)) != 0 {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestDeadlineUsageErrors(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	for _, args := range [][]string{
		{"verify", "v1.24.17", "--deadline", "0"},
		{"verify", "v1.24.17", "--deadline", "5"},
		{"verify", "v1.24.17", "--timeout", "-1s"},
	} {
		if code, _, errOut := runIn(t, w, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitUsage, errOut)
		}
	}
	env := map[string]string{"K8SVERIFY_DEADLINE": "10"}
	var out, errOut strings.Builder
	if code := Run(t.Context(), []string{"list", "v1.24.17", "--offline"}, &out, &errOut, func(k string) string { return env[k] }); code != ExitUsage || !strings.Contains(errOut.String(), "K8SVERIFY_DEADLINE") {
		t.Errorf("K8SVERIFY_DEADLINE=10: exit %d\n%s", code, errOut.String())
	}
}
