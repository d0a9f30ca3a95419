package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/report"
)

// cancelOnWrite cancels a run the first time it writes a line holding
// word: an interrupt at a known point of the run, with no signal and no
// timing.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	word   string
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Contains(p, []byte(c.word)) {
		c.cancel()
	}
	return c.buf.Write(p)
}

// Interrupted once the first problem is found, verify stops, prints the
// table of what it judged, writes the requested JSON report marked
// interrupted with the artifacts never judged as not checked (no error
// among them), and exits 130.
func TestInterruptWritesReports(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultUnsigned, Target: "kube-apiserver-arm64"},
	}})
	env := map[string]string{"K8SVERIFY_CONCURRENCY": "1", "K8SVERIFY_TIMEOUT": "10s"}
	for _, kv := range w.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &cancelOnWrite{word: ": unsigned", cancel: cancel}
	file := filepath.Join(t.TempDir(), "report.json")
	var stdout bytes.Buffer
	code := Run(ctx, []string{"verify", "v1.24.17", "-o", "table", "-o", "json=" + file}, &stdout, stderr, func(k string) string { return env[k] })
	out, errOut := stdout.String(), stderr.buf.String()
	if code != ExitInterrupted {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "context canceled") || strings.Contains(out, "context canceled") {
		t.Errorf("the artifacts never judged are reported as errors:\n%s\n%s", out, errOut)
	}
	if !strings.Contains(out, "INTERRUPTED") || !strings.Contains(out, "not checked: the run was interrupted") || !strings.Contains(out, "kube-apiserver") {
		t.Errorf("the table of what was judged:\n%s", out)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("no report written: %v", err)
	}
	defer f.Close()
	rep, err := report.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	if !rep.Interrupted || s.NotChecked == 0 || s.Error != 0 || s.Unsigned != 1 || s.Total != s.Verified+s.Unsigned+s.Missing+s.NotChecked {
		t.Fatalf("the report: interrupted %v, %s", rep.Interrupted, s)
	}
	notChecked := 0
	for _, a := range rep.Artifacts {
		if a.Status == report.StatusNotChecked {
			notChecked++
		}
	}
	gap := slices.IndexFunc(rep.NotChecked, func(g report.Gap) bool { return g.Kind == report.GapInterrupted })
	if notChecked != s.NotChecked || gap < 0 || rep.NotChecked[gap].Count != notChecked {
		t.Errorf("%d artifacts not checked, summary %d; gaps %+v", notChecked, s.NotChecked, rep.NotChecked)
	}
}
