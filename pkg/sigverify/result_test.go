package sigverify_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/signing"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// The earliest valid entry decides, wherever it is in the bundle; with
// several entries and none valid, the reason says how many more there
// were.
func TestLogEntriesOrder(t *testing.T) {
	w := newWorld(t)
	b := w.message(t, w.opts(nil))
	first := b.VerificationMaterial.TlogEntries[0]
	b = w.withCopy(t, b, time.Now().Add(5*time.Minute)) // valid: the certificate is valid for ten minutes
	r := w.v.BundleJSON(marshal(t, b), w.policy)
	if !r.Verified() || r.LogIndex == nil || *r.LogIndex != first.LogIndex || r.IntegratedTime == nil || r.IntegratedTime.Unix() != first.IntegratedTime {
		t.Errorf("the later copy decided: log index %v, time %v (want %d at %d): %v", r.LogIndex, r.IntegratedTime, first.LogIndex, first.IntegratedTime, r.Err)
	}

	forged := func() []byte {
		return w.forge(t, w.message(t, w.opts(nil)), testworld.ForgeCheckpointKey)
	}
	one := w.v.BundleJSON(forged(), w.policy)
	two := w.v.BundleJSON(withExtraEntry(t, parsed(t, forged()), forged()), w.policy)
	if one.Verified() || strings.Contains(one.Error, "more entries") {
		t.Errorf("one forged entry: %s", one.Error)
	}
	if two.Verified() || !strings.Contains(two.Error, "(and 1 more entries, none valid)") {
		t.Errorf("two forged entries: %s", two.Error)
	}
}

func parsed(t *testing.T, data []byte) *bundle.Bundle {
	t.Helper()
	b, err := sigverify.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// What a result says of a bundle and of its checks: the kind of
// signature, the log by a short ID, and for each failed check what was
// expected and what was found, only when they are known.
func TestResultWording(t *testing.T) {
	w := newWorld(t)
	for kind, b := range map[string][]byte{
		"message signature": w.genuineV03JSON,
		"DSSE envelope":     marshal(t, w.dsse(t, w.opts(nil))),
	} {
		r := w.v.BundleJSON(b, w.policy)
		if len(r.Checks) == 0 || r.Checks[0].Name != "bundle" || !strings.Contains(r.Checks[0].Actual, kind) {
			t.Errorf("%s: bundle check %+v", kind, r.Checks)
		}
	}
	shortLog := regexp.MustCompile(`log [0-9a-f]{12}… index [0-9]+`)
	r := w.v.BundleJSON(w.forge(t, w.message(t, w.opts(nil)), testworld.ForgeCheckpointKey), w.policy)
	if !shortLog.MatchString(r.Error) {
		t.Errorf("the entry not named by its log's short ID: %s", r.Error)
	}

	f := signing.New(t)
	noDigest := f.Verifier.ImageSignature(nil, nil, sigverify.Digest{}, nil, sigverify.Policy{}.Identity)
	if want := sigverify.ErrBundleInvalid.Error() + ": policy names no image digest [check: policy]"; noDigest.Error != want {
		t.Errorf("nothing expected, nothing found: %q, want %q", noDigest.Error, want)
	}
}
