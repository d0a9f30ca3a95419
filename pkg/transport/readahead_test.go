package transport_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/transport"
)

// An answer read ahead is taken once, errors included; one forgotten or
// never read ahead is not there to take.
func TestReadAhead(t *testing.T) {
	var a transport.ReadAhead
	var wg sync.WaitGroup
	ctx := context.Background()
	errGone := errors.New("gone")
	a.Start(ctx, &wg, "a", func(context.Context) (any, error) { return "answer", nil })
	a.Start(ctx, &wg, "b", func(context.Context) (any, error) { return nil, errGone })
	forget := a.Start(ctx, &wg, "c", func(context.Context) (any, error) { return "c", nil })
	forget()
	if got, ok := a.Take(ctx, "a"); !ok || got.Value != "answer" || got.Err != nil {
		t.Errorf("a: %v %v", got, ok)
	}
	if _, ok := a.Take(ctx, "a"); ok {
		t.Error("a taken twice")
	}
	if got, ok := a.Take(ctx, "b"); !ok || !errors.Is(got.Err, errGone) {
		t.Errorf("b: %v %v", got, ok)
	}
	for _, key := range []string{"c", "d"} {
		if got, ok := a.Take(ctx, key); ok {
			t.Errorf("%s: %v", key, got)
		}
	}
	wg.Wait()
	var none *transport.ReadAhead
	if _, ok := none.Take(ctx, "a"); ok {
		t.Error("a nil ReadAhead has answers")
	}
}
