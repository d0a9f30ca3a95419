package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// Real public-good Sigstore data (a Fulcio certificate from a GitHub
// Actions workflow, real SCT, real Rekor intoto entry), no test world:
// see pkg/sigverify/testdata/public-good/README.md.
func TestVerifyBlobRealPublicGoodBundle(t *testing.T) {
	dir := filepath.Join("..", "..", "pkg", "sigverify", "testdata", "public-good")
	const (
		digest   = "sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751"
		identity = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
		issuer   = "https://token.actions.githubusercontent.com"
	)
	base := []string{"verify-blob", "--bundle", filepath.Join(dir, "bundle-provenance.json"), "--trusted-root", filepath.Join(dir, "trusted-root-public-good.json"),
		"--predicate-type", "https://slsa.dev/provenance/v0.2"}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"genuine", []string{digest, "--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--allow-root-in-chain"}, ExitOK, "payload: in-toto statement, predicate https://slsa.dev/provenance/v0.2"},
		{"genuine but with the root in its chain", []string{digest, "--certificate-identity", identity, "--certificate-oidc-issuer", issuer}, ExitFailed, "--allow-root-in-chain"},
		{"another digest", []string{strings.Replace(digest, "76176", "76177", 1), "--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--allow-root-in-chain"}, ExitFailed, "digest mismatch"},
		{"another identity", []string{digest, "--certificate-identity", "https://github.com/evil/evil/.github/workflows/release.yml@refs/heads/main", "--certificate-oidc-issuer", issuer, "--allow-root-in-chain"}, ExitFailed, "[check: identity]"},
		{"default identity: the release team's", []string{digest, "--allow-root-in-chain"}, ExitFailed, "expected krel-staging@k8s-releng-prod.iam.gserviceaccount.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), append(append([]string{}, base...), tc.args...), &out, &errOut, func(string) string { return "" })
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out.String(), errOut.String())
			}
		})
	}
}
