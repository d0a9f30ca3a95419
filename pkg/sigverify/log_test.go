package sigverify_test

import (
	"crypto/sha256"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// withCopy appends to b a copy of its log entry, logged again at at:
// Rekor keeps one entry per shard, and anyone may log a copy of an old
// entry in the active one (sigstore-python#237).
func (w *world) withCopy(t *testing.T, b *bundle.Bundle, at time.Time) *bundle.Bundle {
	t.Helper()
	orig := b.VerificationMaterial.TlogEntries[0]
	e, err := w.s.Log.Append(orig.CanonicalizedBody, "sha256:copy", at)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := w.s.Log.BundleEntry(e, true)
	if err != nil {
		t.Fatal(err)
	}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, copied)
	return b
}

// The earliest valid log entry decides; later copies and rejected
// entries are noted and never turn a verified signature into a failed
// one; with no valid entry, the signature fails for the first entry's
// own reason.
func TestLogEntriesEarliestValidDecides(t *testing.T) {
	w := newWorld(t)
	later := time.Now().Add(3 * time.Hour) // after the certificate expired
	cases := []struct {
		name     string
		bundle   func(t *testing.T) []byte
		verified bool
		check    string
		note     string
	}{
		{"a later copy after the certificate expired", func(t *testing.T) []byte {
			return marshal(t, w.withCopy(t, w.message(t, w.opts(nil)), later))
		}, true, "", "after the certificate expired: a later copy, ignored"},
		{"a copy logged first, while the certificate was valid", func(t *testing.T) []byte {
			b := w.message(t, w.opts(nil))
			b = w.withCopy(t, b, time.Now().Add(time.Minute))
			b.VerificationMaterial.TlogEntries[0], b.VerificationMaterial.TlogEntries[1] = b.VerificationMaterial.TlogEntries[1], b.VerificationMaterial.TlogEntries[0]
			return marshal(t, b)
		}, true, "", "a later copy of the deciding entry"},
		{"a forged entry beside a genuine one", func(t *testing.T) []byte {
			return withExtraEntry(t, w.message(t, w.opts(nil)), w.forge(t, w.message(t, w.opts(nil)), testworld.ForgeCheckpointKey))
		}, true, "", "rejected (inclusion proof and checkpoint"},
		{"only a copy logged after the certificate expired", func(t *testing.T) []byte {
			b := w.withCopy(t, w.message(t, w.opts(nil)), later)
			b.VerificationMaterial.TlogEntries = b.VerificationMaterial.TlogEntries[1:]
			return marshal(t, b)
		}, false, "validity-at-log-time", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := w.v.BundleJSON(tc.bundle(t), w.policy)
			if r.Verified() != tc.verified {
				t.Fatalf("verified=%v: %v\nchecks %+v", r.Verified(), r.Err, r.Checks)
			}
			if !tc.verified && string(sigverify.FailedCheckOf(r.Err)) != tc.check {
				t.Errorf("failed check %q, want %q: %v", sigverify.FailedCheckOf(r.Err), tc.check, r.Err)
			}
			if tc.note != "" && !strings.Contains(strings.Join(r.Notes, "\n"), tc.note) {
				t.Errorf("notes %q lack %q", r.Notes, tc.note)
			}
			if tc.verified && (r.SignedAt == nil || r.SignedAt.After(time.Now().Add(time.Minute))) {
				t.Errorf("signed at %v: the earliest entry must decide", r.SignedAt)
			}
		})
	}
}

// A Rekor v2 entry of a DSSE envelope records the digest of the
// envelope's pre-authentication encoding: an entry recording another
// digest, even with this very signature and certificate, is another
// envelope's.
func TestRekorV2EntryOfAnotherEnvelope(t *testing.T) {
	w := newWorld(t)
	b := w.dsse(t, w.opts(func(o *testworld.BundleOptions) { o.TSA, o.RekorV2 = w.tsa, w.v2 }))
	if r := w.v.BundleJSON(marshal(t, b), w.policy); !r.Verified() {
		t.Fatalf("genuine: %v", r.Err)
	}
	cert, err := x509.ParseCertificate(b.VerificationMaterial.GetCertificate().GetRawBytes())
	if err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("another envelope"))
	entry, err := w.v2.AppendHashedRekord(other[:], b.GetDsseEnvelope().GetSignatures()[0].GetSig(), cert)
	if err != nil {
		t.Fatal(err)
	}
	b.VerificationMaterial.TlogEntries[0] = entry
	r := w.v.BundleJSON(marshal(t, b), w.policy)
	if r.Verified() || sigverify.FailedCheckOf(r.Err) != "transparency-log" || !strings.Contains(r.Error, "an entry of another envelope") {
		t.Errorf("an entry of another digest: %v", r.Err)
	}
}
