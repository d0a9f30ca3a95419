package main

import (
	"strings"
	"testing"
)

// A skipped test is listed with its reason; a failed one fails the run.
func TestSummary(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    x_test.go:9: the cosign CLI is not installed\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Elapsed":0.5}
`
	var out strings.Builder
	if code := run(strings.NewReader(in), &out); code != 0 || !strings.Contains(out.String(), "1 test skipped:\n  p TestA: x_test.go:9: the cosign CLI is not installed\n") {
		t.Errorf("exit %d\n%s", code, out.String())
	}
	in += `{"Action":"output","Package":"q","Test":"TestB","Output":"    y_test.go:3: wrong\n"}
{"Action":"fail","Package":"q","Test":"TestB","Elapsed":0.1}
{"Action":"fail","Package":"q","Elapsed":0.2}
`
	out.Reset()
	if code := run(strings.NewReader(in), &out); code != 1 || !strings.Contains(out.String(), "--- FAIL: q TestB (0.10s)\n    y_test.go:3: wrong\n") {
		t.Errorf("exit %d\n%s", code, out.String())
	}
}
