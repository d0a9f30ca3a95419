package testworld

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// StartT starts a world for a test or benchmark and closes it when that
// ends. It is how every package's tests get their world.
func StartT(t testing.TB, o Options) *World {
	t.Helper()
	w, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start test world: %v", err)
	}
	t.Cleanup(w.Close)
	return w
}

// CosignBinary finds the real cosign CLI, the independent verifier some
// tests run: $K8SVERIFY_COSIGN, bin/cosign of this repository (make tools),
// or PATH. Without it the test is skipped, except in CI (CI=true), which
// installs it (.ci/run) and must run every test.
func CosignBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("K8SVERIFY_COSIGN"); p != "" {
		return p
	}
	_, here, _, _ := runtime.Caller(0)
	repoBin := filepath.Join(filepath.Dir(here), "..", "..", "bin", "cosign")
	if _, err := os.Stat(repoBin); err == nil {
		return repoBin
	}
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the cosign CLI is not installed (make tools); CI must run this test")
	}
	t.Skip("the cosign CLI is not installed: run make tools to compare against it")
	return ""
}
