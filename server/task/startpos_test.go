package task_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// pinningFactory is the fake factory plus start positions: every channel
// ends at timestamp 7, except those the request already positioned.
type pinningFactory struct {
	*fakeFactory
	err  error
	skip map[string]bool
}

func (f *pinningFactory) StartPositions(_ context.Context, _ corelib.TaskSpec, skip map[string]bool) ([]corelib.Checkpoint, error) {
	f.skip = skip
	if f.err != nil {
		return nil, f.err
	}
	var out []corelib.Checkpoint
	for _, ch := range []string{"by-dev-rootcoord-dml_0", "by-dev-replicate-msg"} {
		if !skip[ch] {
			out = append(out, corelib.Checkpoint{Channel: ch, Position: []byte{1}, Timestamp: 7})
		}
	}
	return out, nil
}

func TestCreateStoresThePinnedStartPositionsBeforeStarting(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	pf := &pinningFactory{fakeFactory: h.factory}
	h.ctl = task.NewController(h.store, pf, h.limits, zap.NewNop())

	in := spec("http://127.0.0.1:19530", "db1", "coll1")
	in.Spec.Scope[0].StartPositions = map[string]string{"by-dev-rootcoord-dml_1_42v0": position(t, "by-dev-rootcoord-dml_1_42v0", 5)}
	v, err := h.ctl.Create(ctx, in)
	require.NoError(t, err)
	require.True(t, pf.skip["by-dev-rootcoord-dml_1"], "a user position covers its physical channel")
	require.True(t, pf.skip["by-dev-rootcoord-dml_1_42v0"])

	got := map[string]uint64{}
	for _, cp := range h.factory.last(v.Spec.ID).cps {
		got[cp.Channel] = cp.Timestamp
	}
	require.Equal(t, map[string]uint64{"by-dev-rootcoord-dml_0": 7, "by-dev-replicate-msg": 7, "by-dev-rootcoord-dml_1_42v0": 5}, got,
		"the pipeline's first start sees the pinned positions")
}

func TestCreateFailsWhenTheStartCannotBePinned(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	pf := &pinningFactory{fakeFactory: h.factory, err: errors.New("pulsar unavailable")}
	h.ctl = task.NewController(h.store, pf, h.limits, zap.NewNop())
	_, err := h.ctl.Create(ctx, spec("http://127.0.0.1:19530", "db1", "coll1"))
	requireCode(t, err, task.CodeSourceUnavailable, "fail to read the start positions of the source channels: pulsar unavailable")
	views, err := h.ctl.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, views, "nothing is stored")
}
