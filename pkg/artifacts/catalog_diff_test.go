package artifacts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// A catalog file names what it changes of the embedded catalog, field by
// field; the embedded catalog, written out and read back, changes nothing.
func TestCatalogChanges(t *testing.T) {
	data, err := Embedded().MarshalLine("1.24")
	if err != nil {
		t.Fatal(err)
	}
	same, err := ReadCatalog(bytes.NewReader(data), "same.json")
	if err != nil {
		t.Fatal(err)
	}
	// A file of one line drops the embedded catalog's other lines, named
	// as lines; its own line is unchanged.
	if c := same.Changes(Embedded()); len(c) != 1 || !strings.HasPrefix(c[0], "lines dropped: 1.25, ") || strings.Contains(c[0], "1.24") {
		t.Errorf("the embedded catalog's 1.24 read back changes %q", c)
	}
	if sum := sha256.Sum256(data); same.SHA256() != hex.EncodeToString(sum[:]) || same.IsEmbedded() || !Embedded().IsEmbedded() {
		t.Errorf("sha256 %s of %s", same.SHA256(), hex.EncodeToString(sum[:]))
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, r := range f["releases"].([]any) {
		rel := r.(map[string]any)
		switch rel["version"] {
		case "v1.24.0":
			continue // dropped
		case "v1.24.9":
			rel["date"] = "2030-01-01"
		case "v1.24.10":
			rel["blobSigning"] = "not-expected"
		case "v1.24.12":
			for name := range rel["sha512"].(map[string]any) {
				rel["sha512"].(map[string]any)[name] = strings.Repeat("0", 128)
				break
			}
		}
		kept = append(kept, rel)
	}
	f["releases"] = kept
	if data, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	other, err := ReadCatalog(bytes.NewReader(data), "other.json")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(other.Changes(Embedded())[1:], "; ")
	// The previous release of v1.24.1 is gone, that of v1.24.10 (v1.24.9)
	// has another date: their dates' rule changes too.
	want := "releases dropped: v1.24.0; v1.24.1: dates; v1.24.9: dates; v1.24.10: dates, signing; v1.24.12: sums"
	if got != want {
		t.Errorf("changes:\n got %s\nwant %s", got, want)
	}
}

// A catalog of several lines (a JSON array of line files) is named by the
// SHA-256 of the file as read, as one of a single line is: reports carry
// it, and their schema wants 64 hex characters.
func TestCatalogOfLinesHasItsSHA256(t *testing.T) {
	var lines []json.RawMessage
	for _, line := range []string{"1.24", "1.36"} {
		data, err := Embedded().MarshalLine(line)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, data)
	}
	data, err := json.Marshal(lines)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadCatalog(bytes.NewReader(data), "lines.json")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); c.SHA256() != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %q, want %s", c.SHA256(), hex.EncodeToString(sum[:]))
	}
}
