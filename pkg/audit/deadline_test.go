package audit_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// When the deadline passes, the request ends with every artifact not
// checked by then an error wrapping ErrDeadline, not an interruption.
func TestDeadlineEndsTheRequest(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	c := sessions.Config(w)
	c.Endpoints.DownloadURL = testworld.HangingServer(t)
	// The deadline is the only thing that ends this request (the site never
	// answers), but what comes before the first download (the trust, the
	// SBOM) must fit in it however loaded the machine: not 300 ms.
	c.Timeout = time.Minute
	ctx, cancel := audit.WithDeadline(context.Background(), 2*time.Second)
	defer cancel()
	res, err := sessions.New(t, c).Verify(ctx, audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: audit.Selection{Kinds: blobKinds}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vs := res[0].Verdicts
	if len(vs) == 0 {
		t.Fatal("no verdicts")
	}
	for _, v := range vs {
		if v.Status != verify.StatusError || !errors.Is(v.Err, audit.ErrDeadline) || errors.Is(v.Err, context.Canceled) ||
			!strings.Contains(v.Reason, "deadline exceeded (2s)") {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// A download site that refuses connections is given up on after three
// failures: every artifact on it is an error naming the host, and none is
// blamed on a known incident.
func TestRefusingSiteGivenUp(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	c := sessions.Config(w)
	c.Endpoints.DownloadURL = "http://" + host
	res, err := sessions.New(t, c).Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: audit.Selection{Kinds: blobKinds}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	given := 0
	for _, v := range res[0].Verdicts {
		var down *transport.HostDownError
		if v.Status != verify.StatusError || !transport.IsHostFailure(v.Err) || strings.Contains(v.Reason, "incident") {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
		if errors.As(v.Err, &down) && down.Host == host {
			given++
		}
	}
	if given == 0 {
		t.Errorf("no artifact names the host given up on")
	}
}

// The trusted root fetched over TUF goes through the run's HTTP client:
// a TUF repository that never answers costs one request timeout (and its
// one retry), not forever.
func TestTUFBoundedByTheTimeout(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	c := sessions.Config(w)
	c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: testworld.HangingServer(t), Root: w.TUF.Root}, CacheDir: t.TempDir()}
	c.Timeout = 300 * time.Millisecond // the repository never answers: no other request needs to fit in it
	res, err := sessions.New(t, c).Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: audit.Selection{Kinds: blobKinds}}, nil)
	// Ended by the request timeout (not by the test binary's own timeout,
	// as an unbounded wait would be), whatever the time it took; every
	// artifact an error saying why, for the reports.
	allUntrusted(t, res, err, transport.ErrNoAnswer, nil)
}

// allUntrusted: a call whose trust could not be had gives every artifact
// an error naming why (a trust error caused by cause, not by not).
func allUntrusted(t *testing.T, res []*audit.Result, err, cause, not error) {
	t.Helper()
	if err != nil || len(res) == 0 || len(res[0].Verdicts) == 0 {
		t.Fatalf("%d results, %v", len(res), err)
	}
	for _, v := range res[0].Verdicts {
		if v.Status != verify.StatusError || !errors.Is(v.Err, sigverify.ErrNoTrust) || !errors.Is(v.Err, cause) || (not != nil && errors.Is(v.Err, not)) {
			t.Errorf("%s: %s: %s", v.Artifact.ID(), v.Status, v.Reason)
		}
	}
}

// The run's deadline bounds the trust load too: a TUF repository that
// never answers, with a request timeout far longer than the deadline, ends
// at the deadline.
func TestTUFBoundedByTheDeadline(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	c := sessions.Config(w)
	c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: testworld.HangingServer(t), Root: w.TUF.Root}, CacheDir: t.TempDir()}
	c.Timeout = time.Minute
	ctx, cancel := audit.WithDeadline(context.Background(), 300*time.Millisecond) // the repository never answers: nothing else needs to fit in it
	defer cancel()
	res, err := sessions.New(t, c).Verify(ctx, audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: audit.Selection{Kinds: blobKinds}}, nil)
	// Ended by the deadline, not by the minute's timeout: the errors name it.
	allUntrusted(t, res, err, audit.ErrDeadline, transport.ErrNoAnswer)
}

// A trust load cut short (an interrupted call) is not kept: the session's
// next call loads the trust again, and verifies.
func TestInterruptedTrustLoadNotKept(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	c := sessions.Config(w)
	c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}, CacheDir: t.TempDir()}
	s := sessions.New(t, c)
	rels := []*artifacts.Release{sessions.Selected(t, w)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.VerifyReleases(ctx, rels, audit.VerifyOptions{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted call: %v, want context.Canceled", err)
	}
	res, err := s.VerifyReleases(context.Background(), rels, audit.VerifyOptions{}, nil)
	if err != nil {
		t.Fatalf("next call: %v", err)
	}
	for _, r := range res {
		for _, v := range r.Verdicts {
			if v.Status != verify.StatusVerified {
				t.Errorf("%s: %s %s", v.Artifact, v.Status, v.Reason)
			}
		}
	}
}

// An incident to accept that the catalog does not document (a typo) is a
// request error, not silently ignored.
func TestAcceptUnknownIncident(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: blobKinds, Small: true})
	c := sessions.Config(w)
	c.Catalog = nil // the embedded catalog's incidents
	c.Rules.AcceptIncidents = []string{"v1.24.8-wrong-identiy"}
	if _, err := audit.NewSession(c); !errors.Is(err, audit.ErrRequest) || !strings.Contains(err.Error(), "v1.24.8-wrong-identity") {
		t.Errorf("want a request error naming the documented incidents, got %v", err)
	}
	c.Rules.AcceptIncidents = []string{"v1.24.8-wrong-identity"}
	if _, err := audit.NewSession(c); err != nil {
		t.Errorf("a documented incident: %v", err)
	}
}
