package sigverify_test

import (
	"errors"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// Old signers put the root in v0.1/v0.2 chains. With
// AllowTrustedRootInChain the trusted Fulcio root is tolerated there; a
// root the trust does not hold never is.
func TestAllowTrustedRootInChain(t *testing.T) {
	w := newWorld(t)
	v02 := func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV02 }
	policy := w.policy
	policy.AllowTrustedRootInChain = true

	withOwnRoot := w.forge(t, w.message(t, w.opts(v02)), testworld.ForgeRootInChain)
	if r := w.v.BundleJSON(withOwnRoot, w.policy); r.Verified() {
		t.Error("root in the chain accepted by default")
	}
	if r := w.v.BundleJSON(withOwnRoot, policy); !r.Verified() {
		t.Errorf("trusted root in the chain rejected with AllowTrustedRootInChain: %v", r.Err)
	}

	foreign, err := w.other.ForgeBundle(w.message(t, w.opts(v02)), testworld.ForgeRootInChain)
	if err != nil {
		t.Fatal(err)
	}
	r := w.v.BundleJSON(foreign, policy)
	if r.Verified() || !errors.Is(r.Err, sigverify.ErrBundleInvalid) {
		t.Errorf("a foreign root in the chain: %v", r.Err)
	}
}
