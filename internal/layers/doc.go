// Package layers holds the test that pins k8sverify's import graph.
package layers
