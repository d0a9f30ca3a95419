//go:build unix

package transport

import "syscall"

// openFileLimit is the process's limit on open file descriptors (Go
// raises the soft limit to the hard one at start), 0 when unknown.
func openFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}
