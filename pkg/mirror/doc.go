// Package mirror copies a release's images into another registry with
// their tags and signatures — only what verified — and verifies the
// copies there (Copy, over an audit.Session: the session's source gives
// the evidence and content, its judge the verdicts). Its Writer writes
// into a destination registry images by digest, cosign signature tags,
// Sigstore bundles as OCI referrers, and tags, each only when the registry
// lacks it. Nothing here decides what verifies: the copy follows the
// judge's verdicts.
package mirror
