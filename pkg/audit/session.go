// Package audit runs the whole job the commands ask for: list a release,
// fetch the evidence of its artifacts (online from pkg/evidence, or from
// an evidence pack), have pkg/verify's judge decide each verdict, and
// stream the verdicts with bounded concurrency. Online and offline runs
// go through the same judge; fetching never decides.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Errors of a request; test them with errors.Is. Each says what was wrong
// with what was asked, never how a command line spells it.
var (
	// ErrRequest: the request is contradictory or selects nothing.
	ErrRequest = errors.New("invalid request")
	// ErrLocalInput: a local file or directory named in the request cannot
	// be read as what it should be.
	ErrLocalInput = errors.New("unreadable local input")
	// ErrDeadline: the run's deadline (WithDeadline) passed before it was
	// done; what was not checked by then is an error wrapping it.
	ErrDeadline = errors.New("deadline exceeded")
)

// classified is an error of a kind (ErrRequest, ErrLocalInput, …) whose
// message is its cause's alone.
type classified struct {
	kind, err error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.kind, e.err} }

// classify marks err as of kind, for errors.Is, without changing its
// message.
func classify(kind, err error) error { return &classified{kind: kind, err: err} }

// Defaults of a session's configuration.
const (
	// DefaultConcurrency is how many artifacts are checked at once at
	// least, and in every request but a verification without download:
	// measured on the v1.24.17 test world at 50 ms per request
	// (BenchmarkConcurrency), 16 take 1.75 s, 32 0.93 s, 64 0.68 s.
	DefaultConcurrency = 64
	// MaxConcurrency caps the default of a verification without download,
	// which otherwise checks all its artifacts at once: the 18 releases
	// of 1.24 in one run (2880 artifacts) at 50 ms per request on two
	// busy cores took 12.6–16.9 s at 128, 10.8–14.8 s at 256, 8.7–12.9 s
	// at 384, with a peak RSS of 250–270, 320–340 and 430 MB (the command
	// line bounds its heap softly at 200 MiB: 223 MB at 256, no slower);
	// on idle cores 11.2–11.4 s at 64, 6.0–6.4 s at 256 (CPU-bound: about
	// 8 s of CPU on two cores).
	MaxConcurrency = 256
	// DefaultTimeout bounds each network request.
	DefaultTimeout = 30 * time.Second
	// DefaultDeadline is the deadline the command line gives a run
	// (WithDeadline).
	DefaultDeadline = 10 * time.Minute
)

// Config is what every request of a run shares: where releases and their
// evidence live, how to reach them, and what is trusted.
type Config struct {
	// Endpoints are the download site, SBOM site, registry and Rekor.
	Endpoints transport.Endpoints
	// Timeout bounds each network request (default 30 s): the answer must
	// start within it, a small answer be complete within it, and a
	// streamed body keep arriving at transport.MinTransferRate or faster.
	Timeout time.Duration
	// Concurrency bounds the artifacts checked at once. 0 scales it with
	// the work (see Session.limit): a verification without download checks
	// all its artifacts at once, at least DefaultConcurrency and at most
	// MaxConcurrency; anything else DefaultConcurrency.
	Concurrency int
	// Trust says where the trusted root comes from.
	Trust trust.Source
	// Rules are what the judge accepts beyond the catalog's policy.
	Rules verify.Rules
	// Catalog is the release catalog (nil: the one embedded in k8sverify).
	Catalog *artifacts.Catalog
	// Offline refuses every network request: releases are listed from the
	// catalog (and the pack's SBOM), trust comes from a file or a pack's
	// TUF metadata.
	Offline bool
	// Pack is the evidence pack every request of the session reads its
	// evidence from (Mode FromPack); "" fetches it online. A mirror from a
	// pack reaches nothing but its destination.
	Pack string
	// Files is a directory of release files (laid out as a download keeps
	// them) hashed and bound to the pack's evidence; with Pack only.
	Files string
	// Log, when set, receives a debug record of each network request.
	Log *slog.Logger
	// AllowHTTPRegistry allows image registries on plain http at any
	// address (default: only on loopback).
	AllowHTTPRegistry bool
	// ChangelogRef and PromoterRef pin the channels read from
	// Endpoints.ChannelsURL: the branch or commit of kubernetes/kubernetes
	// (default master) and of kubernetes/k8s.io (default main).
	ChangelogRef, PromoterRef string
	// ChannelCacheDir is k8sverify's cache directory: channel documents
	// read at a pinned commit are kept in its channels/ ("": none kept).
	ChannelCacheDir string
}

