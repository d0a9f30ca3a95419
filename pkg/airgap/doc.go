// Package airgap writes evidence packs for sites with no network: the
// evidence of a release's artifacts as a session fetches it online (the
// very values the judge reads), the TUF metadata that proves the trusted
// root offline, the release SBOM and channel documents the release is
// listed from, and optionally the release files and images. pkg/pack
// stores and reads packs; an audit.Session made with a pack verifies
// from one (verify --offline, mirror --from-pack).
package airgap
