package main

import (
	"errors"
	"fmt"
)

// Exit codes (DESIGN.md section 4; README "Exit codes").
const (
	ExitOK         = 0 // every artifact in scope verified
	ExitFailed     = 1 // at least one artifact failed verification
	ExitUsage      = 2 // usage or configuration error
	ExitIncomplete = 3 // nothing failed, but some artifacts could not be verified
)

// exitError carries an exit code out of a command. The code is decided in
// one place: Run.
type exitError struct {
	code int
	err  error // nil: nothing more to print
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage or configuration error (exit 2).
func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

// usageErrorf formats a usage error.
func usageErrorf(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// exitCode returns the exit code err asks for. An error that carries none
// comes from cobra itself (unknown command or flag, wrong arguments): a
// usage error.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}
