// Package layers holds the test that pins the import graph of k8sverify's
// packages, so the layers docs/ARCHITECTURE.md describes cannot leak into
// each other.
package layers
