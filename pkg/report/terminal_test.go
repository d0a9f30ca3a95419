package report

import (
	"bytes"
	"testing"
)

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\n":                  "plain\ttext\n",
		"kube-proxy — v1.24.17 ✓":        "kube-proxy — v1.24.17 ✓",
		"\x1b]0;title\x07":               `\x1b]0;title\x07`,
		"\x1b[2J\x1b[32mverified\x1b[0m": `\x1b[2J\x1b[32mverified\x1b[0m`,
		"a\rb\x00c\x7fd":                 `a\x0db\x00c\x7fd`,
		"\u009b31m\u0085":                `\u009b31m\u0085`,
		"bad \x9b byte":                  `bad \x9b byte`,
	} {
		if got := Safe(in); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
}

// A character split across two writes is escaped (or kept) whole.
func TestTerminalWriterSplitCharacter(t *testing.T) {
	var b bytes.Buffer
	w := NewTerminalWriter(&b)
	in := []byte("x\u009by—z")
	for i := range in {
		if _, err := w.Write(in[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := b.String(), `x\u009by—z`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
