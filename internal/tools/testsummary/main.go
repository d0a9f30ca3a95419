// Command testsummary reads `go test -json` on stdin and prints what `make
// test` promises to say: one line per package, the output of every failed
// test, and at the end every skipped test with the reason it gave. It
// exits 1 when a test or a package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of test2json (go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type key struct{ pkg, test string }

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	output := map[key][]string{}
	var skipped []key
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // not test2json: a build error
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			output[k] = append(output[k], e.Output)
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, k)
			} else {
				fmt.Fprintf(out, "?   \t%s\t[no test files]\n", e.Package)
			}
		case "fail":
			failed = true
			if e.Test != "" {
				fmt.Fprintf(out, "--- FAIL: %s %s (%.2fs)\n%s", e.Package, e.Test, e.Elapsed, strings.Join(output[k], ""))
			} else {
				fmt.Fprintf(out, "FAIL\t%s\t%.3fs\n%s", e.Package, e.Elapsed, buildOutput(output[k]))
			}
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
			}
		}
		if e.Action == "pass" || (e.Action == "skip" && e.Test == "") {
			delete(output, k)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(out, "\n%d %s skipped:\n", len(skipped), plural(len(skipped), "test", "tests"))
		for _, k := range skipped {
			fmt.Fprintf(out, "  %s %s: %s\n", k.pkg, k.test, reason(output[k]))
		}
	}
	if failed {
		return 1
	}
	return 0
}

// reason is what a skipped test said, without the run and result lines.
func reason(lines []string) string {
	var said []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		said = append(said, l)
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " ")
}

// buildOutput is a failed package's own output (a build error, a panic
// outside a test), without the lines every package prints.
func buildOutput(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		if t := strings.TrimSpace(l); t == "FAIL" || strings.HasPrefix(t, "FAIL\t") || strings.HasPrefix(t, "ok ") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
