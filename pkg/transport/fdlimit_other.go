//go:build !unix

package transport

// openFileLimit is unknown here: no limit is derived from it.
func openFileLimit() uint64 { return 0 }
