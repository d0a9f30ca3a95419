package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrDestination: the destination registry of a mirror is unreachable,
// refuses the credentials, or does not allow a push. The error carries
// the registry's own message.
var ErrDestination = errors.New("the destination registry would not take the mirror")

// CheckDestination checks, as a dry run must before saying what it would
// copy, that the destination would take it: the registry answers, the
// credentials of the default keychain (docker config, credential
// helpers, as the mirror itself uses) are accepted, and a push into
// to/repo is allowed. It starts an upload and cancels it
// (go-containerregistry's remote.CheckPushPermission, which a token
// exchange alone cannot replace: docker/hub-feedback#1771): nothing is
// written. to is the mirror's destination (registry[/prefix]); repo one
// repository below it (e.g. "kube-apiserver"): registries grant pushes
// per repository. Each request is bounded by the session's timeout, the
// whole by ctx.
func (s *Session) CheckDestination(ctx context.Context, to, repo string) error {
	dest, err := mirrorDestination(to)
	if err != nil {
		return err
	}
	var opts []name.Option
	if s.cfg.AllowHTTPRegistry {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(dest+"/"+repo+":k8sverify-dry-run", opts...)
	if err != nil {
		return classify(ErrRequest, fmt.Errorf("destination %q: %w", to, err))
	}
	done := make(chan error, 1)
	go func() { done <- remote.CheckPushPermission(ref, authn.DefaultKeychain, s.http.Guarded()) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDestination, ref.Context().Name(), err)
	}
	return nil
}
