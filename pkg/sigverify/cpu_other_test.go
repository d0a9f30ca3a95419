//go:build !unix

package sigverify_test

import (
	"testing"
	"time"
)

// cpuTimes is unknown here: the CPU metrics read zero.
func cpuTimes(testing.TB) (user, sys time.Duration) { return 0, 0 }
