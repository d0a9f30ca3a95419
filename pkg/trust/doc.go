// Package trust loads the Sigstore trusted material a run verifies with:
// a trusted_root.json the user names, the TUF metadata an evidence pack
// recorded (verified from the trusted TUF root, never trusted because it
// is there), or the public-good TUF repository online. It records TUF
// metadata into packs, and fetches through the run's HTTP client.
package trust
