package main

import (
	"strings"
	"testing"
)

// A value the tool refuses is named where it came from: the flag, or the
// environment variable (with its flag) when the variable set it, so the
// user fixes the right thing.
func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"concurrency from the environment", map[string]string{"K8SVERIFY_CONCURRENCY": "-1"}, []string{"list", "v1.24.17"},
			"k8sverify: $K8SVERIFY_CONCURRENCY (--concurrency) must be at least 1, got -1\n"},
		{"concurrency flag", nil, []string{"list", "v1.24.17", "--concurrency", "0"},
			"k8sverify: --concurrency must be at least 1, got 0\n"},
		{"flag overrides variable", map[string]string{"K8SVERIFY_CONCURRENCY": "4"}, []string{"list", "v1.24.17", "--concurrency", "0"},
			"k8sverify: --concurrency must be at least 1, got 0\n"},
		{"timeout from the environment", map[string]string{"K8SVERIFY_TIMEOUT": "-1s"}, []string{"list", "v1.24.17"},
			"k8sverify: $K8SVERIFY_TIMEOUT (--timeout) must be positive, got -1s\n"},
		{"deadline from the environment", map[string]string{"K8SVERIFY_DEADLINE": "0s"}, []string{"list", "v1.24.17"},
			"k8sverify: $K8SVERIFY_DEADLINE (--deadline) must be positive, got 0s\n"},
		{"rekor URL from the environment", map[string]string{"K8SVERIFY_REKOR_URL": "http://x"}, []string{"verify", "v1.24.17", "--kind", "binary"},
			"k8sverify: $K8SVERIFY_REKOR_URL (--rekor-url): \"http://x\": plain http is allowed only for loopback hosts\n"},
		{"rekor URL flag", nil, []string{"verify", "v1.24.17", "--kind", "binary", "--rekor-url", "http://x"},
			"k8sverify: --rekor-url: \"http://x\": plain http is allowed only for loopback hosts\n"},
		{"download URL from the environment", map[string]string{"K8SVERIFY_DOWNLOAD_URL": "http://x"}, []string{"verify", "v1.24.17", "--kind", "binary"},
			"k8sverify: $K8SVERIFY_DOWNLOAD_URL (--download-url): \"http://x\": plain http is allowed only for loopback hosts\n"},
		{"TUF URL from the environment", map[string]string{"K8SVERIFY_TUF_URL": "http://x", "K8SVERIFY_TUF_ROOT": "/nonexistent/root.json"}, []string{"verify", "v1.24.17", "--kind", "binary"},
			"k8sverify: $K8SVERIFY_TUF_URL (--tuf-url): "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runEnv(tc.env, tc.args...)
			if code != ExitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d and %q\n%s\n%s", code, ExitUsage, tc.want, out, errOut)
			}
		})
	}
}

// --trust-pack and --trusted-root both name the trusted root: given both,
// from flags or variables, the run refuses (exit 2) naming both, never
// keeping one in silence.
func TestTrustPackConflictsWithTrustedRoot(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flags", nil, []string{"--trust-pack", "/p", "--trusted-root", "/r.json"},
			"--trust-pack and --trusted-root both name the Sigstore trusted root"},
		{"trusted root from the environment", map[string]string{"K8SVERIFY_TRUSTED_ROOT": "/r.json"}, []string{"--trust-pack", "/p"},
			"--trust-pack and $K8SVERIFY_TRUSTED_ROOT (--trusted-root) both name"},
		{"both from the environment", map[string]string{"K8SVERIFY_TRUSTED_ROOT": "/r.json", "K8SVERIFY_TRUST_PACK": "/p"}, nil,
			"$K8SVERIFY_TRUST_PACK (--trust-pack) and $K8SVERIFY_TRUSTED_ROOT (--trusted-root) both name"},
	} {
		for _, cmd := range [][]string{{"verify", "v1.24.17", "--kind", "image"}, {"verify-image", "registry.example.com/kube-apiserver:v1.24.17"}} {
			t.Run(tc.name+" "+cmd[0], func(t *testing.T) {
				code, out, errOut := runEnv(tc.env, append(cmd, tc.args...)...)
				if code != ExitUsage || !strings.Contains(errOut, tc.want) {
					t.Errorf("exit %d, want %d and %q\n%s\n%s", code, ExitUsage, tc.want, out, errOut)
				}
			})
		}
	}
}
