package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/pack"
)

// TestMain lets the test binary act as the k8sverify CLI, so a test can
// run it as a separate process (e.g. in a network namespace).
func TestMain(m *testing.M) {
	if os.Getenv("K8SVERIFY_TEST_AS_CLI") == "1" {
		os.Exit(Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
	}
	os.Exit(m.Run())
}

// The air-gapped workflow: fetch on a connected machine, then verify in a
// separate process with no network at all — in a network namespace with
// no interface up (unshare -n) where the machine allows it, and in any
// case after the world's servers are gone.
func TestFetchThenVerifyOfflineWithoutNetwork(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true})
	pack := filepath.Join(t.TempDir(), "pack")
	code, online, _ := runIn(t, w, "verify", "v1.24.17")
	if code != ExitIncomplete { // the small world lacks most of the catalog's artifacts: missing
		t.Fatalf("online verify: exit %d\n%s", code, online)
	}
	code, out, errOut := runIn(t, w, "fetch", "v1.24.17", "--out", pack)
	if code != ExitOK && code != ExitIncomplete {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "TUF metadata of the trusted root") {
		t.Errorf("fetch output: %s", out)
	}
	// The air-gapped site has the pack, the TUF root it trusts and the
	// world's catalog (its files are random: the embedded CHANGELOG sums
	// are not theirs), nothing else.
	site := t.TempDir()
	tufRoot, catalog := filepath.Join(site, "tuf-root.json"), filepath.Join(site, "catalog.json")
	if err := os.WriteFile(tufRoot, w.TUF.Root, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.CatalogPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(catalog, data, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"K8SVERIFY_TUF_URL=" + w.TUF.URL, "K8SVERIFY_TUF_ROOT=" + tufRoot, "K8SVERIFY_CATALOG=" + catalog}
	w.Close()
	args := []string{"verify", "v1.24.17", "--offline", "--evidence", pack, "--no-progress"}
	var cmd *exec.Cmd
	if exec.Command("unshare", "-n", "true").Run() == nil {
		cmd = exec.Command("unshare", append([]string{"-n", os.Args[0]}, args...)...)
	} else {
		t.Log("unshare -n is not allowed here: verifying offline with the world's servers stopped")
		cmd = exec.Command(os.Args[0], args...)
	}
	cmd.Env = append(append(os.Environ(), env...), "K8SVERIFY_TEST_AS_CLI=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	var ee *exec.ExitError
	offlineCode := 0
	if err != nil {
		if !errorsAs(err, &ee) {
			t.Fatal(err)
		}
		offlineCode = ee.ExitCode()
	}
	if offlineCode != code && offlineCode != ExitIncomplete {
		t.Fatalf("offline verify: exit %d\n%s\n%s", offlineCode, got, stderr.String())
	}
	// Same verdict lines as online (the times of the report aside).
	if verdictLines(string(got)) != verdictLines(online) {
		t.Errorf("offline verdicts differ from online:\noffline:\n%s\nonline:\n%s", got, online)
	}
}

func verdictLines(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && (f[0] == "binary" || f[0] == "tarball" || f[0] == "image") {
			keep = append(keep, strings.Join(f[:4], " "))
		}
	}
	return strings.Join(keep, "\n")
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// A pack whose fetch did not complete is refused by verify --offline and
// mirror --from-pack (exit 2), naming the fetch to run again.
func TestIncompletePackRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pack")
	pw, err := pack.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Finish(&pack.Manifest{Release: "v1.24.17", Complete: false}); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	for _, args := range [][]string{
		{"verify", "v1.24.17", "--offline", "--evidence", dir},
		{"mirror", "--from-pack", dir, "--to", "127.0.0.1:1/k8s"},
	} {
		var out, errOut strings.Builder
		code := Run(context.Background(), args, &out, &errOut, func(string) string { return "" })
		if code != ExitUsage || !strings.Contains(errOut.String(), "marked incomplete") ||
			!strings.Contains(errOut.String(), "k8sverify fetch v1.24.17 --out "+dir) {
			t.Errorf("%s: exit %d\n%s%s", args[0], code, out.String(), errOut.String())
		}
	}
}

// What a run leaves unchecked comes with how to check it, in the run's
// terms: online, --download; offline (where --download is refused), the
// files on disk against the pack with --files DIR.
func TestServedFilesAdviceOffline(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: blobKinds})
	dir := filepath.Join(t.TempDir(), "pack")
	sel := []string{"--kind", "binary", "--platform", "linux/arm64"}
	if code, out, errOut := runIn(t, w, append([]string{"fetch", "v1.24.17", "--out", dir}, sel...)...); code != ExitOK {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"verify", "v1.24.17"}, "; --download downloads each file and verifies what arrived.", "--files DIR"},
		{[]string{"verify", "v1.24.17", "--offline", "--evidence", dir}, "; --files DIR verifies the files on disk against the pack.", "--download"},
	} {
		code, out, errOut := runIn(t, w, append(tc.args, sel...)...)
		if code != ExitOK || !strings.Contains(out, "Not checked: the bytes the download site serves for") ||
			!strings.Contains(out, tc.want) || strings.Contains(out, tc.not) {
			t.Errorf("%v: exit %d, want the advice %q and not %q\n%s\n%s", tc.args, code, tc.want, tc.not, out, errOut)
		}
	}
}

// fetch --out writes into a new or empty directory, or a pack of the same
// release; a directory holding other files and no pack is refused (exit
// 2), named, and left as it is.
func TestFetchRefusesADirectoryThatIsNoPack(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: blobKinds})
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	sel := []string{"--kind", "binary", "--platform", "linux/arm64"}
	code, out, errOut := runIn(t, w, append([]string{"fetch", "v1.24.17", "--out", dir}, sel...)...)
	if code != ExitUsage || !strings.Contains(errOut, dir+": the directory is not empty and holds no evidence pack") {
		t.Errorf("exit %d, want %d naming %s\n%s\n%s", code, ExitUsage, dir, out, errOut)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory was written into: %v", entries)
	}
	// An empty directory, then the pack it now holds, are fetched into.
	empty := filepath.Join(dir, "pack")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code, out, errOut := runIn(t, w, append([]string{"fetch", "v1.24.17", "--out", empty}, sel...)...); code != ExitOK {
			t.Errorf("fetch into %s: exit %d\n%s\n%s", empty, code, out, errOut)
		}
	}
}
