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
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	t := &terminal{color: os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"}
	if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
		t.width = width
	}
	return t
}
