// Package rekor reads a Rekor transparency log's v1 API: the index search
// by artifact hash, entries by UUID, and batched lookups of the entries
// that record given signatures. It reads and bounds Rekor's answers and
// rejects malformed ones (verify.ErrEvidenceMalformed); it decides nothing
// (pkg/sigverify verifies the entries).
package rekor
