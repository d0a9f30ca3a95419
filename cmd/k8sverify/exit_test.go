package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/mirror"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// One exit-code contract for every command (README "Exit codes"):
// 0 all verified; 1 something failed verification; 2 usage or unreadable
// local input; 3 unsigned, missing, or a network or remote error; 130
// interrupted. Each command is run for each code it can give, in one
// world whose linux/amd64 kubectl carries a forged log entry and whose
// kube-proxy linux/arm64 image is signed by a foreign identity.
func TestExitCodeContract(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultForgedSET, Target: "bin/linux/amd64/kubectl"},
		{Kind: testworld.FaultForeignIdentity, Target: "kube-proxy-arm64"},
	}})
	dir := t.TempDir()
	genuine := filepath.Join(dir, "kubeadm")
	if err := os.WriteFile(genuine, w.Files["bin/linux/arm64/kubeadm"].Content, 0o644); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "unknown")
	if err := os.WriteFile(unknown, []byte("not a release file"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := "http://" + testworld.ClosedPort(t) // nothing listens: connection refused
	cases := []struct {
		code int
		args []string
	}{
		{ExitOK, []string{"version"}},
		{ExitOK, []string{"--version"}},
		{ExitUsage, []string{"frobnicate"}},

		{ExitOK, []string{"list", "v1.24.17"}},
		{ExitUsage, []string{"list", "v1.24.x"}},
		{ExitUsage, []string{"list", "v9.9.9"}},
		{ExitIncomplete, []string{"list", "latest-1.24", "--download-url", refused}},

		{ExitOK, []string{"verify", "v1.24.17", "--platform", "linux/arm64", "--kind", "binary"}},
		{ExitFailed, []string{"verify", "v1.24.17", "--kind", "binary"}},
		{ExitIncomplete, []string{"verify", "v1.24.17", "--kind", "tarball", "--include-never-signed"}},
		{ExitIncomplete, []string{"verify", "v1.24.17", "--kind", "binary", "--download-url", refused}},
		{ExitUsage, []string{"verify", "v1.24.17", "--kind", "firmware"}},
		// --out names where verified downloads are kept: a file there is
		// refused before anything is fetched; a directory not there yet
		// is made.
		{ExitUsage, []string{"verify", "v1.24.17", "--platform", "linux/arm64", "--kind", "binary", "--download", "--out", genuine}},
		{ExitOK, []string{"verify", "v1.24.17", "--platform", "linux/arm64", "--kind", "binary", "--download", "--out", filepath.Join(dir, "kept", "here")}},
		// A TUF root that is no TUF root is unreadable local input.
		{ExitUsage, []string{"verify", "v1.24.17", "--tuf-url", "https://tuf.example", "--tuf-root", unknown}},
		{ExitUsage, []string{"verify", "v1.24.17", "--tuf-url", "https://tuf.example", "--tuf-root", w.TrustedRootPath}},

		{ExitOK, []string{"verify-file", genuine, "--version", "v1.24.17"}},
		{ExitFailed, []string{"verify-file", unknown, "--version", "v1.24.17"}},
		{ExitIncomplete, []string{"verify-file", unknown}},
		{ExitUsage, []string{"verify-file", filepath.Join(dir, "nope")}},

		{ExitOK, []string{"verify-image", "kube-apiserver:v1.24.17"}},
		{ExitFailed, []string{"verify-image", "kube-proxy-arm64:v1.24.17"}},
		{ExitIncomplete, []string{"verify-image", "kube-apiserver:v0.0.1"}},
		{ExitUsage, []string{"verify-image", "Not A Reference"}},

		{ExitUsage, []string{"verify-blob", filepath.Join(dir, "nope"), "--bundle", filepath.Join(dir, "nope.json")}},
		{ExitUsage, []string{"verify-blob", genuine}},

		{ExitOK, []string{"fetch", "v1.24.17", "--kind", "binary", "--platform", "linux/arm64", "--out", filepath.Join(dir, "pack")}},
		{ExitUsage, []string{"fetch", "v1.24.17"}},

		// The small world publishes two of the release's five images: the
		// others are missing (TestMirrorCommand mirrors a whole release, 0).
		{ExitIncomplete, []string{"mirror", "v1.24.17", "--to", mirrorRegistry(t) + "/k8s", "--platform", "linux/amd64"}},
		{ExitFailed, []string{"mirror", "v1.24.17", "--to", mirrorRegistry(t) + "/k8s", "--platform", "linux/arm64"}},
		{ExitUsage, []string{"mirror", "v1.24.17"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runIn(t, w, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
		})
	}
	// Interrupted: the run ends with what it has, exit 130.
	for _, args := range [][]string{
		{"verify", "v1.24.17", "--kind", "binary"},
		{"verify-image", "kube-apiserver:v1.24.17"},
		{"fetch", "v1.24.17", "--out", filepath.Join(dir, "interrupted")},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		env := map[string]string{"K8SVERIFY_NO_PROGRESS": "1"}
		for _, kv := range w.Env() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		var out, errOut bytes.Buffer
		if code := Run(ctx, args, &out, &errOut, func(k string) string { return env[k] }); code != ExitInterrupted {
			t.Errorf("%v interrupted: exit %d, want %d\n%s\n%s", args, code, ExitInterrupted, out.String(), errOut.String())
		}
	}
}

// A destination registry that answers only plain http is named so, with
// the flag that allows it, before the advice about credentials.
func TestAdviceForPlainHTTPRegistry(t *testing.T) {
	c := transport.New(transport.WithTimeout(time.Second))
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := c.Get(context.Background(), "https://"+strings.TrimPrefix(srv.URL, "http://")+"/v2/", 16)
	err = fmt.Errorf("%w: registry.example/k8s: %w", mirror.ErrDestination, err)
	if advice := adviceFor(err, nil); !strings.Contains(advice, "--allow-http-registry") {
		t.Errorf("advice for %v: %q", err, advice)
	}
}
