package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// runEnv runs the CLI in process with exactly the environment env.
func runEnv(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// tufEnv is the world's environment with the trusted root taken from the
// world's TUF repository (no trusted_root.json named).
func tufEnv(w *testworld.World, extra ...string) map[string]string {
	env := map[string]string{"K8SVERIFY_NO_PROGRESS": "1", "K8SVERIFY_TIMEOUT": "10s"}
	for _, kv := range append(w.Env(), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	delete(env, "K8SVERIFY_TRUSTED_ROOT")
	return env
}

// keepAfterClose copies the world's TUF root and catalog, which its
// Close removes, for the runs after it: what an air-gapped site holds.
func keepAfterClose(t *testing.T, w *testworld.World, env map[string]string) {
	t.Helper()
	site := t.TempDir()
	for _, c := range []struct{ variable, src string }{
		{"K8SVERIFY_TUF_ROOT", env["K8SVERIFY_TUF_ROOT"]}, {"K8SVERIFY_CATALOG", w.CatalogPath},
	} {
		data, err := os.ReadFile(c.src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(site, filepath.Base(c.src))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		env[c.variable] = p
	}
}

// homeAt points the home and cache directories of this process (where
// TUF clients keep their caches by default) at dir.
func homeAt(t *testing.T, dir string) {
	t.Helper()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CACHE_HOME", "")
}

// A fetch on a machine whose TUF cache is warm (it has verified online
// before) writes a pack that verifies offline on a machine with an empty
// home directory and no network: the fetch records everything from an
// empty TUF state, whatever any cache holds, and proves the pack replays
// on its own before marking it complete.
func TestFetchWithWarmTUFCacheVerifiesOfflineElsewhere(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true})
	homeAt(t, t.TempDir())
	env := tufEnv(w)
	sel := []string{"v1.24.17", "--kind", "binary", "--platform", "linux/arm64"}
	code, online, errOut := runEnv(env, append([]string{"verify"}, sel...)...)
	if code != ExitOK {
		t.Fatalf("online verify (warms the TUF cache): exit %d\n%s\n%s", code, online, errOut)
	}
	pack := filepath.Join(t.TempDir(), "pack")
	if code, out, errOut := runEnv(env, append([]string{"fetch", "--out", pack}, sel...)...); code != ExitOK {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, role := range []string{"timestamp.json", "*.snapshot.json", "*.targets.json", "targets/*.trusted_root.json"} {
		if m, _ := filepath.Glob(filepath.Join(pack, "tuf", role)); len(m) == 0 {
			t.Errorf("the pack lacks the TUF file %s", role)
		}
	}
	m := readManifest(t, pack)
	if m["complete"] != true || m["tufFetched"] == nil {
		t.Errorf("manifest: complete %v, tufFetched %v", m["complete"], m["tufFetched"])
	}

	// Another machine: an empty home directory, no network.
	homeAt(t, t.TempDir())
	keepAfterClose(t, w, env)
	w.Close()
	code, offline, errOut := runEnv(env, append([]string{"verify", "--offline", "--evidence", pack}, sel...)...)
	if code != ExitOK {
		t.Fatalf("offline verify on an empty home: exit %d\n%s\n%s", code, offline, errOut)
	}
	if verdictLines(offline) != verdictLines(online) {
		t.Errorf("offline verdicts differ from online:\n%s\n%s", offline, online)
	}

	// The same pack, its TUF metadata lost on the way: refused (exit 2),
	// saying what is missing and what to do, not that a download failed.
	if err := os.RemoveAll(filepath.Join(pack, "tuf")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runEnv(env, append([]string{"verify", "--offline", "--evidence", pack}, sel...)...)
	if code != ExitUsage || !strings.Contains(errOut, "tuf/timestamp.json is not in the pack") || !strings.Contains(errOut, "fetch it again, or name a trusted root with --trusted-root") {
		t.Errorf("pack without its TUF metadata: exit %d (want 2)\n%s\n%s", code, out, errOut)
	}
}

// The TUF client's state lives in k8sverify's own cache directory
// (--cache-dir, $K8SVERIFY_CACHE_DIR), below tuf/; a corrupted cache is
// discarded (said once), fetched again, and the run succeeds; the next
// run uses the repaired cache silently.
func TestCorruptTUFCacheHeals(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true})
	homeAt(t, t.TempDir())
	args := []string{"verify", "v1.24.17", "--kind", "binary", "--platform", "linux/arm64"}
	corruptions := []struct {
		name    string
		corrupt func(t *testing.T, repo string)
	}{
		{"truncated timestamp.json", func(t *testing.T, repo string) { truncate(t, filepath.Join(repo, "timestamp.json")) }},
		{"garbage snapshot.json", func(t *testing.T, repo string) { garbage(t, filepath.Join(repo, "snapshot.json")) }},
		{"garbage targets.json", func(t *testing.T, repo string) { garbage(t, filepath.Join(repo, "targets.json")) }},
		{"a directory for the trusted root target", func(t *testing.T, repo string) {
			p := filepath.Join(repo, "targets", "trusted_root.json")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(p, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			env := tufEnv(w, "K8SVERIFY_CACHE_DIR="+cache)
			if code, out, errOut := runEnv(env, args...); code != ExitOK {
				t.Fatalf("first run: exit %d\n%s\n%s", code, out, errOut)
			}
			repo := tufRepoDir(t, cache)
			if !strings.HasPrefix(repo, filepath.Join(cache, "tuf")+string(filepath.Separator)) {
				t.Errorf("TUF state in %s, not below %s/tuf", repo, cache)
			}
			tc.corrupt(t, repo)
			code, out, errOut := runEnv(env, args...)
			if code != ExitOK {
				t.Fatalf("run with the corrupted cache: exit %d\n%s\n%s", code, out, errOut)
			}
			if n := strings.Count(errOut, "discarded"); n != 1 {
				t.Errorf("the discarded cache is said %d times:\n%s", n, errOut)
			}
			t.Log(errOut)
			if code, out, errOut := runEnv(env, args...); code != ExitOK || strings.Contains(errOut, "discarded") {
				t.Errorf("run after the repair: exit %d\n%s\n%s", code, out, errOut)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("HOME"), ".sigstore")); err == nil {
		t.Error("a TUF cache was written to ~/.sigstore, sigstore-go's default, not k8sverify's")
	}
}

// A run that cannot reach the TUF repository fails (exit 3) and leaves a
// good cache as it was: only a cache that an empty state does better
// without is discarded.
func TestTUFCacheKeptWhenTheRepositoryIsDown(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true})
	homeAt(t, t.TempDir())
	cache := t.TempDir()
	env := tufEnv(w, "K8SVERIFY_CACHE_DIR="+cache)
	args := []string{"verify", "v1.24.17", "--kind", "binary", "--platform", "linux/arm64"}
	if code, out, errOut := runEnv(env, args...); code != ExitOK {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errOut)
	}
	repo := tufRepoDir(t, cache)
	before, err := os.ReadFile(filepath.Join(repo, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	keepAfterClose(t, w, env)
	w.Close()
	code, out, errOut := runEnv(env, args...)
	if code != ExitIncomplete || strings.Contains(errOut, "discarded") {
		t.Errorf("with the repository down: exit %d (want %d)\n%s\n%s", code, ExitIncomplete, out, errOut)
	}
	after, err := os.ReadFile(filepath.Join(repo, "timestamp.json"))
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("the cache was not kept as it was: %v", err)
	}
}

// An old pack: its TUF metadata (here the timestamp role) expired after
// the fetch. Verifying it offline is refused by default, with advice that
// names the opt-in; with --trust-pack-at-fetch-time it verifies as of the
// time the pack records, and the reports say so. The opt-in moves the
// clock only: metadata signed by a key the TUF root does not name is
// still refused.
func TestOldPackTrustAtFetchTime(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true})
	homeAt(t, t.TempDir())
	env := tufEnv(w)
	sel := []string{"v1.24.17", "--kind", "binary", "--platform", "linux/arm64"}
	fetched := filepath.Join(t.TempDir(), "pack")
	if code, out, errOut := runEnv(env, append([]string{"fetch", "--out", fetched}, sel...)...); code != ExitOK {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	keepAfterClose(t, w, env)
	w.Close()
	// The pack as fetched two hours ago, with a timestamp role that
	// expired one hour ago.
	old := func(t *testing.T, foreign bool) string {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(fetched)); err != nil {
			t.Fatal(err)
		}
		ts, err := w.TUF.Timestamp(time.Now().Add(-time.Hour), foreign)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tuf", "timestamp.json"), ts, 0o644); err != nil {
			t.Fatal(err)
		}
		m := readManifest(t, dir)
		m["tufFetched"] = time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	pack := old(t, false)
	verifyArgs := append([]string{"verify", "--offline", "--evidence", pack}, sel...)

	code, out, errOut := runEnv(env, verifyArgs...)
	if code != ExitUsage || !strings.Contains(errOut, "expired") || !strings.Contains(errOut, "--trust-pack-at-fetch-time") {
		t.Errorf("an expired pack by default: exit %d (want %d), stderr without the opt-in's advice:\n%s\n%s", code, ExitUsage, out, errOut)
	}

	report := filepath.Join(t.TempDir(), "report.json")
	code, out, errOut = runEnv(env, append(verifyArgs, "--trust-pack-at-fetch-time", "-o", "table", "-o", "json="+report)...)
	if code != ExitOK {
		t.Fatalf("with --trust-pack-at-fetch-time: exit %d\n%s\n%s", code, out, errOut)
	}
	const said = "when the evidence pack's TUF metadata was fetched, not now"
	if !strings.Contains(errOut, said) {
		t.Errorf("stderr does not say the trust was verified as of the fetch time:\n%s", errOut)
	}
	data, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(data), said) {
		t.Errorf("the JSON report does not say the trust was verified as of the fetch time (%v)", err)
	}

	forged := old(t, true)
	code, out, errOut = runEnv(env, append([]string{"verify", "--offline", "--evidence", forged, "--trust-pack-at-fetch-time"}, sel...)...)
	if code != ExitUsage || strings.Contains(errOut, said) {
		t.Errorf("a forged timestamp with the opt-in: exit %d (want %d)\n%s\n%s", code, ExitUsage, out, errOut)
	}

	code, _, errOut = runEnv(env, "verify", "v1.24.17", "--trust-pack-at-fetch-time")
	if code != ExitUsage || !strings.Contains(errOut, "--offline") {
		t.Errorf("the opt-in without a pack: exit %d\n%s", code, errOut)
	}
}

