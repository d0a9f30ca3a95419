package evidence

import (
	"context"
	"net/http"
	"strconv"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	gcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Warm names requests a run makes anyway that can be sent before the run
// knows its artifacts (while it reads the release's SBOM): each then
// costs no round trip of its own when the artifacts need it.
type Warm struct {
	// Registry is the registry the run reads images from ("": none). Its
	// ping (how to authenticate, asked once per run) is sent now: the
	// registry sessions take its answer from the fetcher's memo.
	Registry string
	// Image is the reference (registry/name:tag) of an image the run
	// verifies ("": none), Digest the digest the catalog gives its tag
	// ("": unknown, and nothing is sent). HEADs of Digest's cosign
	// signature tag and of its OCI referrers tag (sha256-<hex>) in
	// Image's repository are sent now, with the ping, and not followed: a
	// registry front's redirects of those kinds
	// (transport.RegistryRoutes) are then learned before the images'
	// requests fan out, which they could not be from the run's first
	// image (go-containerregistry asks for a manifest only once the ping
	// is answered). So is Digest's referrers API request, as
	// go-containerregistry sends it: a registry without the API answers
	// it once for the run (the fetcher's memo), and the images' referrer
	// look-ups then go to the referrers tag at once. The image's tag
	// itself is not: a name is always resolved at the front.
	Image, Digest string
	// File is the location of a release file the run verifies ("":
	// none). Its .sha256 is read now and kept for Blob: the download
	// site's redirect (learned from the first request below /release/)
	// is then known before the release files' requests fan out.
	File string
}

// Warm sends w's requests. stop, called once the run is over, forgets an
// answer no artifact took and waits for the requests to end; the answers
// taken are the ones the artifacts would have had (errors included).
func (f *Fetcher) Warm(ctx context.Context, w Warm) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if reg, err := name.NewRegistry(w.Registry, f.NameOptions()...); err == nil && w.Registry != "" {
		rt := gcrtransport.NewUserAgent(&registryTransport{inner: f.http.Guarded(), memo: &f.registryMemo, routes: &f.registryRoutes, allowHTTP: f.allowHTTP}, f.http.UserAgent())
		// go-containerregistry asks a registry on loopback or a private
		// address over https and over http at once (Ping), and keeps
		// the scheme that answers: so do the probes (the other fails at
		// once: no TLS at the address, or not plain http); any other
		// registry over https only.
		schemes := []string{"https"}
		if reg.Scheme() == "http" {
			schemes = append(schemes, "http")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = gcrtransport.Ping(ctx, reg, rt)
		}()
		for _, scheme := range schemes {
			for _, p := range w.probes(scheme, f.NameOptions()) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if req, err := http.NewRequestWithContext(ctx, p.method, p.url, nil); err == nil {
						if p.accept != "" {
							req.Header.Set("Accept", p.accept)
						}
						if resp, err := rt.RoundTrip(req); err == nil {
							resp.Body.Close()
						}
					}
				}()
			}
		}
	}
	forget := func() {}
	if w.File != "" {
		url := w.File + ".sha256"
		forget = f.ahead.Start(ctx, &wg, "get "+url+" "+strconv.FormatInt(maxSumFile, 10), func(ctx context.Context) (any, error) {
			return f.http.Get(ctx, url, maxSumFile)
		})
	}
	return func() {
		forget()
		cancel()
		wg.Wait()
	}
}

// probe is a request Warm sends.
type probe struct{ method, url, accept string }

// probes are the requests for w.Digest in w.Image's repository, over
// scheme: a HEAD of its cosign signature tag, as cosign asks for it; its
// referrers API request and a HEAD of its referrers tag, as
// go-containerregistry asks for them.
func (w Warm) probes(scheme string, opts []name.Option) []probe {
	tag, err := name.NewTag(w.Image, opts...)
	h, herr := v1.NewHash(w.Digest)
	if err != nil || herr != nil || w.Image == "" {
		return nil
	}
	repo := tag.Context()
	base := scheme + "://" + repo.RegistryStr() + "/v2/" + repo.RepositoryStr()
	index := string(types.OCIImageIndex)
	return []probe{
		{http.MethodHead, base + "/manifests/" + h.Algorithm + "-" + h.Hex + ".sig", ""},
		{http.MethodGet, base + "/referrers/" + h.String(), index},
		{http.MethodHead, base + "/manifests/" + h.Algorithm + "-" + h.Hex, index},
	}
}

// get reads url as f.http.Get does, or takes the answer read ahead of it
// (Warm).
func (f *Fetcher) get(ctx context.Context, url string, limit int64) ([]byte, error) {
	if a, ok := f.ahead.Take(ctx, "get "+url+" "+strconv.FormatInt(limit, 10)); ok {
		data, _ := a.Value.([]byte)
		return data, a.Err
	}
	return f.http.Get(ctx, url, limit)
}
