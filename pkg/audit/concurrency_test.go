package audit_test

import (
	"testing"

	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// TestConcurrencyFollowsTheWork: by default a verification checks all its
// artifacts at once, at least DefaultConcurrency and at most
// MaxConcurrency; a configured concurrency is kept whatever the work.
func TestConcurrencyFollowsTheWork(t *testing.T) {
	endpoints := transport.Endpoints{DownloadURL: "http://127.0.0.1:1", SBOMURL: "http://127.0.0.1:1", Registry: "127.0.0.1:1", RekorURL: "http://127.0.0.1:1"}
	for _, tc := range []struct {
		configured, work, want int
	}{
		{0, 0, audit.DefaultConcurrency},
		{0, 10, audit.DefaultConcurrency},
		{0, 160, 160},
		{0, 2880, audit.MaxConcurrency},
		{8, 2880, 8},
		{300, 10, 300},
	} {
		s, err := audit.NewSession(audit.Config{Endpoints: endpoints, Concurrency: tc.configured, Offline: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Limit(tc.work); got != tc.want {
			t.Errorf("concurrency %d, %d artifacts: %d at once, want %d", tc.configured, tc.work, got, tc.want)
		}
		s.Close()
	}
	if _, err := audit.NewSession(audit.Config{Endpoints: endpoints, Concurrency: -1}); err == nil {
		t.Error("concurrency -1 accepted")
	}
}
