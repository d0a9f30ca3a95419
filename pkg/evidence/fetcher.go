package evidence

import (
	"errors"
	"sync"

	"github.com/k8sverify/k8sverify/pkg/rekor"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// ErrNoLog: evidence that needs the transparency log was asked of a
// fetcher without one.
var ErrNoLog = errors.New("no transparency log configured")

// FetcherConfig configures a Fetcher.
type FetcherConfig struct {
	// HTTP is the run's HTTP client (required): its transport, timeouts
	// and retries serve the download site, Rekor and the registries.
	HTTP *transport.Client
	// RekorURL is the Rekor instance to look signatures up in; "" means
	// none: release files' signatures then cannot be checked (their log
	// entries are only in Rekor), image signatures rest on the entries
	// they carry.
	RekorURL string
	// AllowHTTPRegistry allows registries on plain http at any address
	// (default: only on loopback). Registry traffic is then neither
	// confidential nor authenticated: only the signatures vouch for what
	// is read.
	AllowHTTPRegistry bool
}

// Fetcher fetches the evidence of release artifacts. Use one per run: its
// registry sessions (authentication, connections) are made once and
// shared; it is safe for concurrent use. It decides nothing: every answer
// is a verify.Evidence for the judge.
type Fetcher struct {
	http      *transport.Client
	log       *rekor.Client
	allowHTTP bool

	imageOnce, contentOnce sync.Once
	image, content         *ImageSession
	imageErr, contentErr   error

	registryMemo   registryMemo
	registryRoutes transport.RegistryRoutes // a registry front's redirects learned
	ahead          transport.ReadAhead      // answers read ahead (Warm)
}

// NewFetcher returns a fetcher of the configuration.
func NewFetcher(c FetcherConfig) (*Fetcher, error) {
	if c.HTTP == nil {
		return nil, errors.New("evidence fetcher: no HTTP client")
	}
	f := &Fetcher{http: c.HTTP, allowHTTP: c.AllowHTTPRegistry}
	if c.RekorURL != "" {
		if err := transport.CheckURL(c.RekorURL); err != nil {
			return nil, &transport.EndpointError{Endpoint: transport.EndpointRekor, Err: err}
		}
		f.log = rekor.NewClient(c.HTTP, c.RekorURL)
	}
	return f, nil
}

// HTTP returns the fetcher's HTTP client.
func (f *Fetcher) HTTP() *transport.Client { return f.http }
