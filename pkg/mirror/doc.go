// Package mirror writes into a destination registry what a mirror copies:
// images by digest, cosign signature tags, Sigstore bundles as OCI
// referrers, and tags, each written only when the registry lacks it. It
// never decides what to copy: the caller copies what the judge verified.
package mirror
