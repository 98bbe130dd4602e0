package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// refusingTarget refuses every upsert the way a target rejects data it will
// never accept.
type refusingTarget struct{ *recorder }

func (refusingTarget) Upsert(context.Context, string, string, string, []*schemapb.FieldData, uint32) error {
	return &sink.TargetError{Op: "Upsert", Code: 1100, Reason: "the dim (8) of field data(vec) is not equal to schema dim (16)"}
}

func shortPermanentWindow(t *testing.T) {
	attempts, after := permanentAttempts, permanentAfter
	permanentAttempts, permanentAfter = 2, 0
	t.Cleanup(func() { permanentAttempts, permanentAfter = attempts, after })
}

func TestRetryGivesUpOnlyOnAPersistentPermanentError(t *testing.T) {
	shortPermanentWindow(t)
	permanent := &sink.TargetError{Op: "CreateCollection", Reason: "schema refused"}
	transient := &sink.TargetError{Op: "CreateCollection", Reason: "target unavailable", Retryable: true}
	tests := []struct {
		name     string
		errs     []error // what fn returns on successive attempts; then nil
		gaveUp   bool
		attempts int
	}{
		{"transient errors are retried", []error{transient, transient}, false, 3},
		{"a permanent error that clears up is retried", []error{permanent}, false, 2},
		{"a permanent error interrupted by a transient one starts over", []error{permanent, transient, permanent}, false, 4},
		{"a persistent permanent error stops", []error{permanent, permanent, permanent}, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHealth()
			attempts := 0
			err := retry(context.Background(), h, zap.NewNop(), stageApply, "CreateCollection c", func(context.Context) error {
				attempts++
				if attempts <= len(tt.errs) {
					return tt.errs[attempts-1]
				}
				return nil
			})
			require.Equal(t, tt.attempts, attempts)
			if !tt.gaveUp {
				require.NoError(t, err)
				require.Empty(t, h.failedFor)
				return
			}
			require.ErrorIs(t, err, permanent)
			require.ErrorIs(t, err, corelib.ErrPermanent)
			require.ErrorContains(t, err, "apply stage: target CreateCollection failed: schema refused")
		})
	}
}

// TestPipelineFailsOnAPermanentRefusal: a target that keeps refusing the
// data stops the pipeline, which reports the failure once, as permanent,
// and shows the failed state with the error.
func TestPipelineFailsOnAPermanentRefusal(t *testing.T) {
	shortPermanentWindow(t)
	src, store := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}
	src.add(t, "dml_0", 10, insertMsg(10, 11, "logs", 1))
	failed := make(chan error, 2)
	p := newTestPipeline(src, store, nil, func(err error) { failed <- err })
	p.writer = apiOver{refusingTarget{newRecorder()}}
	require.NoError(t, p.Start(context.Background()))
	select {
	case err := <-failed:
		require.True(t, errors.Is(err, corelib.ErrPermanent), "%v", err)
		require.ErrorContains(t, err, "is not equal to schema dim")
	case <-time.After(10 * time.Second):
		t.Fatal("the pipeline kept retrying a permanent refusal")
	}
	require.NoError(t, p.Stop(context.Background()))
	st := p.Status()
	require.Equal(t, stateFailed, st.State)
	require.Contains(t, st.Detail, "resume the task")
	require.Equal(t, stageApply, st.Error.Stage)
	require.Empty(t, failed, "reported once")
	require.Zero(t, store.get("dml_0").Timestamp, "nothing refused is checkpointed")
}
