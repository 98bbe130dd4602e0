package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProgressWaitAll(t *testing.T) {
	p := newProgress()
	p.track("a", 10)
	p.track("b", 0)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, p.waitAll(ctx, nil, 100), "nothing to wait for")
	require.NoError(t, p.waitAll(ctx, []string{"a"}, 10))

	done := make(chan error, 1)
	go func() { done <- p.waitAll(ctx, []string{"a", "b"}, 20) }()
	p.advance("a", 25)
	select {
	case <-done:
		t.Fatal("returned before channel b reached 20")
	case <-time.After(50 * time.Millisecond):
	}
	p.advance("b", 20)
	require.NoError(t, <-done)

	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	require.ErrorIs(t, p.waitAll(short, []string{"untracked"}, 1), context.DeadlineExceeded)
}

func TestBarrierAppliesOnceAfterEveryChannel(t *testing.T) {
	b := newBarrier()
	var applied atomic.Int32
	apply := func() error { applied.Add(1); return nil }
	channels := []string{"dml_0", "dml_1", "dml_2"}

	var wg sync.WaitGroup
	errs := make(chan error, len(channels))
	for _, c := range channels[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- b.arrive(context.Background(), "drop-1", c, channels, apply)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	require.EqualValues(t, 0, applied.Load(), "no drop before the last shard arrived")

	require.NoError(t, b.arrive(context.Background(), "drop-1", "dml_2", channels, apply))
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, applied.Load())
}

func TestBarrierWaiterGivesUpWithContext(t *testing.T) {
	b := newBarrier()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.arrive(ctx, "k", "a", []string{"a", "b"}, func() error { return nil })
	require.ErrorIs(t, err, context.Canceled)
}

func TestReplicateProgressLag(t *testing.T) {
	now := time.Now()
	p := newProgress()
	require.False(t, p.replicatePosition(now).tracked)

	p.replicateTrack(ts(now.Add(-time.Hour)))
	rp := p.replicatePosition(now)
	require.True(t, rp.tracked)
	require.True(t, rp.caughtUp, "a silent replicate channel is caught up")
	require.Zero(t, rp.lag, "an hour-old checkpoint is no lag on a channel without ticks")

	p.replicateRead(ts(now.Add(-5 * time.Second)))
	rp = p.replicatePosition(now)
	require.False(t, rp.caughtUp)
	require.InDelta(t, 5, rp.lag, 0.01, "an operation waiting to be applied: its age")
	require.False(t, p.replicateIdle())

	p.replicateApplied(ts(now.Add(-5 * time.Second)))
	rp = p.replicatePosition(now)
	require.True(t, rp.caughtUp)
	require.Equal(t, ts(now.Add(-5*time.Second)), rp.applied)
	require.True(t, p.replicateIdle())

	p.replicateFailed(now.Add(-3 * time.Second))
	p.replicateFailed(now.Add(-time.Second)) // the first failure starts the clock
	rp = p.replicatePosition(now)
	require.False(t, rp.caughtUp)
	require.InDelta(t, 3, rp.lag, 0.01)
	require.False(t, p.replicateIdle())

	p.replicateRecovered()
	require.True(t, p.replicatePosition(now).caughtUp)
}
