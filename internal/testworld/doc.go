// Package testworld starts, on loopback, a complete signed Kubernetes
// release: a virtual Sigstore (Fulcio CA with embedded SCTs, CT log, Rekor
// log with Merkle proofs), a download site in the dl.k8s.io layout, an OCI
// registry and a Rekor API server. It is the only source of test fixtures.
package testworld
