//go:build unix

package testworld

import (
	"syscall"
	"testing"
	"time"
)

// CPUTimes returns the user and system CPU time the test process has used
// so far (its garbage collection, and the servers of any test world it
// started, included), for benchmarks that report CPU per operation.
func CPUTimes(tb testing.TB) (user, sys time.Duration) {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
