package audit_test

import (
	"slices"
	"testing"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// Each release is judged once however often it is asked for: versions
// are written as the release names them, lines expanded, and duplicates
// dropped in the order first given. An alias is resolved (and its
// duplicate dropped) when listed.
func TestExpandVersionsDeduplicates(t *testing.T) {
	s, err := audit.NewSession(audit.Config{Offline: true, Endpoints: transport.Endpoints{
		DownloadURL: transport.DefaultDownloadURL, SBOMURL: transport.DefaultSBOMURL, Registry: transport.DefaultRegistry}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var line []string // the embedded catalog's 1.24 releases, in its order
	for _, v := range artifacts.Embedded().Versions() {
		if v.Line() == "1.24" {
			line = append(line, v.String())
		}
	}
	if len(line) < 2 || !slices.Contains(line, "v1.24.17") {
		t.Fatalf("the embedded catalog's 1.24 line: %v", line)
	}
	without := func(vs []string, v string) []string {
		return slices.DeleteFunc(slices.Clone(vs), func(x string) bool { return x == v })
	}
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"v1.24.17", "1.24.17"}, []string{"v1.24.17"}},
		{[]string{"1.24.17", "v1.24.17"}, []string{"v1.24.17"}},
		{[]string{"v1.24.17", "v1.24.16", "1.24.17"}, []string{"v1.24.17", "v1.24.16"}},
		{[]string{"1.24", "1.24.17"}, line},
		{[]string{"1.24.17", "1.24"}, append([]string{"v1.24.17"}, without(line, "v1.24.17")...)},
		{[]string{"1.24", "1.24"}, line},
		{[]string{"latest-1.24", "latest-1.24"}, []string{"latest-1.24"}},
	} {
		got, err := s.ExpandVersions(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ExpandVersions(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
