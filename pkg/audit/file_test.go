package audit_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/verify"
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

// Anyone may log signatures of any digest: with hundreds of an attacker's
// signatures of kubectl's digest in the log, searching it still finds and
// verifies the release team's; a file nobody signed is reported as not
// found, which is no proof that it is unsigned.
func TestVerifyFileFromLogWithManySignatures(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindBinary}})
	f := w.Files["bin/linux/amd64/kubectl"]
	digest, err := hex.DecodeString(f.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for range 300 {
		if _, err := w.Sigstore.SignDigest(digest, testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: testworld.ForeignIdentity, Issuer: artifacts.GoogleIssuer}}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	genuine, unknown := filepath.Join(dir, "kubectl"), filepath.Join(dir, "other")
	if err := os.WriteFile(genuine, f.Content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unknown, []byte("nobody signed this"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := sessions.New(t, sessions.Config(w)).VerifyFiles(context.Background(), audit.FilesRequest{Files: []string{genuine, unknown}})
	if err != nil {
		t.Fatal(err)
	}
	// Found signed by the release team among them, it is identified and
	// verified as the release file it is.
	if v := res.Verdicts[0]; v.Status != verify.StatusVerified || !strings.Contains(v.Reason, genuine+": kubectl linux/amd64 v1.24.17 verified") {
		t.Errorf("genuine: %s (%d signatures): %.300s", v.Status, len(v.Signatures), v.Reason)
	}
	if v := res.Verdicts[1]; v.Status != verify.StatusUnsigned || !strings.Contains(v.Reason, "no proof that it is unsigned") {
		t.Errorf("unknown: %s: %s", v.Status, v.Reason)
	}
}
