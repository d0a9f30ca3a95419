// Command k8sverify verifies that a Kubernetes release — its binaries,
// tarballs and container images — is exactly what the Kubernetes release
// team signed with Sigstore.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-signals
		fmt.Fprintf(os.Stderr, "\nk8sverify: %s: stopping (again to quit at once)\n", s)
		cancel()
		<-signals
		os.Exit(ExitInterrupted)
	}()
	os.Exit(Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
