// Package sessions holds the test fixtures shared by the tests of
// packages built on pkg/audit (pkg/audit itself, pkg/mirror): sessions
// configured for a test world, its release as verify selects it,
// evidence packs of it and edits of them, verdicts keyed by repository.
// It is part of the test world: no product code imports it.
package sessions

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/airgap"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Config is a session's configuration for the world: its endpoints and
// its trusted root.
func Config(w *testworld.World) audit.Config {
	return audit.Config{
		Endpoints: transport.Endpoints{DownloadURL: w.DownloadURL, SBOMURL: w.SBOMURL, Registry: w.Registry, RekorURL: w.RekorURL},
		Timeout:   10 * time.Second, // generous: a loaded machine must not turn verdicts into errors
		Trust:     trust.Source{File: w.TrustedRootPath},
		Catalog:   w.Catalog,
	}
}

// Selected is the world's release as verify selects it by default: every
// artifact but the files the release process never signs.
func Selected(t testing.TB, w *testworld.World) *artifacts.Release {
	t.Helper()
	rel, err := audit.Selection{}.Apply(w.Release)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// New opens a session of c, closed when the test ends.
func New(t testing.TB, c audit.Config) *audit.Session {
	t.Helper()
	s, err := audit.NewSession(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// FetchPack writes an evidence pack of the world's release.
func FetchPack(t *testing.T, w *testworld.World, req airgap.Request) string {
	t.Helper()
	req.Out = t.TempDir()
	req.TUF = &trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}
	res, err := airgap.FetchRelease(context.Background(), New(t, Config(w)), Selected(t, w), req)
	if err != nil || !res.Manifest.Complete {
		t.Fatalf("fetch: %v", err)
	}
	return req.Out
}

// Offline verifies a pack as an air-gapped site would: the trust from the
// pack's TUF metadata, every request refused.
func Offline(t *testing.T, w *testworld.World, dir string, filesDir string) ([]verify.Verdict, error) {
	t.Helper()
	c := Config(w)
	c.Offline = true
	c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}}
	c.Pack, c.Files = dir, filesDir
	s, err := audit.NewSession(c)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	res, err := s.VerifyReleases(context.Background(), []*artifacts.Release{Selected(t, w)}, audit.VerifyOptions{}, nil)
	if err != nil {
		return nil, err
	}
	return res[0].Verdicts, nil
}

// EditManifest rewrites the manifest of the pack in dir with edit.
func EditManifest(t *testing.T, dir string, edit func(m *pack.Manifest)) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, pack.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m pack.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	if data, err = json.Marshal(&m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pack.ManifestName), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Entry is the manifest's entry of the artifact id (nil: none).
func Entry(m *pack.Manifest, id string) *pack.Entry {
	for i := range m.Artifacts {
		if m.Artifacts[i].Key() == id {
			return &m.Artifacts[i]
		}
	}
	return nil
}

// ByRepo keys image verdicts by the world's repository name
// ("kube-apiserver", "kube-apiserver-amd64").
func ByRepo(t *testing.T, vs []verify.Verdict) map[string]verify.Verdict {
	t.Helper()
	m := map[string]verify.Verdict{}
	for _, v := range vs {
		if v.Artifact.Kind != artifacts.KindImage {
			t.Fatalf("not an image: %s", v.Artifact.ID())
		}
		m[testworld.ImageRepository(v.Artifact)] = v
	}
	return m
}

// CheckNamed is the check of a signature result named name (nil: none).
func CheckNamed(r *verify.SignatureResult, name string) *sigverify.Check {
	for i := range r.Checks {
		if string(r.Checks[i].Name) == name {
			return &r.Checks[i]
		}
	}
	return nil
}
