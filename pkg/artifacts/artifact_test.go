package artifacts

import "testing"

func TestSplitImageReference(t *testing.T) {
	for _, tc := range []struct{ ref, repo, tag, digest string }{
		{"registry.k8s.io/kube-proxy:v1.24.17", "registry.k8s.io/kube-proxy", "v1.24.17", ""},
		{"registry.k8s.io/kube-proxy:v1.24.17@sha256:abcd", "registry.k8s.io/kube-proxy", "v1.24.17", "sha256:abcd"},
		{"127.0.0.1:5000/k8s/kube-proxy@sha256:abcd", "127.0.0.1:5000/k8s/kube-proxy", "", "sha256:abcd"},
		{"127.0.0.1:5000/kube-proxy", "127.0.0.1:5000/kube-proxy", "", ""},
		{"kube-proxy:v1.24.17", "kube-proxy", "v1.24.17", ""},
	} {
		repo, tag, digest := SplitImageReference(tc.ref)
		if repo != tc.repo || tag != tc.tag || digest != tc.digest {
			t.Errorf("%s: %q %q %q, want %q %q %q", tc.ref, repo, tag, digest, tc.repo, tc.tag, tc.digest)
		}
	}
}
