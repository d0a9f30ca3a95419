package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// terminal is what k8sverify knows of a terminal it writes to.
type terminal struct {
	width int
	color bool
}

// terminalOf returns the terminal w is, or nil when w is not one (a file,
// a pipe, a test's buffer). Colour follows NO_COLOR (https://no-color.org).
func terminalOf(w io.Writer) *terminal {
	f, ok := rawWriter(w).(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	t := &terminal{color: os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"}
	if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
		t.width = width
	}
	return t
}

// rawWriter returns the writer below a report.TerminalWriter: the
// terminal itself, for the progress bar's own control sequences.
func rawWriter(w io.Writer) io.Writer {
	if u, ok := w.(interface{ Unwrap() io.Writer }); ok {
		return u.Unwrap()
	}
	return w
}
