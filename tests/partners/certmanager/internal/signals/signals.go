// Package signals mirrors cert-manager's internal/cmd/util/signal.go (SetupExitHandler with
// GracefulShutdown), an internal package both of its mains use: the first SIGINT or SIGTERM
// cancels the context so the process stops gracefully; a second one exits at once with status 130.
package signals

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// SetupExitHandler returns a context cancelled by the first SIGINT or SIGTERM, and a function
// that stops listening for them.
func SetupExitHandler(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	c := make(chan os.Signal, 2)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := (<-c).(syscall.Signal)
		cancel(fmt.Errorf("received signal %d", int(sig)))
		<-c
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(c) }
}