func readManifest(t *testing.T, pack string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pack, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// tufRepoDir finds the directory below cache holding a TUF client's
// cached timestamp.json.
func tufRepoDir(t *testing.T, cache string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "timestamp.json" {
			found = filepath.Dir(p)
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no TUF cache below %s", cache)
	}
	return found
}

func truncate(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
}

func garbage(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, []byte("\x00garbage, not TUF metadata"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Without trusted material (the TUF repository cannot be reached) every
// artifact is an error naming why, the reports are written, exit 3, and
// stderr says how to work without the repository.
func TestReportsWrittenWithoutTrust(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: []artifacts.Kind{artifacts.KindBinary}, Small: true})
	homeAt(t, t.TempDir())
	env := tufEnv(w, "K8SVERIFY_TUF_URL=http://"+testworld.ClosedPort(t), "K8SVERIFY_CACHE_DIR="+t.TempDir())
	path := filepath.Join(t.TempDir(), "r.json")
	code, out, errOut := runEnv(env, "verify", "v1.24.17", "--kind", "binary", "--platform", "linux/arm64", "-o", "json="+path)
	if code != ExitIncomplete || !strings.Contains(errOut, "--trusted-root") {
		t.Errorf("exit %d (want 3)\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Artifacts []struct{ Status, Reason string }
	}
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Artifacts) == 0 {
		t.Fatalf("%d artifacts, %v", len(rep.Artifacts), err)
	}
	for _, a := range rep.Artifacts {
		if a.Status != "error" || !strings.Contains(a.Reason, "could not check without trusted material: fetch the Sigstore trusted root via TUF") {
			t.Errorf("%s: %s", a.Status, a.Reason)
		}
	}
}
