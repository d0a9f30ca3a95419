package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// verify-file without --version identifies a file from its content (the
// releases' published sums, looked for in the releases signed nearest the
// signature's log time) and names it for what it is; a file carrying
// another release file's name fails check identify; a file the release
// team signed that no known release lists is never verified.
func TestVerifyFileIdentifiesWithoutVersion(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Version: "v1.24.16,v1.24.17", Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	proxy := w.Files["bin/linux/amd64/kube-proxy"].Content
	renamed := write("kubectl-renamed", proxy)
	misnamed := write("kubectl", proxy)
	older := write("kube-proxy-old", w.Releases[0].Files["bin/linux/arm64/kube-proxy"].Content)
	stray := []byte("signed by the release team, published by no release")
	sum := sha256.Sum256(stray)
	at := time.Date(2023, 8, 22, 12, 0, 0, 0, time.UTC)
	if _, err := w.Sigstore.SignDigest(sum[:], testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.BlobSigner.SAN, Issuer: artifacts.BlobSigner.Issuer,
		NotBefore: at.Add(-time.Minute)}, IntegratedTime: at}); err != nil {
		t.Fatal(err)
	}
	strayFile := write("kubelet", stray)

	for _, tc := range []struct {
		name string
		file string
		code int
		want string
	}{
		{"renamed", renamed, ExitOK, renamed + ": kube-proxy linux/amd64 v1.24.17 verified"},
		{"another release", older, ExitOK, older + ": kube-proxy linux/arm64 v1.24.16 verified"},
		{"another file's name", misnamed, ExitFailed, "[check: identify]"},
		{"no release lists it", strayFile, ExitIncomplete, "not a file of any release the catalog knows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runIn(t, w, "verify-file", tc.file)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
			// What it cost is said, and bounded.
			if m := regexp.MustCompile(`(\d+) requests? to identify it`).FindStringSubmatch(out); m == nil || len(m[1]) > 1 {
				t.Errorf("the requests spent are not stated, or not bounded:\n%s", out)
			}
		})
	}
}
