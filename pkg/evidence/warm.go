package evidence

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	gcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Warm names requests a run makes anyway that can be sent before the run
// knows its artifacts (while it reads the release's SBOM): each then
// costs no round trip of its own when the artifacts need it.
type Warm struct {
	// Registry is the registry the run reads images from ("": none). Its
	// ping (how to authenticate, asked once per run) is sent now: the
	// registry sessions take its answer from the fetcher's memo.
	Registry string
	// File is the location of a release file whose evidence the run
	// fetches ("": none). Its .sha256 is read now and kept for Blob, which
	// takes it instead of reading it again: the download site's redirect
	// (learned from the first request below /release/) is then known
	// before the release files' requests fan out.
	File string
}

// prefetched is an answer read ahead of its use, taken once.
type prefetched struct {
	url   string
	limit int64
	done  chan struct{}
	data  []byte
	err   error
}

// Warm sends w's requests. stop, called once the run is over, forgets an
// answer no artifact took and waits for the requests to end; the answers
// taken are the ones the artifacts would have had (errors included).
func (f *Fetcher) Warm(ctx context.Context, w Warm) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if w.Registry != "" {
		if reg, err := name.NewRegistry(w.Registry, f.NameOptions()...); err == nil {
			rt := gcrtransport.NewUserAgent(&registryTransport{inner: f.http.Guarded(), memo: &f.registryMemo, allowHTTP: f.allowHTTP}, f.http.UserAgent())
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = gcrtransport.Ping(ctx, reg, rt)
			}()
		}
	}
	var p *prefetched
	if w.File != "" {
		p = &prefetched{url: w.File + ".sha256", limit: maxSumFile, done: make(chan struct{})}
		f.prefetchMu.Lock()
		if f.prefetch == nil {
			f.prefetch = map[string]*prefetched{}
		}
		f.prefetch[p.url] = p
		f.prefetchMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(p.done)
			p.data, p.err = f.http.Get(ctx, p.url, p.limit)
		}()
	}
	return func() {
		if p != nil {
			f.prefetchMu.Lock()
			if f.prefetch[p.url] == p {
				delete(f.prefetch, p.url)
			}
			f.prefetchMu.Unlock()
		}
		cancel()
		wg.Wait()
	}
}

// get reads url as f.http.Get does, or takes the answer read ahead of it
// (Warm).
func (f *Fetcher) get(ctx context.Context, url string, limit int64) ([]byte, error) {
	f.prefetchMu.Lock()
	p := f.prefetch[url]
	if p != nil && p.limit == limit {
		delete(f.prefetch, url)
	} else {
		p = nil
	}
	f.prefetchMu.Unlock()
	if p != nil {
		select {
		case <-p.done:
			return p.data, p.err
		case <-ctx.Done():
		}
	}
	return f.http.Get(ctx, url, limit)
}
