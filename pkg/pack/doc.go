// Package pack stores evidence for air-gapped verification: an evidence
// pack is a directory of ordinary Sigstore bundles, the release SBOM, the
// Sigstore TUF metadata as fetched, content-addressed image blobs and
// (optionally) an OCI image layout, described by manifest.json. Writer
// writes one atomically under a lock; Pack reads one back without ever
// following a path out of it. It fetches nothing and decides nothing: what
// it stores is verify.Evidence, judged by the same judge online and off.
package pack
