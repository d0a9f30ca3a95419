package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Golden files live in testdata/golden; regenerate them with
//
//	go test ./cmd/k8sverify -update
//
// Fields of a report that change from run to run.
var (
	generatedAt = regexp.MustCompile(`"generatedAt": "[^"]*"`)
	goVersion   = regexp.MustCompile(`"goVersion": "[^"]*"`)
	// The test world's directory, and a catalog's SHA-256 (the world's
	// catalog holds the world's random sums; the embedded one's changes
	// with every catalog update).
	worldDir      = regexp.MustCompile(`/[^ "]*/k8sverify-world-[0-9]+`)
	catalogSHA256 = regexp.MustCompile(`("catalog": \{\s*"source": "[^"]*",\s*"sha256": ")[0-9a-f]{64}|([Cc]atalog [^ ]* \(sha256\s+)[0-9a-f]{64}`)
)

var update = flag.Bool("update", false, "rewrite the golden files of cmd/k8sverify")

// golden compares got with testdata/golden/<name>, or rewrites the file
// with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = generatedAt.ReplaceAllString(got, `"generatedAt": "TIME"`)
	got = goVersion.ReplaceAllString(got, `"goVersion": "GO"`)
	got = worldDir.ReplaceAllString(got, "WORLD")
	got = catalogSHA256.ReplaceAllString(got, "${1}${2}SHA256")
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/k8sverify -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./cmd/k8sverify -update to accept it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
