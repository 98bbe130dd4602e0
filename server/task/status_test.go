package task_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// syncingFactory builds fakePipelines that answer Synced.
type syncingFactory struct {
	*fakeFactory
	answer func(ctx context.Context) (corelib.SyncReport, error)
}

type syncingPipeline struct {
	*fakePipeline
	answer func(ctx context.Context) (corelib.SyncReport, error)
}

func (p syncingPipeline) Synced(ctx context.Context) (corelib.SyncReport, error) {
	return p.answer(ctx)
}

func (f *syncingFactory) New(spec corelib.TaskSpec, deps corelib.Deps) (corelib.Pipeline, error) {
	p, err := f.fakeFactory.New(spec, deps)
	if err != nil {
		return nil, err
	}
	return syncingPipeline{fakePipeline: p.(*fakePipeline), answer: f.answer}, nil
}

func TestSynced(t *testing.T) {
	ctx := context.Background()
	var sawDeadline bool
	tests := []struct {
		name       string
		answer     func(ctx context.Context) (corelib.SyncReport, error)
		wait       time.Duration
		pause      bool
		wantSynced bool
		wantReason string
		wantCode   task.Code
		deadline   bool
	}{
		{"the pipeline's answer, with a deadline", func(ctx context.Context) (corelib.SyncReport, error) {
			_, sawDeadline = ctx.Deadline()
			return corelib.SyncReport{Synced: true, SourceNowTs: 42}, nil
		}, 3 * time.Second, false, true, "", "", true},
		{"no wait: no deadline", func(ctx context.Context) (corelib.SyncReport, error) {
			_, sawDeadline = ctx.Deadline()
			return corelib.SyncReport{Synced: false, Reason: "behind"}, nil
		}, 0, false, false, "behind", "", false},
		{"source down", func(context.Context) (corelib.SyncReport, error) {
			return corelib.SyncReport{}, errors.New("etcd unreachable")
		}, time.Second, false, false, "", task.CodeSourceUnavailable, false},
		{"a paused task is not synced", func(context.Context) (corelib.SyncReport, error) {
			t.Fatal("a paused task has no pipeline to ask")
			return corelib.SyncReport{}, nil
		}, time.Second, true, false, "the task is Paused; no pipeline runs", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			f := &syncingFactory{fakeFactory: h.factory, answer: tt.answer}
			h.ctl = task.NewController(h.store, f, h.limits, zap.NewNop())
			v, err := h.ctl.Create(ctx, spec("http://t:19530", "db", "c"))
			require.NoError(t, err)
			if tt.pause {
				_, err = h.ctl.Pause(ctx, v.Spec.ID)
				require.NoError(t, err)
			}
			sawDeadline = false
			view, rep, err := h.ctl.Synced(ctx, v.Spec.ID, tt.wait)
			if tt.wantCode != "" {
				requireCode(t, err, tt.wantCode, "")
				return
			}
			require.NoError(t, err)
			require.Equal(t, v.Spec.ID, view.Spec.ID)
			require.Equal(t, tt.wantSynced, rep.Synced)
			require.Equal(t, tt.wantReason, rep.Reason)
			require.Equal(t, tt.deadline, sawDeadline)
		})
	}

	h := newHarness(t)
	_, _, err := h.ctl.Synced(ctx, "nope", time.Second)
	requireCode(t, err, task.CodeNotFound, "")
	v, err := h.ctl.Create(ctx, spec("http://t:19530", "db", "c"))
	require.NoError(t, err)
	_, _, err = h.ctl.Synced(ctx, v.Spec.ID, time.Second)
	requireCode(t, err, task.CodeUnsupported, "") // the plain fake cannot answer
}
