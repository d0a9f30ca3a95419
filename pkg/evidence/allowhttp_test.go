package evidence

import (
	"errors"
	"net/http"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/transport"
)

type answer struct{ called bool }

func (a *answer) RoundTrip(req *http.Request) (*http.Response, error) {
	a.called = true
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

// Plain http to a registry off loopback only with AllowHTTPRegistry, and
// then go-containerregistry is told the registry may answer on http.
func TestAllowHTTPRegistry(t *testing.T) {
	for _, allow := range []bool{false, true} {
		inner := &answer{}
		tr := &registryTransport{inner: inner, allowHTTP: allow}
		req, _ := http.NewRequest(http.MethodGet, "http://registry.internal:5000/v2/", nil)
		_, err := tr.RoundTrip(req)
		if allow != inner.called || allow != (err == nil) || !allow && !errors.Is(err, transport.ErrInsecureURL) {
			t.Errorf("allow %v: sent %v, error %v", allow, inner.called, err)
		}
		f, err := NewFetcher(FetcherConfig{HTTP: transport.New(), AllowHTTPRegistry: allow})
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.ParseImageReference("registry.internal:5000/k8s/kube-apiserver:v1.24.17")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.Context().Scheme(), map[bool]string{false: "https", true: "http"}[allow]; got != want {
			t.Errorf("allow %v: scheme %s, want %s", allow, got, want)
		}
	}
}
