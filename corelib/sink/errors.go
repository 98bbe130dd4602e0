package sink

import (
	"errors"
	"fmt"
)

// TargetError is a call the target refused or could not be reached for.
// Writers classify their target's failures into it; the pipeline's retry
// policy reads Retryable.
type TargetError struct {
	Op   string // the call, e.g. "Upsert"
	Code int32  // the target's error code, 0 when the call failed in transport
	// Reason is the target's message.
	Reason string
	// Retryable says whether the same call may succeed later (the target is
	// down, overloaded or not ready yet). A non-retryable refusal (a schema
	// or data the target rejects, credentials refused) that persists ends
	// the run as a permanent failure.
	Retryable bool
	Cause     error
}

func (e *TargetError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("target %s failed (code %d): %s", e.Op, e.Code, e.Reason)
	}
	return fmt.Sprintf("target %s failed: %s", e.Op, e.Reason)
}

func (e *TargetError) Unwrap() error { return e.Cause }

// IsPermanent reports whether err is a target refusal retrying cannot fix.
func IsPermanent(err error) bool {
	var te *TargetError
	return errors.As(err, &te) && !te.Retryable
}
