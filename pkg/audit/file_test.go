package audit_test

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/audit"
)

// benchFile writes a file of size bytes once per benchmark.
func benchFile(b *testing.B, size int64) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "blob")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

var sizes = []struct {
	name string
	n    int64
}{{"64MiB", 64 << 20}, {"1GiB", 1 << 30}}

// BenchmarkHashFile is verify-file's hashing; compare with
// BenchmarkPlainSHA256 (target: at least 90% of its throughput).
// The report includes the peak heap in use, which must not grow with the
// file's size.
func BenchmarkHashFile(b *testing.B) {
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			p := benchFile(b, s.n)
			b.SetBytes(s.n)
			b.ResetTimer()
			for b.Loop() {
				if _, err := audit.HashFile(p); err != nil {
					b.Fatal(err)
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapsys-MiB")
		})
	}
}

// BenchmarkPlainSHA256 hashes the same files with crypto/sha256 and
// io.Copy: the baseline.
func BenchmarkPlainSHA256(b *testing.B) {
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			p := benchFile(b, s.n)
			b.SetBytes(s.n)
			b.ResetTimer()
			for b.Loop() {
				f, err := os.Open(p)
				if err != nil {
					b.Fatal(err)
				}
				h := sha256.New()
				if _, err := io.Copy(h, f); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
