// Package verify decides whether an artifact is what its signer signed.
//
// It is pure: given the artifact's digest, the evidence (Sigstore bundles),
// the trusted material and the policy, it returns a verdict. It never
// fetches anything and reads no clock but the one passed in.
package verify
