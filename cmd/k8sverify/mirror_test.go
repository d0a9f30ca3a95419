package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/k8sverify/k8sverify/internal/testworld"
)

// Mirror tests copy whole releases: they take a generous request timeout
// (--timeout 30s), not the 2s of the other tests, so that a loaded machine
// does not turn them into errors.

// mirrorRegistry starts an in-process registry to mirror into.
func mirrorRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestMirrorCommand(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind})
	to := mirrorRegistry(t) + "/k8s"
	// A dry run says what it would copy: what the mirror then copies.
	code, out, errOut := runIn(t, w, "--timeout", "30s", "mirror", "v1.24.17", "--to", to, "--dry-run", "-o", "json")
	if code != ExitOK || !strings.Contains(errOut, "mirror to "+to+": dry run, nothing written; would copy 30 images, 55 signatures, 30 tags") ||
		!strings.Contains(out, `"wouldCopy": {
      "images": 30,
      "signatures": 55,
      "tags": 30
    }`) {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runIn(t, w, "--timeout", "30s", "mirror", "v1.24.17", "--to", to)
	if code != ExitOK || !strings.Contains(out, "30 artifacts: 30 verified") ||
		!strings.Contains(errOut, "mirror to "+to+": copied 30 images, 55 signatures, 30 tags") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runIn(t, w, "--timeout", "30s", "mirror", "v1.24.17", "--to", to, "-o", "json")
	if code != ExitOK || !strings.Contains(errOut, "nothing copied: the 30 images, 55 signatures and 30 tags were already there") ||
		!strings.Contains(out, `"mirror": {`) {
		t.Errorf("second mirror: exit %d\n%s\n%s", code, out, errOut)
	}
	// The mirror verifies as verify checks a registry: with no
	// transparency-log service, on the proofs the signatures carry.
	code, out, errOut = runIn(t, w, "--timeout", "30s", "verify", "v1.24.17", "--kind", "image", "--registry", to, "--rekor-url", "")
	if code != ExitOK || !strings.Contains(out, "30 artifacts: 30 verified") {
		t.Errorf("verify --registry: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runIn(t, w, "--timeout", "30s", "verify-image", to+"/kube-apiserver:v1.24.17", "--rekor-url", "")
	if code != ExitOK || !strings.Contains(out, "6 artifacts: 6 verified") {
		t.Errorf("verify-image: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestMirrorAcceptIncident(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.8", Kinds: imageKind})
	to := mirrorRegistry(t) + "/k8s"
	code, out, errOut := runIn(t, w, "--timeout", "30s", "mirror", "v1.24.8", "--to", to, "--quiet")
	if code != ExitFailed || !strings.Contains(out, "30 failed") || !strings.Contains(out, "known incident: v1.24.8-wrong-identity") {
		t.Errorf("without the incident: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runIn(t, w, "--timeout", "30s", "mirror", "v1.24.8", "--to", to, "--accept-incident", "v1.24.8-wrong-identity")
	if code != ExitOK || !strings.Contains(out, "30 artifacts: 30 verified") || strings.Count(out, "(incident v1.24.8-wrong-identity accepted)") != 30 {
		t.Errorf("with the incident accepted: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestMirrorUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"mirror", "v1.24.17"},
		{"mirror", "--to", "registry.example.com/k8s"},
		{"mirror", "v1.24.17", "--to", "http://registry.example.com"},
		{"mirror", "v1.24.17", "--to", "registry.example.com", "--kind", "binary"},
		{"mirror", "1.24", "--to", "registry.example.com"},
		{"mirror", "v1.24.17", "v1.24.16", "--to", "registry.example.com"},
		{"mirror", "v1.24.17", "--to", "registry.example.com", "--platform", "linux"},
	} {
		if code, _, errOut := run(t, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, ExitUsage, errOut)
		}
	}
}

// --to with a scheme is refused for the scheme: --to is host[:port][/prefix]
// and plain http follows from the host (loopback needs no flag), so the
// message shows the --to to write and says when plain http needs a flag.
func TestMirrorToWithScheme(t *testing.T) {
	for _, tc := range []struct {
		to, want, not string
	}{
		{"http://127.0.0.1:5000/k8s", `want host[:port][/prefix], without a scheme: --to 127.0.0.1:5000/k8s (plain http needs no flag on loopback, and --allow-http-registry elsewhere)`, ""},
		{"http://registry.example.com", `without a scheme: --to registry.example.com (plain http needs no flag on loopback`, ""},
		{"https://registry.example.com/k8s", `want host[:port][/prefix], without a scheme: --to registry.example.com/k8s`, "--allow-http-registry"},
	} {
		code, _, errOut := run(t, "mirror", "v1.24.17", "--to", tc.to)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || (tc.not != "" && strings.Contains(errOut, tc.not)) {
			t.Errorf("--to %s: exit %d, want %d and %q\n%s", tc.to, code, ExitUsage, tc.want, errOut)
		}
	}
}

// From an evidence pack, a dry run says what would be copied from it, and
// what it says it would copy is what the mirror then copies.
func TestMirrorFromPackDryRun(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: imageKind})
	dir := filepath.Join(t.TempDir(), "pack")
	if code, out, errOut := runIn(t, w, "fetch", "v1.24.17", "--out", dir, "--kind", "image", "--with-images"); code != ExitOK && code != ExitIncomplete {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	to := mirrorRegistry(t) + "/k8s"
	code, out, errOut := runIn(t, w, "--timeout", "30s", "mirror", "--from-pack", dir, "--to", to, "--dry-run")
	would := regexp.MustCompile(`would copy (\d+ images, \d+ signatures, \d+ tags)`).FindStringSubmatch(errOut)
	if code == ExitUsage || would == nil || !strings.Contains(errOut, "WARNING: would be copied from the evidence pack "+dir) ||
		strings.Contains(errOut, "WARNING: copied") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runIn(t, w, "--timeout", "30s", "mirror", "--from-pack", dir, "--to", to)
	if code == ExitUsage || !strings.Contains(errOut, "WARNING: copied from the evidence pack "+dir) || !strings.Contains(errOut, ": copied "+would[1]+" (already there: 0 images") {
		t.Errorf("mirror after the dry run's %q: exit %d\n%s\n%s", would[1], code, out, errOut)
	}
}

// An interrupted mirror says it was interrupted, not that no image
// verified.
func TestMirrorInterrupted(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: imageKind})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := map[string]string{"K8SVERIFY_NO_PROGRESS": "1"}
	for _, kv := range w.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	to := mirrorRegistry(t) + "/k8s"
	var out, errOut bytes.Buffer
	code := Run(ctx, []string{"mirror", "v1.24.17", "--to", to}, &out, &errOut, func(k string) string { return env[k] })
	if code != ExitInterrupted || !strings.Contains(errOut.String(), "mirror to "+to+": interrupted before anything was copied") ||
		strings.Contains(errOut.String(), "no image verified") {
		t.Errorf("exit %d, want %d\n%s\n%s", code, ExitInterrupted, out.String(), errOut.String())
	}
}
