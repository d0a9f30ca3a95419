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

	"github.com/k8sverify/k8sverify/pkg/report"
)

// run runs the command line in process, with an empty environment.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

func TestListOffline(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"list-v1.24.0-offline.json", []string{"list", "v1.24.0", "--offline", "-o", "json"}},
		{"list-v1.24.0-offline.txt", []string{"list", "v1.24.0", "--offline"}},
		{"list-v1.24.8-offline-images-arm64.txt", []string{"list", "v1.24.8", "--offline", "--kind", "image", "--platform", "linux/arm64"}},
		{"list-v1.24.12-offline-windows.txt", []string{"list", "1.24.12", "--offline", "--kind", "binary,tarball", "--platform", "windows/amd64"}},
		{"list-v1.24.6-offline-two-platforms.json", []string{"list", "v1.24.6", "--offline", "--kind=binary", "--platform=darwin/arm64", "--platform=linux/386", "-o=json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != ExitOK || stderr != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			golden(t, tc.golden, stdout)
		})
	}
}

// The acceptance check of issue 3.
func TestListV1240OfflineJSON(t *testing.T) {
	code, stdout, stderr := run(t, "list", "v1.24.0", "--offline", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep, err := report.Read(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{} // ID -> signer SAN
	for _, a := range rep.Artifacts {
		have[a.ID()] = a.Signer.SAN
	}
	want := map[string]string{
		"binary kubectl linux/amd64":                               "krel-staging@k8s-releng-prod.iam.gserviceaccount.com",
		"binary kubectl linux/arm64":                               "krel-staging@k8s-releng-prod.iam.gserviceaccount.com",
		"binary kubectl darwin/amd64":                              "krel-staging@k8s-releng-prod.iam.gserviceaccount.com",
		"binary kubectl.exe windows/amd64":                         "krel-staging@k8s-releng-prod.iam.gserviceaccount.com",
		"tarball kubernetes-server-linux-amd64.tar.gz linux/amd64": "krel-staging@k8s-releng-prod.iam.gserviceaccount.com",
	}
	for _, img := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
		for _, arch := range []string{"amd64", "arm", "arm64", "ppc64le", "s390x"} {
			want["image "+img+" linux/"+arch] = "krel-trust@k8s-releng-prod.iam.gserviceaccount.com"
		}
	}
	for id, san := range want {
		if have[id] != san {
			t.Errorf("%s: signer %q, want %q", id, have[id], san)
		}
	}
}

// releaseWorld serves a download site and an SBOM site on 127.0.0.1.
type releaseWorld struct {
	*httptest.Server
	sboms map[string]string // version -> SBOM
}

func newReleaseWorld(t *testing.T) *releaseWorld {
	t.Helper()
	sbom, err := os.ReadFile(filepath.Join("..", "..", "pkg", "sbom", "testdata", "v1.24.17-release.spdx"))
	if err != nil {
		t.Fatal(err)
	}
	w := &releaseWorld{sboms: map[string]string{"v1.24.17": string(sbom)}}
	// v1.24.16 as published differs from the catalog: mounter for s390x is
	// missing and a Windows kube-proxy image is there.
	differs := strings.ReplaceAll(string(sbom), "v1.24.17", "v1.24.16")
	differs = strings.Replace(differs, "FileName: bin/linux/s390x/mounter\n", "FileName: bin/linux/s390x/mounter.old\n", 1)
	differs += "\nPackageName: registry.k8s.io/kube-proxy-windows-amd64:v1.24.16\nSPDXID: SPDXRef-Package-registry.k8s.io-kube-proxy-windows-amd64-v1.24.16\n"
	w.sboms["v1.24.16"] = differs
	w.sboms["v1.24.15"] = "<html>oops</html>\n"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /release/stable-1.24.txt", func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprintln(rw, "v1.24.17") })
	mux.HandleFunc("GET /sbom/{version}/release", func(rw http.ResponseWriter, r *http.Request) {
		v := r.PathValue("version")
		if v == "v1.24.14" {
			http.Error(rw, "overloaded", http.StatusServiceUnavailable)
			return
		}
		s, ok := w.sboms[v]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		fmt.Fprint(rw, s)
	})
	w.Server = httptest.NewServer(mux)
	t.Cleanup(w.Close)
	return w
}

func (w *releaseWorld) flags() []string {
	return []string{"--download-url", w.URL, "--sbom-url", w.URL + "/sbom", "--registry", "127.0.0.1:5000/k8s"}
}

// normalize replaces the world's random port.
func (w *releaseWorld) normalize(s string) string {
	return strings.ReplaceAll(s, w.URL, "http://127.0.0.1:PORT")
}

func TestListOnline(t *testing.T) {
	w := newReleaseWorld(t)
	for _, tc := range []struct {
		golden string
		args   []string
		code   int
	}{
		// latest-1.24 resolves to v1.24.17, whose SBOM agrees with the catalog.
		{"list-online-latest.json", []string{"list", "latest-1.24", "-o", "json", "--kind", "image,tarball"}, ExitOK},
		{"list-online-latest.txt", []string{"list", "latest-1.24", "--platform", "linux/arm64"}, ExitOK},
		// The SBOM and the catalog disagree: both are listed, the differences reported.
		{"list-online-differs.json", []string{"list", "v1.24.16", "-o", "json", "--platform", "linux/s390x", "--platform", "windows/amd64"}, ExitOK},
		{"list-online-differs.txt", []string{"list", "v1.24.16", "--kind", "image"}, ExitOK},
		// No usable SBOM: the catalog alone, loudly.
		{"list-online-broken-sbom.txt", []string{"list", "v1.24.15", "--kind", "tarball", "--platform", "darwin/arm64"}, ExitOK},
		{"list-online-sbom-unavailable.json", []string{"list", "v1.24.14", "-o", "json", "--kind", "tarball", "--platform", "darwin/arm64"}, ExitOK},
		// Neither catalog nor SBOM.
		{"list-online-no-such-release.txt", []string{"list", "v1.24.99"}, ExitUsage},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			code, stdout, stderr := run(t, append(tc.args, w.flags()...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			golden(t, tc.golden, w.normalize(fmt.Sprintf("$ k8sverify %s\nexit %d\n--- stderr\n%s--- stdout\n%s", strings.Join(tc.args, " "), code, stderr, stdout)))
		})
	}
}

func TestListNetworkDown(t *testing.T) {
	w := newReleaseWorld(t)
	flags := w.flags()
	w.Close() // nothing answers any more
	// The catalog covers v1.24.2: it is used, and the user is told.
	code, stdout, stderr := run(t, append([]string{"list", "v1.24.2", "--kind", "image"}, flags...)...)
	if code != ExitOK || !strings.Contains(stderr, "WARNING: listing v1.24.2 from the release catalog ONLY") || !strings.Contains(stdout, "kube-apiserver-s390x") {
		t.Errorf("v1.24.2: exit %d\nstderr:\n%s", code, stderr)
	}
	// Nothing covers v1.23.0: exit 3, with the error.
	code, stdout, stderr = run(t, append([]string{"list", "v1.23.0"}, flags...)...)
	if code != ExitIncomplete || stdout != "" || !strings.Contains(stderr, "get the release SBOM: GET "+w.URL+"/sbom/v1.23.0/release") || !strings.Contains(stderr, "the embedded catalog covers v1.24.0 … v1.36.4") {
		t.Errorf("v1.23.0: exit %d\nstderr:\n%s", code, stderr)
	}
	// latest-1.24 cannot be resolved: exit 3.
	code, _, stderr = run(t, append([]string{"list", "latest-1.24"}, flags...)...)
	if code != ExitIncomplete || !strings.Contains(stderr, "resolve latest-1.24") {
		t.Errorf("latest-1.24: exit %d\nstderr:\n%s", code, stderr)
	}
}

// Usage errors, their messages and exit codes, in one golden file.
func TestListUsageErrors(t *testing.T) {
	var b strings.Builder
	for _, args := range [][]string{
		{"list"},
		{"list", "v1.24.0", "v1.24.1", "--offline"},
		{"list", "banana", "--offline"},
		{"list", "banana"},
		{"list", "v1.24.99", "--offline"},
		{"list", "v1.23.0", "--offline"},
		{"list", "latest-1.24", "--offline"},
		{"list", "v1.24.0", "--offline", "--kind", "binaries"},
		{"list", "v1.24.0", "--offline", "--platform", "linux"},
		{"list", "v1.24.0", "--offline", "--platform", "windows/mips64"},
		{"list", "v1.24.0", "--offline", "--kind", "image", "--platform", "windows/amd64"},
		{"list", "v1.24.0", "--offline", "--kind", "image", "--platform", "linux/amd64", "--platform", "darwin/arm64"},
		{"list", "v1.24.0", "--offline", "-o", "yaml"},
		{"list", "v1.24.0", "--offline", "--bogus"},
		{"list", "v1.24.0", "--download-url", "http://dl.example.com"},
		{"list", "v1.24.0", "--sbom-url", "https://user:secret@sbom.example.com"},
	} {
		code, stdout, stderr := run(t, args...)
		if code != ExitUsage || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want exit 2 and no output", args, code, stdout)
		}
		if strings.Contains(stderr, "secret") {
			t.Errorf("%v: stderr shows a credential: %s", args, stderr)
		}
		fmt.Fprintf(&b, "$ k8sverify %s\nexit %d\n%s\n", strings.Join(args, " "), code, stderr)
	}
	golden(t, "list-usage-errors.txt", b.String())
}

func TestListHelp(t *testing.T) {
	code, stdout, _ := run(t, "list", "--help")
	if code != ExitOK || !strings.Contains(stdout, "covers\nv1.24.0 … v1.36.4 (184 releases of 13 lines).") {
		t.Errorf("exit %d, help:\n%s", code, stdout)
	}
}
