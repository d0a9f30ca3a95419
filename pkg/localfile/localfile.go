// Package localfile opens files named by a user or found in a directory the
// user chose, without ever blocking on them: only a regular file is read. A
// FIFO, a device or a directory given by mistake (or swapped in between the
// check and the open) is refused at once, never waited on.
package localfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular: the path names something other than a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge: the file is larger than the caller's limit.
var ErrTooLarge = errors.New("file too large")

// dir is what both the file system and an *os.Root offer.
type dir interface {
	Stat(name string) (fs.FileInfo, error)
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
}

type osDir struct{}

func (osDir) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
func (osDir) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}

// Open opens the regular file at path for reading: checked before opening,
// opened non-blocking, and checked again once open.
func Open(path string) (*os.File, error) { return open(osDir{}, path) }

// OpenIn is Open for a path inside root (which it cannot leave).
func OpenIn(root *os.Root, rel string) (*os.File, error) { return open(root, rel) }

// Read reads the regular file at path, of at most limit bytes.
func Read(path string, limit int64) ([]byte, error) { return read(osDir{}, path, limit) }

// ReadIn is Read for a path inside root.
func ReadIn(root *os.Root, rel string, limit int64) ([]byte, error) {
	return read(root, rel, limit)
}

func open(d dir, name string) (*os.File, error) {
	fi, err := d.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %w", name, ErrNotRegular)
	}
	f, err := d.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is %w", name, ErrNotRegular)
	}
	return f, nil
}

func read(d dir, name string, limit int64) ([]byte, error) {
	f, err := open(d, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", name, ErrTooLarge, limit)
	}
	return data, nil
}
