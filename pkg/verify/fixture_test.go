package verify_test

import (
	"path/filepath"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// timestamped is a Sigstore whose trusted root also holds a timestamp
// authority and a Rekor v2 log, with the verifier of that root.
type timestamped struct {
	s   *testworld.Sigstore
	tsa *testworld.TimestampAuthority
	v2  *testworld.RekorV2Log
	v   *sigverify.Verifier
}

func newTimestamped(t *testing.T) *timestamped {
	t.Helper()
	w := &timestamped{}
	var err error
	if w.s, err = testworld.NewSigstore("http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if w.tsa, err = testworld.NewTimestampAuthority(); err != nil {
		t.Fatal(err)
	}
	if w.v2, err = testworld.NewRekorV2Log("https://log2025-1.rekor.testworld.local"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := w.s.WriteTrustedRootWith(path, w.tsa, w.v2); err != nil {
		t.Fatal(err)
	}
	trust, err := sigverify.LoadTrustedRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.v, err = sigverify.NewVerifier(trust); err != nil {
		t.Fatal(err)
	}
	return w
}
