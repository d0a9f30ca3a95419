// Command k8sverify verifies that a Kubernetes release — its binaries,
// tarballs and container images — is exactly what the Kubernetes release
// team signed with Sigstore.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
