package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/report"
)

// An external catalog is never silent: one stderr line names the file,
// its SHA-256, where it was named (the environment here) and what it
// changes of the embedded catalog; every report format carries its
// source and SHA-256; messages name it, not "the embedded catalog"; and
// incidents accepted from the environment are said to come from there.
func TestExternalCatalogIsNamed(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: imageKind})
	// The world's catalog, with one more release, a wrong digest for
	// kube-proxy-amd64 and an incident accepting an outside identity.
	data, err := w.Catalog.MarshalLine("1.24")
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]any
	if err := json.Unmarshal(data, &cat); err != nil {
		t.Fatal(err)
	}
	releases := cat["releases"].([]any)
	for _, r := range releases {
		if rel := r.(map[string]any); rel["version"] == "v1.24.17" {
			rel["imageDigests"].(map[string]any)["kube-proxy-amd64"] = "sha256:" + strings.Repeat("0", 64)
		}
	}
	cat["releases"] = append(releases, map[string]any{"version": "v1.24.18", "date": "2023-09-01", "dateStatus": "verified", "imageSigning": "expected", "blobSigning": "probe"})
	cat["incidents"] = append(cat["incidents"].([]any), map[string]any{"id": "outside", "versions": []string{"*"}, "summary": "anyone", "source": "https://example.com/outside",
		"identities": []any{map[string]any{"san": "attacker@evil-project.iam.gserviceaccount.com", "issuer": "https://accounts.google.com"}}})
	if data, err = json.MarshalIndent(cat, "", "  "); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])

	env := map[string]string{"K8SVERIFY_CATALOG": path, "K8SVERIFY_ACCEPT_INCIDENT": "outside"}
	code, out, errOut := runInEnv(t, w, env, "verify-image", "kube-proxy-amd64:v1.24.17",
		"-o", "json="+filepath.Join(dir, "r.json"), "-o", "junit="+filepath.Join(dir, "r.xml"), "-o", "sarif="+filepath.Join(dir, "r.sarif"), "-o", "table")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d (the catalog's digest differs)\n%s\n%s", code, ExitFailed, out, errOut)
	}
	for _, want := range []string{
		"catalog " + path + " (sha256 " + sha + ", from $K8SVERIFY_CATALOG)",
		"releases added: v1.24.18", "v1.24.0 … v1.24.16: identities, incidents", "v1.24.17: identities, digests, incidents",
		"$K8SVERIFY_ACCEPT_INCIDENT", "outside",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Count(errOut, sha) != 1 {
		t.Errorf("the catalog is not named exactly once on stderr:\n%s", errOut)
	}
	if !strings.Contains(out, path) || !strings.Contains(out, sha) {
		t.Errorf("the table does not name the catalog:\n%s", out)
	}
	if strings.Contains(out, "(embedded catalog)") || !strings.Contains(out, "(catalog "+path+")") {
		t.Errorf("the digest message does not name the catalog used:\n%s", out)
	}

	jsonData, _ := os.ReadFile(filepath.Join(dir, "r.json"))
	rep, err := report.Read(strings.NewReader(string(jsonData)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Catalog == nil || rep.Catalog.Source != path || rep.Catalog.SHA256 != sha || !strings.Contains(strings.Join(rep.Catalog.Changes, "; "), "v1.24.17: identities, digests, incidents") {
		t.Errorf("JSON catalog %+v", rep.Catalog)
	}
	xmlData, _ := os.ReadFile(filepath.Join(dir, "r.xml"))
	if !strings.Contains(string(xmlData), `<property name="k8sverify.catalog.sha256" value="`+sha+`"></property>`) ||
		!strings.Contains(string(xmlData), `<property name="k8sverify.catalog.source" value="`+path+`"></property>`) {
		t.Errorf("JUnit lacks the catalog's properties:\n%s", xmlData)
	}
	var sarif struct {
		Runs []struct {
			Properties struct {
				Catalog report.Catalog `json:"k8sverify.catalog"`
			} `json:"properties"`
		} `json:"runs"`
	}
	sarifData, _ := os.ReadFile(filepath.Join(dir, "r.sarif"))
	if err := json.Unmarshal(sarifData, &sarif); err != nil || len(sarif.Runs) != 1 || sarif.Runs[0].Properties.Catalog.SHA256 != sha {
		t.Errorf("SARIF lacks the catalog's properties (%v):\n%s", err, sarifData)
	}

	// The embedded catalog is named as such, and changes nothing.
	env = map[string]string{"K8SVERIFY_CATALOG": ""}
	_, out, errOut = runInEnv(t, w, env, "list", "v1.24.17", "--offline", "-o", "json")
	rep, err = report.Read(strings.NewReader(out))
	if err != nil || rep.Catalog == nil || rep.Catalog.Source != "embedded" || rep.Catalog.SHA256 == "" || len(rep.Catalog.Changes) != 0 {
		t.Errorf("embedded catalog: %v %+v\n%s", err, rep.Catalog, errOut)
	}
	if strings.Contains(errOut, "catalog") {
		t.Errorf("the embedded catalog is announced:\n%s", errOut)
	}
	// list names the catalog it listed from.
	_, out, _ = runInEnv(t, w, map[string]string{"K8SVERIFY_CATALOG": path}, "list", "v1.24.17", "--offline")
	if strings.Contains(out, "from the embedded catalog") || !strings.Contains(out, "from the catalog "+path) {
		t.Errorf("list does not name the catalog used:\n%s", out)
	}
}
