package task_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// TestPermanentPipelineFailureMarksTaskFailed: a pipeline that stopped on an
// error retrying cannot fix leaves its task Failed (not Paused) with the
// error as reason; a daemon restart does not retry it; resume does.
func TestPermanentPipelineFailureMarksTaskFailed(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v, err := h.ctl.Create(ctx, spec("http://t:1", "default", "c"))
	require.NoError(t, err)
	id := v.Spec.ID
	cause := fmt.Errorf("%w: apply stage: target Upsert failed (code 1100): dim mismatch", corelib.ErrPermanent)
	h.factory.last(id).deps.OnFailure(cause)
	require.Eventually(t, func() bool {
		got, err := h.ctl.Get(ctx, id)
		return err == nil && got.State == meta.StateFailed
	}, 5*time.Second, 20*time.Millisecond)
	got, err := h.ctl.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "the pipeline failed on an error retrying cannot fix; resume the task once it is fixed: permanent failure: apply stage: target Upsert failed (code 1100): dim mismatch", got.Reason)
	require.Nil(t, got.Pipeline, "no pipeline runs")
	require.False(t, h.factory.last(id).isRunning())

	counts, err := h.ctl.CountByState(ctx)
	require.NoError(t, err)
	require.Equal(t, map[meta.State]int{meta.StateInitial: 0, meta.StateRunning: 0, meta.StatePaused: 0, meta.StateFailed: 1}, counts)
	failed, err := h.ctl.List(ctx, meta.StateFailed)
	require.NoError(t, err)
	require.Len(t, failed, 1)

	h.restart(t)
	got, err = h.ctl.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, meta.StateFailed, got.State, "a restart does not retry a failed task")
	require.Zero(t, h.factory.count(id))

	resumed, err := h.ctl.Resume(ctx, id)
	require.NoError(t, err)
	require.Equal(t, meta.StateRunning, resumed.State)
	require.Empty(t, resumed.Reason)
	require.True(t, h.factory.last(id).isRunning())
}
