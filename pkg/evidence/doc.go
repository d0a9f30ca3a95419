// Package evidence fetches what is needed to verify a release artifact:
// signatures, certificates, checksums and transparency-log entries from the
// download site, the image registry and Rekor, and normalises them into
// standard Sigstore bundles. Fetching never decides a verdict.
package evidence
