package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A report file is written whole or not at all where that can be done:
// a regular file (or a new one) is written beside itself and renamed
// into place. What is not a regular file is never replaced: a character
// device or a named pipe (/dev/stdout, /dev/null, a shell's process
// substitution) is written to as it is; anything else (a directory, a
// socket, a block device) is refused; nothing below /dev or /proc is
// ever created or replaced. A symbolic link is followed: the file it
// names is the one written, the link stays.

// stdStream says whether path names the process's standard output (1) or
// standard error (2), which a report is written through (0: neither).
func stdStream(path string) int {
	switch filepath.Clean(path) {
	case "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1":
		return 1
	case "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2":
		return 2
	}
	return 0
}

// reportTarget is where a report named path is written.
type reportTarget struct {
	// path is the file to write: path itself, or the regular file a
	// symbolic link names.
	path string
	// stream: path is a device or a pipe (or a stream of the process
	// under /dev or /proc), written to in place, appended to.
	stream bool
}

// targetOf classifies path, following symbolic links.
func targetOf(path string) (reportTarget, error) {
	if systemPath(path) {
		// /dev/stderr may be a shell's redirection to a regular file:
		// written in place (appended to), never replaced.
		fi, err := os.Stat(path)
		if err != nil {
			return reportTarget{}, err
		}
		if fi.IsDir() {
			return reportTarget{}, fmt.Errorf("%s is a directory", path)
		}
		return reportTarget{path: path, stream: true}, nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, lerr := os.Lstat(path); lerr == nil {
			return reportTarget{}, fmt.Errorf("%s is a symbolic link to nothing", path)
		}
		return reportTarget{path: path}, nil
	case err != nil:
		return reportTarget{}, err
	}
	mode := fi.Mode()
	switch {
	case mode.IsRegular():
		resolved, err := filepath.EvalSymlinks(path)
		if err != nil {
			return reportTarget{}, err
		}
		return reportTarget{path: resolved}, nil
	case mode&fs.ModeCharDevice != 0 || mode&fs.ModeNamedPipe != 0:
		return reportTarget{path: path, stream: true}, nil
	case mode.IsDir():
		return reportTarget{}, fmt.Errorf("%s is a directory", path)
	case mode&fs.ModeSocket != 0:
		return reportTarget{}, fmt.Errorf("%s is a socket", path)
	default:
		return reportTarget{}, fmt.Errorf("%s is not a regular file, a character device or a pipe (%s)", path, mode.Type())
	}
}

// systemPath: path is below /dev or /proc (the process's own streams,
// devices), where k8sverify never creates or replaces a file.
func systemPath(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for _, dir := range []string{"/dev/", "/proc/"} {
		if strings.HasPrefix(abs, dir) {
			return true
		}
	}
	return false
}

// resolvedPath is the absolute path of the file path names, links
// resolved: the file's own when it exists, else its directory's.
func resolvedPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// sameFile: a and b name one file (spelt differently, through a link, or
// hard-linked).
func sameFile(a, b string) bool {
	if resolvedPath(a) == resolvedPath(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// checkNotInput refuses a report file that is one of the run's inputs (a
// file it reads) or lies inside one (a directory it reads: an evidence
// pack, a directory of release files): a report never replaces what the
// run verifies.
func checkNotInput(path string, inputs []string) error {
	if t, err := targetOf(path); err != nil || t.stream {
		return err
	}
	out := resolvedPath(path)
	for _, in := range inputs {
		if in == "" {
			continue
		}
		fi, err := os.Stat(in)
		if err != nil {
			continue // the input's own check names it
		}
		if !fi.IsDir() && sameFile(path, in) {
			return fmt.Errorf("%s is %s, which this run reads", path, in)
		}
		if fi.IsDir() {
			if rel, err := filepath.Rel(resolvedPath(in), out); err == nil && filepath.IsLocal(rel) {
				return fmt.Errorf("%s is inside %s, which this run reads", path, in)
			}
		}
	}
	return nil
}

// checkWritable tells, before any work, whether a report can be written
// at path: a device or pipe is taken as it is (opening a pipe would wait
// for its reader); for a file, its directory takes a new file.
func checkWritable(path string) error {
	t, err := targetOf(path)
	if err != nil || t.stream {
		return err
	}
	dir := filepath.Dir(t.path)
	f, err := os.CreateTemp(dir, ".k8sverify-report-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// writeFile writes a report at path: a file atomically (a temporary file
// beside it, renamed into place once complete, readable by others as
// reports are shared with CI uploaders); a device or a pipe in place.
func writeFile(path string, fill func(io.Writer) error) error {
	t, err := targetOf(path)
	if err != nil {
		return err
	}
	if t.stream {
		f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		if err := fill(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	f, err := os.CreateTemp(filepath.Dir(t.path), ".k8sverify-report-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), t.path)
}

// checkDir tells whether dir ("" : none named) is a directory to read.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}
