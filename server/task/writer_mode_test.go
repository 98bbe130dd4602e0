package task_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/milvus"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

func TestCreateWriterMode(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)

	in := spec("http://t:1", "default", "c")
	in.Spec.WriterMode = "exact"
	_, err := h.ctl.Create(ctx, in)
	requireCode(t, err, task.CodeValidation, `the writer mode "exact" is unknown: use "api" (the default) or "replicate", or give a Kafka target (writer mode "kafka")`)
	require.Equal(t, "writerMode", task.AsError(err).Field)

	h.factory.verifyErr = fmt.Errorf("%w (target http://t:1)", milvus.ErrTargetNotReplicaMode)
	in.Spec.WriterMode = corelib.WriterModeReplicate
	_, err = h.ctl.Create(ctx, in)
	requireCode(t, err, task.CodeTargetMode, "")
	e := task.AsError(err)
	require.Equal(t, "writerMode", e.Field)
	require.Contains(t, e.Message, "common.ttMsgEnabled=false")
	require.Equal(t, 422, task.Lookup(task.CodeTargetMode).HTTPStatus)

	h.factory.verifyErr = nil
	v, err := h.ctl.Create(ctx, in)
	require.NoError(t, err)
	require.Equal(t, corelib.WriterModeReplicate, v.Spec.WriterMode, "the mode is stored with the task")
	require.Equal(t, corelib.WriterModeReplicate, h.factory.last(v.Spec.ID).spec.WriterMode, "and reaches the pipeline")
}

func TestReplicaTargetTakesOneTask(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	first := spec("http://t:1", "default", "a")
	first.Spec.WriterMode = corelib.WriterModeReplicate
	v, err := h.ctl.Create(ctx, first)
	require.NoError(t, err)

	for _, mode := range []string{corelib.WriterModeReplicate, corelib.WriterModeAPI} {
		second := spec("http://t:1", "default", "b")
		second.Spec.WriterMode = mode
		_, err = h.ctl.Create(ctx, second)
		requireCode(t, err, task.CodeTargetMode, "")
		require.Contains(t, task.AsError(err).Message, v.Spec.ID)
	}

	other := spec("http://other:1", "default", "b")
	other.Spec.WriterMode = corelib.WriterModeReplicate
	_, err = h.ctl.Create(ctx, other)
	require.NoError(t, err, "another target is fine")
}
