package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// With the task store's etcd stopped, get, list, status and the state
// counts answer within the read bound from what the controller last knew,
// with the live pipeline status, and say the store does not answer;
// mutations fail with store_unavailable. Once etcd is back, answers come
// from the store again and mutations work.
func TestReadsAnswerFromMemoryWhileTheStoreIsDown(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.limits.StoreTimeout = 2 * time.Second
	h.ctl = task.NewController(h.store, h.factory, h.limits, zap.NewNop())
	require.NoError(t, h.ctl.Reload(ctx))
	running, err := h.ctl.Create(ctx, spec("http://t:19530", "db1", "*"))
	require.NoError(t, err)
	paused, err := h.ctl.Create(ctx, spec("http://t:19530", "db2", "*"))
	require.NoError(t, err)
	paused, err = h.ctl.Pause(ctx, paused.Spec.ID)
	require.NoError(t, err)
	knownAt := time.Now()

	h.etcd.Server.Close() // the store stops answering; the client stays
	h.etcd.Server = nil
	down := time.Now()

	// Reads: at once, from memory, saying so.
	var firstSince time.Time
	for i := 0; i < 3; i++ {
		start := time.Now()
		v, err := h.ctl.Get(ctx, running.Spec.ID)
		require.NoError(t, err)
		require.Less(t, time.Since(start), 1500*time.Millisecond, "poll %d answered within the read bound", i)
		require.NotNil(t, v.Store, "the answer says it is from memory")
		require.ErrorIs(t, v.Store.Err, context.DeadlineExceeded)
		require.False(t, v.Store.AsOf.After(knownAt), "the record is the one last read or written")
		require.False(t, v.Store.Since.Before(down))
		if i == 0 {
			firstSince = v.Store.Since
		}
		require.Equal(t, firstSince, v.Store.Since, "since is the start of the outage, not of each poll")
		require.Equal(t, meta.StateRunning, v.State)
		require.Equal(t, &corelib.Status{Replicating: true, Detail: "fake"}, v.Pipeline, "the pipeline status is live")
		require.Empty(t, v.Spec.Target.Token, "memory never shows secrets either")
	}
	views, st, err := h.ctl.ListWithStore(ctx, "")
	require.NoError(t, err)
	require.NotNil(t, st)
	require.Len(t, views, 2)
	require.Equal(t, []string{running.Spec.ID, paused.Spec.ID}, []string{views[0].Spec.ID, views[1].Spec.ID}, "oldest first, as the store lists them")
	require.Equal(t, meta.StatePaused, views[1].State)
	require.Equal(t, task.ReasonManualPause, views[1].Reason)
	pausedOnly, err := h.ctl.List(ctx, meta.StatePaused)
	require.NoError(t, err)
	require.Len(t, pausedOnly, 1)
	counts, err := h.ctl.CountByState(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, counts[meta.StateRunning])
	require.Equal(t, 1, counts[meta.StatePaused])

	// What the controller never saw cannot be answered; mutations fail.
	_, err = h.ctl.Get(ctx, "never-seen")
	requireCode(t, err, task.CodeStoreUnavailable, "")
	require.Contains(t, err.Error(), "fail to get the task info, task_id: never-seen: ")
	start := time.Now()
	_, err = h.ctl.Pause(ctx, running.Spec.ID)
	requireCode(t, err, task.CodeStoreUnavailable, "")
	require.Less(t, time.Since(start), 5*time.Second, "within the store timeout")
	require.True(t, h.factory.last(running.Spec.ID).isRunning(), "a failed pause changes nothing")

	// etcd is back on the same address: answers from the store again.
	srv, err := meta.StartEmbedded(h.etcd.Config, zap.NewNop())
	require.NoError(t, err)
	h.etcd.Server = srv
	require.Eventually(t, func() bool {
		v, err := h.ctl.Get(ctx, running.Spec.ID)
		return err == nil && v.Store == nil
	}, 20*time.Second, 100*time.Millisecond, "answers come from the store once it is back")
	_, st, err = h.ctl.ListWithStore(ctx, "")
	require.NoError(t, err)
	require.Nil(t, st)
	_, err = h.ctl.Pause(ctx, running.Spec.ID)
	require.NoError(t, err, "mutations work again")
}

// Without a full list read since the start, the list cannot be answered
// from memory: the controller says the store is unavailable.
func TestListWithoutAKnownListFailsClearly(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t) // no Reload: the controller never listed
	h.etcd.Server.Close()
	h.etcd.Server = nil
	_, err := h.ctl.List(ctx, "")
	requireCode(t, err, task.CodeStoreUnavailable, "")
	require.Contains(t, err.Error(), "fail to get all task info: ")
}
