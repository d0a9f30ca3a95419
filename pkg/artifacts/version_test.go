package artifacts

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld/fakeweb"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"v1.24.17", Version{1, 24, 17}, true},
		{"1.24.17", Version{1, 24, 17}, true},
		{"v1.24.0", Version{1, 24, 0}, true},
		{"v0.0.0", Version{0, 0, 0}, true},
		{"banana", Version{}, false},
		{"", Version{}, false},
		{"v1.24", Version{}, false},
		{"v1.24.17.1", Version{}, false},
		{"v1.24.017", Version{}, false},
		{"v1.24.-1", Version{}, false},
		{"V1.24.17", Version{}, false},
		{" v1.24.17", Version{}, false},
		{"v1.24.17-rc.1", Version{}, false},
		{"v1.24.99999", Version{}, false},
		{"latest-1.24", Version{}, false},
	} {
		got, err := ParseVersion(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrMalformedVersion) {
			t.Errorf("ParseVersion(%q): %v does not wrap ErrMalformedVersion", tc.in, err)
		}
	}
}

func TestParseLatest(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"latest-1.24", Version{Major: 1, Minor: 24}, true},
		{"latest-1.3", Version{Major: 1, Minor: 3}, true},
		{"latest", Version{}, false},
		{"latest-1.24.1", Version{}, false},
		{"latest-v1.24", Version{}, false},
		{"v1.24.17", Version{}, false},
	} {
		got, ok := ParseLatest(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseLatest(%q) = %v, %v", tc.in, got, ok)
		}
	}
}

func TestVersionOrderAndText(t *testing.T) {
	vs := []Version{{1, 23, 17}, {1, 24, 0}, {1, 24, 9}, {1, 24, 10}, {2, 0, 0}}
	for i := range vs {
		for j := range vs {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := vs[i].Compare(vs[j]); got != want {
				t.Errorf("%s.Compare(%s) = %d, want %d", vs[i], vs[j], got, want)
			}
		}
	}
	if got := (Version{1, 24, 17}).Line(); got != "1.24" {
		t.Errorf("Line() = %q", got)
	}
	data, err := json.Marshal(struct{ V Version }{Version{1, 24, 17}})
	if err != nil || string(data) != `{"V":"v1.24.17"}` {
		t.Errorf("marshal: %s, %v", data, err)
	}
	var back struct{ V Version }
	if err := json.Unmarshal([]byte(`{"V":"1.24.3"}`), &back); err != nil || back.V != (Version{1, 24, 3}) {
		t.Errorf("unmarshal: %v, %v", back.V, err)
	}
	if err := json.Unmarshal([]byte(`{"V":"banana"}`), &back); !errors.Is(err, ErrMalformedVersion) {
		t.Errorf("unmarshal banana: %v", err)
	}
}

func TestParseKindAndPlatform(t *testing.T) {
	for _, s := range []string{"binary", "tarball", "image"} {
		if k, err := ParseKind(s); err != nil || string(k) != s {
			t.Errorf("ParseKind(%q) = %q, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "binaries", "Image"} {
		if _, err := ParseKind(s); err == nil {
			t.Errorf("ParseKind(%q) accepted", s)
		}
	}
	if p, err := ParsePlatform("windows/arm64"); err != nil || p != (Platform{"windows", "arm64"}) || p.String() != "windows/arm64" {
		t.Errorf("ParsePlatform: %v, %v", p, err)
	}
	for _, s := range []string{"", "linux", "linux/", "/amd64", "linux/arm/v7"} {
		if _, err := ParsePlatform(s); err == nil {
			t.Errorf("ParsePlatform(%q) accepted", s)
		}
	}
}

// FuzzParseVersion: a version string (an argument, stable-<line>.txt)
// parses or is rejected with ErrMalformedVersion; what parses formats
// back to the input (with its "v") and round-trips as text.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"v1.24.17", "1.24.0", "v0.0.0", "v1.24.017", "v1.24.17-rc.1", "latest-1.24", " v1.24.17\n", "v9999.9999.9999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedVersion) {
				t.Fatalf("%q: rejected without ErrMalformedVersion: %v", s, err)
			}
			return
		}
		if v.String() != s && v.String() != "v"+s {
			t.Fatalf("%q parses to %s", s, v)
		}
		text, err := v.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Version
		if err := back.UnmarshalText(text); err != nil || back != v || back.Compare(v) != 0 {
			t.Fatalf("%s does not round-trip: %v, %v", v, back, err)
		}
	})
}

// FuzzParseLatest: "latest-<major>.<minor>" names a line and formats back.
func FuzzParseLatest(f *testing.F) {
	for _, s := range []string{"latest-1.24", "latest-1.3", "latest", "latest-1.24.1", "latest-v1.24", "latest-01.24"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line, ok := ParseLatest(s)
		if !ok {
			return
		}
		if line.Patch != 0 || "latest-"+line.Line() != s {
			t.Fatalf("%q parses to line %s", s, line.Line())
		}
	})
}

// FuzzParseLine: "1.24" or "v1.24" is a line, formatted without the "v".
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"1.24", "v1.24", "1.24.0", "v1", "1.024", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line, ok := ParseLine(s)
		if !ok {
			return
		}
		if line != strings.TrimPrefix(s, "v") {
			t.Fatalf("%q parses to %q", s, line)
		}
		if again, ok := ParseLine(line); !ok || again != line {
			t.Fatalf("%q does not parse again: %q", line, again)
		}
	})
}

// FuzzResolveVersion: whatever stable-<line>.txt holds, "latest-<line>"
// resolves to a version of that line or is an error.
func FuzzResolveVersion(f *testing.F) {
	f.Add("latest-1.24", "v1.24.17")
	f.Add("latest-1.24", "v1.24.17\n")
	f.Add("latest-1.24", "v1.25.0")
	f.Add("latest-1.24", "<html>404</html>")
	f.Add("v1.24.3", "")
	f.Fuzz(func(t *testing.T, s, stable string) {
		const site = "https://dl.k8s.io"
		web := fakeweb.Pages{}
		line, latest := ParseLatest(s)
		if latest {
			web[site+"/release/stable-"+line.Line()+".txt"] = stable
		}
		v, err := ResolveVersion(context.Background(), s, site, web)
		if err != nil {
			return
		}
		if latest && (v.Major != line.Major || v.Minor != line.Minor) {
			t.Fatalf("%q resolved to %s from %q", s, v, stable)
		}
		if !latest && v.String() != s && v.String() != "v"+s {
			t.Fatalf("%q resolved to %s", s, v)
		}
	})
}