// Session runs requests under one configuration: one HTTP client (shared
// connections), one registry session, the trust loaded once. It is safe
// for concurrent use.
type Session struct {
	cfg     Config
	http    *transport.Client
	fetcher *evidence.Fetcher
	src     Source
	// channels read the independent channels of releases the catalog
	// holds no sums for, once per document in the session.
	channels *artifacts.Channels

	trustMu    sync.Mutex // guards judge, trustErr and trustNotes: the trust loads once
	judge      *verify.Judge
	trustErr   error
	trustNotes []string // said once, in the first result of the run
}

// NewSession checks the configuration and opens a session; Close it.
func NewSession(cfg Config) (*Session, error) {
	if err := cfg.Endpoints.Validate(); err != nil {
		return nil, classify(ErrRequest, err)
	}
	if cfg.Catalog == nil {
		cfg.Catalog = artifacts.Embedded()
	}
	if err := checkChoices(cfg); err != nil {
		return nil, err
	}
	if cfg.Concurrency < 0 {
		return nil, classify(ErrRequest, fmt.Errorf("concurrency must be at least 1, got %d", cfg.Concurrency))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, classify(ErrRequest, fmt.Errorf("timeout must be positive, got %s", cfg.Timeout))
	}
	parallel := cfg.Concurrency
	if parallel == 0 {
		parallel = MaxConcurrency
	}
	opts := []transport.Option{transport.WithTimeout(cfg.Timeout), transport.WithParallel(parallel)}
	if cfg.Log != nil {
		opts = append(opts, transport.WithLogger(cfg.Log))
	}
	if cfg.Offline {
		opts = append(opts, transport.WithTransport(transport.OfflineTransport{}))
	}
	s := &Session{cfg: cfg, http: transport.New(opts...)}
	f, err := evidence.NewFetcher(evidence.FetcherConfig{HTTP: s.http, RekorURL: cfg.Endpoints.RekorURL, AllowHTTPRegistry: cfg.AllowHTTPRegistry})
	if err != nil {
		return nil, classify(ErrRequest, err)
	}
	s.fetcher = f
	switch {
	case cfg.Files != "" && cfg.Pack == "":
		return nil, classify(ErrRequest, errors.New("a directory of release files is verified against an evidence pack"))
	case cfg.Pack != "":
		ps, err := openPackSource(cfg.Pack, cfg.Files)
		if err != nil {
			return nil, err
		}
		s.src = ps
		s.channels = ps.channels()
		if s.cfg.Trust.File == "" && s.cfg.Trust.PackDir == "" {
			s.cfg.Trust.Pack = ps.p // the pack's TUF metadata, verified from the trusted TUF root
		}
	default:
		on := &onlineSource{f: f}
		if !cfg.Offline {
			on.http = s.http
		}
		s.src = on
		s.channels = onlineChannels(cfg, s.http)
	}
	return s, nil
}

// Close releases the session's evidence pack, if any.
func (s *Session) Close() error { return s.src.Close() }

// CloseIdleConnections closes the session's connections no request uses
// (see transport.Client.CloseIdleConnections); later calls open new ones.
func (s *Session) CloseIdleConnections() { s.http.CloseIdleConnections() }

// Judge returns the session's judge, loading the trust once: from the
// configured trusted root file, the session pack's TUF metadata, or TUF
// online, within ctx (its deadline, its cancellation). A load cut short by
// ctx is not kept: the next call loads again.
func (s *Session) Judge(ctx context.Context) (*verify.Judge, error) {
	s.trustMu.Lock()
	defer s.trustMu.Unlock()
	if s.judge != nil || s.trustErr != nil {
		return s.judge, s.trustErr
	}
	src := s.cfg.Trust
	if src.Fetcher == nil {
		src.Fetcher = trust.NewFetcher(ctx, s.http)
	}
	trust, err := trust.Load(src)
	if err != nil {
		if ctx.Err() != nil {
			return nil, classify(sigverify.ErrNoTrust, fmt.Errorf("%w: %w", context.Cause(ctx), err))
		}
		s.trustErr = trustError(src, err)
		return nil, s.trustErr
	}
	v, err := sigverify.NewVerifier(trust)
	if err == nil {
		s.judge, err = verify.NewJudge(v, s.cfg.Rules)
	}
	s.trustErr = err
	s.trustNotes = trust.Notes
	return s.judge, s.trustErr
}

