//go:build unix

package sigverify_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuTimes returns the user and system CPU time the test process has
// used so far (with its garbage collection).
func cpuTimes(tb testing.TB) (user, sys time.Duration) {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
