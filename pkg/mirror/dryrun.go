package mirror

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

// CheckPush checks, as a dry run must before saying what it would copy,
// that the destination would take it: the registry answers, the
// credentials of the default keychain (docker config, credential
// helpers, as the writes use) are accepted, and a push into repo (a
// repository of the destination: registries grant pushes per repository)
// is allowed. It starts an upload and cancels it (go-containerregistry's
// remote.CheckPushPermission, which a token exchange alone cannot
// replace: docker/hub-feedback#1771): nothing is written. Each request is
// bounded by the writer's HTTP timeouts, the whole by ctx.
func (w *Writer) CheckPush(ctx context.Context, repo string) error {
	ref, err := name.ParseReference(repo+":k8sverify-dry-run", w.names...)
	if err != nil {
		return fmt.Errorf("destination %q: %w", repo, err)
	}
	done := make(chan error, 1)
	go func() { done <- remote.CheckPushPermission(ref, authn.DefaultKeychain, w.http) }()
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
