package mirror_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/mirror"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// A dry run's destination check: a registry that takes pushes passes (an
// upload was started, nothing written); one that refuses them, or does
// not answer, does not.
func TestCheckPush(t *testing.T) {
	var uploads atomic.Int32
	refuse := atomic.Bool{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
			uploads.Add(1)
			if refuse.Load() {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
				return
			}
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	f, err := evidence.NewFetcher(evidence.FetcherConfig{HTTP: transport.New(transport.WithTimeout(2 * time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	w, err := mirror.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.CheckPush(ctx, host+"/mirror/kube-apiserver"); err != nil {
		t.Fatalf("a registry that takes pushes: %v", err)
	}
	if uploads.Load() != 1 {
		t.Fatalf("%d uploads started, want 1", uploads.Load())
	}
	refuse.Store(true)
	err = w.CheckPush(ctx, host+"/mirror/kube-apiserver")
	if !errors.Is(err, mirror.ErrDestination) || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), host+"/mirror/kube-apiserver") {
		t.Fatalf("a registry that refuses pushes: %v", err)
	}
	if err := w.CheckPush(ctx, testworld.ClosedPort(t)+"/mirror/kube-apiserver"); !errors.Is(err, mirror.ErrDestination) {
		t.Fatalf("an unreachable registry: %v", err)
	}
	if err := w.CheckPush(ctx, "not a registry!"); err == nil || errors.Is(err, mirror.ErrDestination) {
		t.Fatalf("a malformed destination: %v", err)
	}
}
