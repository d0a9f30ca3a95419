// Package verify decides whether an artifact is what its signer signed.
//
// It is pure: given an artifact and its evidence (digests and the channels
// they came from, the image as served, Sigstore bundles), the judge returns
// a verdict. Each signature is verified by package sigverify against the
// trusted material; the judge binds the artifact to what was signed. It
// never fetches anything and reads no clock but the one passed in.
package verify
