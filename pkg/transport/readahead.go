package transport

import (
	"context"
	"sync"
)

// ReadAhead keeps answers read before they are asked for (requests a run
// makes anyway, sent while it still lists its work), each taken once, by
// a key that names the request exactly. The zero value is ready; it is
// safe for concurrent use.
type ReadAhead struct {
	mu   sync.Mutex
	kept map[string]*readAhead
}

// Answer is what a read returned.
type Answer struct {
	Value any
	Err   error
}

type readAhead struct {
	done   chan struct{}
	answer Answer
}

// Start reads key's answer with read in a goroutine that wg counts, and
// keeps it for Take. forget drops it if it was not taken (call it once
// the run is over, after cancelling ctx; wg then tells when the read
// ended).
func (a *ReadAhead) Start(ctx context.Context, wg *sync.WaitGroup, key string, read func(context.Context) (any, error)) (forget func()) {
	r := &readAhead{done: make(chan struct{})}
	a.mu.Lock()
	if a.kept == nil {
		a.kept = map[string]*readAhead{}
	}
	a.kept[key] = r
	a.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(r.done)
		r.answer.Value, r.answer.Err = read(ctx)
	}()
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.kept[key] == r {
			delete(a.kept, key)
		}
	}
}

// Take returns the answer read ahead for key, once, waiting for it if it
// is still out; false when there is none, or ctx ended first (the caller
// then reads it itself).
func (a *ReadAhead) Take(ctx context.Context, key string) (Answer, bool) {
	if a == nil {
		return Answer{}, false
	}
	a.mu.Lock()
	r := a.kept[key]
	delete(a.kept, key)
	a.mu.Unlock()
	if r == nil {
		return Answer{}, false
	}
	select {
	case <-r.done:
		return r.answer, true
	case <-ctx.Done():
		return Answer{}, false
	}
}
