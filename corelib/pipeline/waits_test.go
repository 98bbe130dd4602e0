package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

func shortWaitBounds(t *testing.T, stall, giveUp, retire time.Duration) {
	s, g, r := waitStallAfter, waitGiveUpAfter, retireAfter
	waitStallAfter, waitGiveUpAfter, retireAfter = stall, giveUp, retire
	t.Cleanup(func() { waitStallAfter, waitGiveUpAfter, retireAfter = s, g, r })
}

// TestWaitsSkipChannelsNoCollectionUses: Milvus stops ticking a physical
// channel once no collection uses it. A wait for such a channel (its worker
// has read everything and waits) ends instead of stalling; a channel a live
// collection uses is still waited for.
func TestWaitsSkipChannelsNoCollectionUses(t *testing.T) {
	shortWaitBounds(t, time.Minute, time.Hour, 50*time.Millisecond)
	r, _ := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	// dml_9 carries no collection; dml_0 carries orders and logs.
	r.progress.track("dml_9", 10)
	r.progress.track("dml_0", 10)
	r.progress.waitStart("dml_9", time.Now())
	r.progress.waitStart("dml_0", time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, r.waitChannels(ctx, "DropDatabase of d", []string{"dml_9"}, 500), "a channel no collection uses is not waited for")
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	require.ErrorIs(t, r.waitChannels(short, "DropDatabase of d", []string{"dml_0", "dml_9"}, 500), context.DeadlineExceeded)

	// A collection dropped on the source leaves its channel to be retired.
	c, _ := r.meta.collection(11)
	dropped := *c
	dropped.State = metapb.CollectionState_CollectionDropped
	r.meta.apply(source.MetaEvent{Type: source.CollectionDropped, ID: 11, Collection: &dropped})
	o, _ := r.meta.collection(10)
	gone := *o
	gone.State = metapb.CollectionState_CollectionDropped
	r.meta.apply(source.MetaEvent{Type: source.CollectionDropped, ID: 10, Collection: &gone})
	require.NoError(t, r.waitChannels(ctx, "DropDatabase of d", []string{"dml_0", "dml_9"}, 500))

	// dml_1 carries users, alive: the watermark follows it, not the frozen ones.
	r.progress.track("dml_1", 300)
	require.EqualValues(t, 300, r.watermark(), "frozen channels do not hold the watermark back")
	for _, pos := range r.positions(time.Now()) {
		require.Equal(t, pos.channel != "dml_1", pos.retired, pos.channel)
	}
}

// TestWaitsSkipChannelsTheRunNeverRead: a collection dropped right after
// the task was created may name a channel the run never started reading
// (nothing live uses it). Its drop, and what waits behind it, must not wait
// for that channel; a channel a live collection uses is waited for even
// before its worker starts.
func TestWaitsSkipChannelsTheRunNeverRead(t *testing.T) {
	shortWaitBounds(t, time.Minute, time.Hour, time.Hour)
	r, _ := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	r.progress.track("dml_0", 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, r.waitChannels(ctx, "DropCollection of default.gone", []string{"dml_0", "dml_7"}, 500),
		"dml_7: untracked, no live collection on it")
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	require.ErrorIs(t, r.waitChannels(short, "CreateIndex on default.orders", []string{"dml_1"}, 500), context.DeadlineExceeded,
		"dml_1 carries a live collection: waited for until its worker reports")

	// The drop barrier follows the same rule: the drop message arrived on
	// dml_0; dml_7 is never read, so the drop is applied.
	applied := false
	require.NoError(t, r.drops.arrive(ctx, "gone", "DropCollection of default.gone", "dml_0", []string{"dml_0", "dml_7"}, 500,
		func() error { applied = true; return nil }))
	require.True(t, applied)
	err := r.drops.arrive(short, "users", "DropCollection of default.users", "dml_0", []string{"dml_0", "dml_1"}, 2000,
		func() error { return nil })
	require.ErrorIs(t, err, context.DeadlineExceeded, "dml_1 carries a live collection: the drop waits for it")
}

// TestAStalledWaitShowsAndGivesUp: an operation waiting for a channel that
// makes no progress shows in the status as stalled (what waits for which
// channel), and after the give-up bound is applied anyway and counted.
func TestAStalledWaitShowsAndGivesUp(t *testing.T) {
	shortWaitBounds(t, 200*time.Millisecond, 1500*time.Millisecond, time.Hour)
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	p := &Pipeline{spec: corelib.TaskSpec{ID: "t1"}, r: r.run, cancel: func() {}, stage: "replicating", src: fakeReplicateSource{}, health: newHealth()}
	r.useHealth(p.health)
	r.progress.track("dml_0", 100)
	r.progress.track("dml_1", 100)
	done := make(chan error, 1)
	go func() {
		done <- r.applyOperation(context.Background(), &milvuspb.LoadCollectionRequest{DbName: "db1", CollectionName: "orders", ReplicaNumber: 1}, 500)
	}()
	waitFor(t, "the stalled state", func() bool { return p.Status().State == stateStalled })
	st := p.Status()
	require.False(t, st.Replicating)
	require.Len(t, st.Waiting, 1)
	require.Equal(t, "LoadCollection on db1.orders", st.Waiting[0].What)
	require.Equal(t, []string{"dml_0", "dml_1"}, st.Waiting[0].Channels)
	require.Contains(t, st.Detail, "stalled: LoadCollection on db1.orders waits for source channel dml_0, dml_1 to pass")

	r.progress.advance("dml_1", 600) // progress on one channel: not given up yet
	require.NoError(t, <-done, "given up in the end")
	require.Contains(t, rec.Calls(), "LoadCollection db1.orders", "applied anyway")
	require.Equal(t, stateRunning, p.Status().State)
	skips := p.Status().Skipped
	require.Len(t, skips, 1)
	require.Equal(t, gaveUpReason, skips[0].Reason)
	require.True(t, skips[0].InScope)
}
