//go:build !unix

package testworld

import (
	"testing"
	"time"
)

// CPUTimes is unknown here: the CPU metrics read zero.
func CPUTimes(testing.TB) (user, sys time.Duration) { return 0, 0 }
