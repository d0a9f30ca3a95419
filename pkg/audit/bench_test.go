package audit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// BenchmarkReleaseAudit audits the whole v1.24.17 release of the test
// world as verify selects it (130 files without downloading, 30 image
// manifests) over loopback and at 50 ms per request, as over a wide-area
// network. Target (issue 14): 0.9 s at 50 ms.
func BenchmarkReleaseAudit(b *testing.B) {
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run("latency="+latency.String(), func(b *testing.B) {
			w := testworld.StartT(b, testworld.Options{Latency: latency})
			b.ResetTimer()
			n := 0
			user0, sys0 := testworld.CPUTimes(b)
			for b.Loop() {
				vs := verifyWorld(b, w, audit.VerifyOptions{}) // a fresh run: new connections, as the CLI
				n = len(vs)
				for _, v := range vs {
					if v.Status != verify.StatusVerified {
						b.Fatalf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
					}
				}
			}
			user, sys := testworld.CPUTimes(b)
			b.ReportMetric(float64(n), "artifacts")
			if runs := float64(b.N * n); runs > 0 {
				// CPU of the whole process: the client and the test world's servers.
				b.ReportMetric(float64((user-user0).Microseconds())/runs, "user-µs/artifact")
				b.ReportMetric(float64((sys-sys0).Microseconds())/runs, "sys-µs/artifact")
			}
		})
	}
}

// BenchmarkConcurrency audits the v1.24.17 release at 50 ms per request
// with each concurrency: the measurement DefaultConcurrency rests on.
func BenchmarkConcurrency(b *testing.B) {
	w := testworld.StartT(b, testworld.Options{Latency: 50 * time.Millisecond})
	for _, c := range []int{16, 32, 64, 128, 256} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
			cfg := sessions.Config(w)
			cfg.Concurrency = c
			for b.Loop() {
				verifyWith(b, w, cfg, audit.VerifyOptions{})
			}
		})
	}
}
