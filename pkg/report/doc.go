// Package report renders verification results: a human table, versioned
// JSON, JUnit and a digest-pinned list of verified images for mirroring.
// It does no network I/O.
package report