// takeTrustNotes returns what the reports must say of how the trust was
// had: a TUF cache discarded is said once per session; a pack verified as
// of its fetch time, in every result.
func (s *Session) takeTrustNotes() []string {
	s.trustMu.Lock()
	defer s.trustMu.Unlock()
	notes := s.trustNotes
	if !s.cfg.Trust.PackAtFetchTime {
		s.trustNotes = nil
	}
	return notes
}

// trustError says whether the trust failed on local input (a trusted root
// file) or could not be had (TUF online).
func trustError(src trust.Source, err error) error {
	if src.File != "" || src.PackDir != "" || src.Pack != nil {
		return classify(ErrLocalInput, err)
	}
	return classify(sigverify.ErrNoTrust, err)
}

// Each runs fn(0..n-1) with the session's concurrency
// (DefaultConcurrency unless configured).
func (s *Session) Each(n int, fn func(i int)) {
	s.eachAtOnce(s.limit(0), n, fn)
}

// limit is how many of work artifacts are verified at once: the
// configured concurrency, else all of them, at least DefaultConcurrency
// and at most MaxConcurrency (0 work: DefaultConcurrency). A run's memory
// grows with the artifacts in flight (their evidence and bundles), so the
// cap bounds it: one release (160 artifacts) goes at once; 18 releases
// (2880) 256 at a time.
func (s *Session) limit(work int) int {
	if s.cfg.Concurrency > 0 {
		return s.cfg.Concurrency
	}
	return min(MaxConcurrency, max(DefaultConcurrency, work))
}

// eachAtOnce runs fn(0..n-1), at most limit at once.
func (s *Session) eachAtOnce(limit, n int, fn func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// WithDeadline bounds a run: when d has passed, ctx ends with ErrDeadline
// as its cause, and every artifact not checked by then is an error saying
// so. Apply it once, to the context of the whole run; a request of a
// session ends when its context does.
func WithDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%w (%s)", ErrDeadline, d))
}

// overdue turns the error verdict of an artifact whose request ended (its
// deadline passed, or it was interrupted) into the reason it ended: the
// errors of requests cut short say less.
func overdue(ctx context.Context, judge *verify.Judge, r *artifacts.Release, v verify.Verdict) verify.Verdict {
	if ctx.Err() == nil || v.Status != verify.StatusError {
		return v
	}
	elapsed := v.Elapsed
	v = judge.Judge(r, v.Artifact, verify.Evidence{Unavailable: context.Cause(ctx)})
	v.Elapsed = elapsed
	return v
}

// onlineChannels are the channels of an online session, read through
// client (an offline session reads none, and says why).
func onlineChannels(cfg Config, client *transport.Client) *artifacts.Channels {
	c := &artifacts.Channels{URL: cfg.Endpoints.ChannelsURL, ChangelogRef: cfg.ChangelogRef, PromoterRef: cfg.PromoterRef}
	switch {
	case cfg.Offline:
		c.Offline = "offline"
	case cfg.Endpoints.ChannelsURL == "":
		c.Offline = "no channels host configured"
	case cfg.ChannelCacheDir != "":
		c.Open = channelCache{next: client, dir: cfg.ChannelCacheDir}
	default:
		c.Open = client
	}
	return c
}

// checkChoices: the incidents to accept are documented, and the
// channels' refs name a branch or a commit.
func checkChoices(cfg Config) error {
	known := cfg.Catalog.IncidentIDs()
	for _, id := range cfg.Rules.AcceptIncidents {
		if !slices.Contains(known, id) {
			return classify(ErrRequest, fmt.Errorf("no documented incident %q to accept: the catalog documents %s", id, strings.Join(known, ", ")))
		}
	}
	for _, ref := range []string{cfg.ChangelogRef, cfg.PromoterRef} {
		if !validRef(ref) {
			return classify(ErrRequest, fmt.Errorf("channel ref %q: want a branch or commit (letters, digits, '.', '_', '-', '/'; no '..')", ref))
		}
	}
	return nil
}

// validRef accepts a branch name or commit of a channel's repository, ""
// for the default; nothing that would leave the repository's path.
func validRef(ref string) bool {
	if strings.Contains(ref, "..") || strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/") {
		return false
	}
	for _, r := range ref {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/", r)) {
			return false
		}
	}
	return true
}
