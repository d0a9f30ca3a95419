package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/mirror"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Exit codes (README "Exit codes"), the same for
// every command.
const (
	ExitOK          = 0   // every artifact in scope verified
	ExitFailed      = 1   // at least one artifact failed verification
	ExitUsage       = 2   // usage, configuration or unreadable local input
	ExitIncomplete  = 3   // nothing failed, but some artifacts could not be verified
	ExitInterrupted = 130 // interrupted (SIGINT, SIGTERM)
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

// commandError gives an error of the library its exit code: what the user
// asked for or named locally is wrong (2); the run was interrupted (130);
// anything else could not be had (3).
func commandError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return &exitError{code: ExitInterrupted, err: err}
	case errors.Is(err, audit.ErrRequest), errors.Is(err, audit.ErrLocalInput), errors.Is(err, audit.ErrNoSuchRelease),
		errors.Is(err, pack.ErrMalformed), errors.Is(err, pack.ErrIncomplete), errors.Is(err, pack.ErrVersion):
		return usageError(err)
	}
	return &exitError{code: ExitIncomplete, err: err}
}

// adviceFor says what to do next about an error, in the command line's
// terms (the library's messages never name flags).
func adviceFor(err error, g *globalOptions) string {
	switch {
	case errors.Is(err, artifacts.ErrNeedsNetwork):
		cat := artifacts.Embedded()
		if g != nil && g.catalogOf != nil {
			cat = g.catalogOf
		}
		return "offline, name the version: the " + cat.Name() + " covers " + cat.Coverage()
	case errors.Is(err, pack.ErrVersion):
		return "fetch the pack again with this k8sverify: k8sverify fetch VERSION --out DIR"
	case errors.Is(err, pack.ErrIncomplete):
		return incompletePackAdvice(err)
	case errors.Is(err, trust.ErrPackExpired):
		return "the pack's TUF metadata has expired since it was fetched: fetch a new pack (k8sverify fetch VERSION --out DIR), or verify as of the fetch time with --trust-pack-at-fetch-time, accepting whatever the Sigstore TUF repository has revoked or let expire since"
	case errors.Is(err, trust.ErrPackUntrusted):
		return "verify with the TUF root the pack was fetched with (--tuf-root), or name a trusted_root.json with --trusted-root"
	case errors.Is(err, pack.ErrNoTUF):
		return "the pack lacks its TUF metadata (fetched without it, or lost since): fetch it again, or name a trusted root with --trusted-root"
	case errors.Is(err, sigverify.ErrNoTrust):
		return "name a trusted_root.json with --trusted-root to work without the Sigstore TUF repository"
	case errors.Is(err, transport.ErrPlainHTTPServer):
		return "a server answered in plain http where https was asked: if it is a registry of yours, allow it with --allow-http-registry"
	case errors.Is(err, mirror.ErrDestination):
		return "check --to, and the credentials for it (docker login REGISTRY, or a credential helper in ~/.docker/config.json)"
	}
	return ""
}

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

// verdictsError returns the error carrying the exit code of a report:
// 0 all verified, 1 any failed, 3 any unsigned, missing or error.
func verdictsError(rep *report.Report) error {
	if rep.Kind != report.KindVerification {
		return nil
	}
	switch rep.Worst() {
	case verify.StatusVerified:
		return nil
	case verify.StatusFailed:
		return &exitError{code: ExitFailed}
	default:
		return &exitError{code: ExitIncomplete}
	}
}

// incompletePackAdvice names the fetch that completes an incomplete pack.
func incompletePackAdvice(err error) string {
	version, dir := "VERSION", "DIR"
	var ie *pack.IncompleteError
	if errors.As(err, &ie) {
		dir = ie.Dir
		if ie.Release != "" {
			version = ie.Release
		}
	}
	return fmt.Sprintf("on a connected machine, run the fetch again to completion: k8sverify fetch %s --out %s (with the --kind, --platform, --with-files and --with-images it had)", version, shellQuote(dir))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ':' || r == ',' || r == '=' || r == '@' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
