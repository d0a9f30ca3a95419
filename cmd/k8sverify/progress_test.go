package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/vbauerster/mpb/v8"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// syncBuffer is a bytes.Buffer safe for the bar's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// On a terminal: a live bar with done/total and the problems so far, each
// problem printed above it as it is found; the bar is gone at the end.
func TestProgressBarOnATerminal(t *testing.T) {
	var out syncBuffer
	// The bar draws when told to, not on a clock: draw returns once a frame
	// drawn after it was called is written. mpb hands each refresh to its
	// renderer over unbuffered channels, so the third refresh is taken only
	// after the first one's frame is done.
	refresh := make(chan any)
	draw := func() {
		for range 3 {
			refresh <- struct{}{}
		}
	}
	p := &progress{w: &out, problems: true, hosts: newHostNotices(&out), width: 120,
		liveOptions: []mpb.ContainerOption{mpb.WithOutput(&out), mpb.ForceTTY(), mpb.WithManualRefresh(refresh)}}
	v, _ := artifacts.ParseVersion("v1.24.17")
	rel := &artifacts.Release{Version: v}
	for _, name := range []string{"kubectl", "kubelet", "kubeadm", "kube-proxy"} {
		rel.Artifacts = append(rel.Artifacts, artifacts.Artifact{Kind: artifacts.KindBinary, Name: name, Platform: artifacts.Platform{OS: "linux", Arch: "amd64"}})
	}
	p.start([]*artifacts.Release{rel})
	for i, a := range rel.Artifacts {
		st := verify.StatusVerified
		if i == 1 {
			st = verify.StatusFailed
		}
		p.done(rel, verify.Verdict{Artifact: a, Status: st})
		draw()
		if got := out.String(); !strings.Contains(got, fmt.Sprintf("verifying %d/4", i+1)) {
			t.Errorf("after verdict %d, the bar was not drawn with it:\n%q", i+1, got)
		}
	}
	p.stop()
	got := out.String()
	for _, want := range []string{"verifying", "/4", "1 problem ", "[2/4] v1.24.17 binary kubelet linux/amd64: failed"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
}

// Not a terminal (a file, a pipe, CI): no bar, one line per problem; with
// --quiet or --no-progress, nothing.
func TestProgressElsewhere(t *testing.T) {
	v, _ := artifacts.ParseVersion("v1.24.17")
	rel := &artifacts.Release{Version: v, Artifacts: []artifacts.Artifact{{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"}}}}
	for _, g := range []globalOptions{{}, {quiet: true}, {noProgress: true}} {
		var out bytes.Buffer
		g.stderr = &out
		p := newProgress(&g, &out)
		p.start([]*artifacts.Release{rel})
		p.done(rel, verify.Verdict{Artifact: rel.Artifacts[0], Status: verify.StatusUnsigned})
		p.stop()
		want := "[1/1] v1.24.17 binary kubectl linux/amd64: unsigned\n"
		if g.quiet || g.noProgress {
			want = ""
		}
		if out.String() != want {
			t.Errorf("quiet %v, no-progress %v: %q, want %q", g.quiet, g.noProgress, out.String(), want)
		}
	}
}

// --debug (-v) logs each request and each decision to stderr.
func TestDebugLogsRequestsAndDecisions(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	code, _, errOut := runIn(t, w, "-v", "verify", "v1.24.17", "--platform", "linux/arm64", "--kind", "binary")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"msg=request method=GET url=" + w.DownloadURL + "/release/v1.24.17/bin/linux/arm64/", // the site's redirect
		"status=302",
		"msg=request method=POST url=" + w.RekorURL + "/api/v1/log/entries/retrieve status=200",
		`msg=decision artifact="binary kubectl linux/arm64" status=verified`,
		`msg=signature artifact="binary kubectl linux/arm64" source=`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
