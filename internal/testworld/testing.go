package testworld

import (
	"context"
	"testing"
)

// StartT starts a world for a test or benchmark and closes it when that
// ends. It is how every package's tests get their world.
func StartT(t testing.TB, o Options) *World {
	t.Helper()
	w, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start test world: %v", err)
	}
	t.Cleanup(w.Close)
	return w
}
