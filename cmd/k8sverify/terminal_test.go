package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/k8sverify/k8sverify/internal/testworld"
)

// unsafeForTerminal returns the first byte or code point of s a terminal
// would act on: C0 other than tab and newline, DEL, C1 (ESC among them),
// or a byte that is no UTF-8 (an 8-bit terminal reads 0x9b as CSI).
func unsafeForTerminal(s string) (string, bool) {
	for i, r := range s {
		_, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1,
			r < 0x20 && r != '\t' && r != '\n',
			r >= 0x7f && r <= 0x9f:
			lo := max(0, i-40)
			return s[lo:min(len(s), i+20)], true
		}
	}
	return "", false
}

// A registry whose error message carries escape sequences (a window
// title, a screen clear, a fake green "verified") reaches neither stdout
// nor stderr raw: the table, the messages, the problem lines and the
// debug log show it escaped; JSON, JUnit and SARIF keep the exact value.
func TestRemoteTextReachesNoTerminalRaw(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: imageKind,
		Faults: []testworld.Fault{{Kind: testworld.FaultHostileMessage, Target: "kube-proxy-amd64"}}})
	dir := t.TempDir()
	for _, args := range [][]string{
		{"verify", "v1.24.17", "--kind", "image"},
		{"verify", "v1.24.17", "--kind", "image", "--debug"},
		{"verify-image", "kube-proxy-amd64:v1.24.17"},
		{"verify", "v1.24.17", "--kind", "image", "-o", "json"},
		{"verify", "v1.24.17", "--kind", "image", "-o", "sarif"},
		{"verify", "v1.24.17", "--kind", "image", "-o", "junit", "-o", "json=" + filepath.Join(dir, "r.json")},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runInEnv(t, w, map[string]string{"NO_COLOR": "1", "K8SVERIFY_NO_PROGRESS": ""}, args...)
			if code != ExitIncomplete {
				t.Errorf("exit %d, want %d\n%s\n%s", code, ExitIncomplete, out, errOut)
			}
			// (XML 1.0 cannot carry C0 controls: encoding/xml writes U+FFFD.)
			if !strings.Contains(out+errOut, `\x1b]0;pwned`) && !strings.Contains(out+errOut, `\u001b]0;pwned`) && !strings.Contains(out, "\ufffd]0;pwned") {
				t.Errorf("the registry's message is not shown (escaped):\n%s\n%s", out, errOut)
			}
			for name, s := range map[string]string{"stdout": out, "stderr": errOut} {
				if at, bad := unsafeForTerminal(s); bad {
					t.Errorf("%s carries a control character: %q", name, at)
				}
			}
		})
	}
	// A file's name is shown escaped in a message on stderr.
	code, out, errOut := runInEnv(t, w, map[string]string{"NO_COLOR": "1"}, "verify-file", filepath.Join(dir, "\x1b[2J\x1b[32mverified\u009b"), "--version", "v1.24.17")
	if at, bad := unsafeForTerminal(out + errOut); bad || code != ExitUsage || !strings.Contains(errOut, `\x1b[2J\x1b[32mverified\u009b`) {
		t.Errorf("exit %d, output carries a control character (%q) or lacks the escaped name:\n%s\n%s", code, at, out, errOut)
	}
	// The machine formats keep the exact value.
	data, err := os.ReadFile(filepath.Join(dir, "r.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Artifacts []struct{ Reason string }
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range rep.Artifacts {
		found = found || strings.Contains(a.Reason, testworld.HostileMessage)
	}
	if !found {
		t.Errorf("the JSON report lost the exact message:\n%s", data)
	}
	_, out, _ = runInEnv(t, w, nil, "verify", "v1.24.17", "--kind", "image", "-o", "junit")
	var suites struct {
		Text string `xml:",innerxml"`
	}
	if err := xml.Unmarshal([]byte(out), &suites); err != nil {
		t.Fatalf("JUnit is no XML: %v\n%s", err, out)
	}
	if !strings.Contains(suites.Text, "&#x7F;&#x9B;31m&#x85;done") {
		t.Errorf("JUnit lost DEL and the C1 controls:\n%s", out)
	}
	_, out, _ = runInEnv(t, w, nil, "verify", "v1.24.17", "--kind", "image", "-o", "sarif")
	var sarif struct {
		Runs []struct {
			Results []struct {
				Message struct{ Text string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || len(sarif.Runs) != 1 {
		t.Fatalf("SARIF: %v\n%s", err, out)
	}
	// (The message is one line: the whitespace of the reason is folded.)
	found = false
	for _, r := range sarif.Runs[0].Results {
		found = found || strings.Contains(r.Message.Text, "denied\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[32mverified\x1b[0m \x7f\u009b31m done\x00")
	}
	if !found {
		t.Errorf("the SARIF report lost the exact message:\n%s", out)
	}
}

// runInEnv is runIn with more (or unset, "") variables.
func runInEnv(t *testing.T, w *testworld.World, extra map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env := map[string]string{"K8SVERIFY_NO_PROGRESS": "1", "K8SVERIFY_TIMEOUT": "10s"}
	for _, kv := range w.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}
