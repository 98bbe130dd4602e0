//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Condition reports whether the awaited state is reached. The string says what
// it saw (it becomes the failure message when the deadline passes); a non-nil
// error is remembered the same way and does not stop the wait, because
// connections to a system that is catching up fail now and then.
type Condition func(ctx context.Context) (done bool, status string, err error)

// WaitFor polls cond every interval until it reports done, or until timeout or
// ctx ends; it returns an error carrying the last status and error seen.
func WaitFor(ctx context.Context, timeout, interval time.Duration, cond Condition) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var lastStatus string
	var lastErr error
	for attempt := 1; ; attempt++ {
		done, status, err := cond(ctx)
		if done && err == nil {
			return nil
		}
		lastStatus, lastErr = status, err
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met after %s (%d attempts): last status %q, last error: %v",
				time.Since(start).Round(time.Millisecond), attempt, lastStatus, lastErr)
		case <-time.After(interval):
		}
	}
}

// Eventually is WaitFor for tests: it fails the test when the condition is not
// met in time.
func Eventually(t testing.TB, ctx context.Context, timeout, interval time.Duration, what string, cond Condition) {
	t.Helper()
	if err := WaitFor(ctx, timeout, interval, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
