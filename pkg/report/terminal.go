package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Safe returns s as a terminal may be shown it: every character a
// terminal would act on is escaped, so that text from the network or a
// file (a registry's error message, a certificate's identity, an SBOM's
// names) can neither move the cursor, clear the screen, set the window
// title nor paint a fake verdict. Escaped are C0 controls other than tab
// and newline (ESC among them) and DEL as \xNN, C1 controls (U+0080 to
// U+009F, which 8-bit terminals act on too) as \u00NN, and bytes that are
// no UTF-8 as \xNN. Everything else is kept as it is.
func Safe(s string) string {
	if safeAlready(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(terminalEscape(r, size, s[i:i+size]))
		i += size
	}
	return b.String()
}

func safeAlready(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if escapeFor(r, size) {
			return false
		}
		i += size
	}
	return true
}

// escapeFor tells whether a decoded rune (size 1 and utf8.RuneError: a
// byte that is no UTF-8) is one a terminal would act on.
func escapeFor(r rune, size int) bool {
	return (r == utf8.RuneError && size == 1) || (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f)
}

func terminalEscape(r rune, size int, raw string) string {
	switch {
	case !escapeFor(r, size):
		return raw
	case r == utf8.RuneError || r <= 0x7f:
		return fmt.Sprintf(`\x%02x`, raw[0])
	default:
		return fmt.Sprintf(`\u%04x`, r)
	}
}

// NewTerminalWriter returns a writer that passes what is written to w
// through Safe: the stream of a terminal (stderr's messages, progress
// lines and logs). A character split across two writes is kept until it
// is complete.
func NewTerminalWriter(w io.Writer) *TerminalWriter {
	return &TerminalWriter{escaper{w: w, escape: terminalEscape}}
}

// TerminalWriter is a writer whose output is safe for a terminal.
type TerminalWriter struct{ escaper }

// Unwrap returns the writer written to, for whoever must know whether it
// is a terminal.
func (t *TerminalWriter) Unwrap() io.Writer { return t.w }

// jsonEscape keeps a JSON document's exact values and makes it safe for a
// terminal: encoding/json escapes C0 controls but writes DEL and C1
// controls as they are; outside strings a JSON document has none, so
// writing them \u00NN keeps the same value.
func jsonEscape(r rune, size int, raw string) string {
	if r >= 0x7f && r <= 0x9f {
		return fmt.Sprintf(`\u%04x`, r)
	}
	return raw
}

// xmlEscape does the same for XML (encoding/xml replaces the C0 controls
// XML 1.0 cannot carry): DEL and C1 as character references.
func xmlEscape(r rune, size int, raw string) string {
	if r >= 0x7f && r <= 0x9f {
		return fmt.Sprintf(`&#x%X;`, r)
	}
	return raw
}

// escaper writes through an escape of each character.
type escaper struct {
	w       io.Writer
	escape  func(r rune, size int, raw string) string
	pending []byte // the start of a character the next write completes
}

func (e *escaper) Write(p []byte) (int, error) {
	buf := append(e.pending, p...)
	e.pending = nil
	var b strings.Builder
	for i := 0; i < len(buf); {
		if !utf8.FullRune(buf[i:]) {
			e.pending = append([]byte(nil), buf[i:]...)
			break
		}
		r, size := utf8.DecodeRune(buf[i:])
		b.WriteString(e.escape(r, size, string(buf[i:i+size])))
		i += size
	}
	if _, err := io.WriteString(e.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}
