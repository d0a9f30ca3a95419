// Package layers holds the test that pins the import graph of k8sverify's
// packages, so the layers of DESIGN.md section 2 cannot leak into each
// other.
package layers
