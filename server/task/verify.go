package task

import (
	"context"
	"errors"
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/verify"
)

// VerifySyncedWait bounds how long Verify waits for the task to be synced
// before it reads both sides.
var VerifySyncedWait = 2 * time.Minute

// Verify compares the task's target with its source once the task is
// synced (it is not paused: the comparison reads both sides while the task
// keeps replicating). A task whose writer mode has no target Milvus (kafka)
// is refused, and so is one without a running pipeline.
func (c *Controller) Verify(ctx context.Context, id string, opts corelib.VerifyOptions) (corelib.VerifyReport, error) {
	opts, ferr := verify.Normalize(opts)
	if ferr != nil {
		return corelib.VerifyReport{}, FieldErrorf(CodeBadRequest, ferr.Field, "%s", ferr.Message)
	}
	t, err := c.getTask(ctx, id)
	if err != nil {
		return corelib.VerifyReport{}, err
	}
	if t.Spec.WriterMode == corelib.WriterModeKafka || t.Spec.Target.Kafka != nil {
		return corelib.VerifyReport{}, FieldErrorf(CodeUnsupported, "writerMode", "the task %s publishes change events to Kafka (writer mode kafka): there is no target Milvus to verify", id)
	}
	verifier, ok := c.factory.(corelib.TaskVerifier)
	if !ok {
		return corelib.VerifyReport{}, Errorf(CodeUnsupported, "this daemon cannot verify tasks")
	}
	deadline := time.Now().Add(VerifySyncedWait)
	for {
		v, rep, err := c.Synced(ctx, id, 5*time.Second)
		if err != nil {
			return corelib.VerifyReport{}, err
		}
		if rep.Synced {
			break
		}
		if v.Pipeline == nil || time.Now().After(deadline) {
			return corelib.VerifyReport{}, Errorf(CodeStateConflict, "the task %s is not synced, so its target cannot be compared yet: %s", id, rep.Reason)
		}
		select {
		case <-ctx.Done():
			return corelib.VerifyReport{}, wrap(CodeInternal, ctx.Err(), "verify of the task %s given up: %v", id, ctx.Err())
		case <-time.After(time.Second):
		}
	}
	spec, err := c.withResolvedToken(t.Spec)
	if err != nil {
		return corelib.VerifyReport{}, err
	}
	rep, err := verifier.VerifyTask(ctx, spec, opts)
	if err != nil {
		switch {
		case errors.Is(err, corelib.ErrNoMilvusTarget):
			return corelib.VerifyReport{}, wrap(CodeUnsupported, err, "%v", err)
		case errors.Is(err, corelib.ErrTargetUnreachable):
			return corelib.VerifyReport{}, wrap(CodeTargetUnreachable, err, "cannot verify the task %s: %v", id, err)
		}
		return corelib.VerifyReport{}, wrap(CodeSourceUnavailable, err, "cannot verify the task %s: %v", id, err)
	}
	return rep, nil
}
