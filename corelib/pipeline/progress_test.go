package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

func TestProgressWaitAll(t *testing.T) {
	r := newRun(zap.NewNop(), newHealth(), nil, newMetaView(testSnapshot()), nil, "_default")
	p := r.progress
	p.track("a", 10)
	p.track("b", 0)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, r.waitChannels(ctx, "op", nil, 100), "nothing to wait for")
	require.NoError(t, r.waitChannels(ctx, "op", []string{"a"}, 10))

	done := make(chan error, 1)
	go func() { done <- r.waitChannels(ctx, "op", []string{"a", "b"}, 20) }()
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
	require.ErrorIs(t, r.waitChannels(short, "op", []string{"dml_1"}, 1), context.DeadlineExceeded,
		"an untracked channel a live collection uses is waited for")
	require.NoError(t, r.waitChannels(ctx, "op", []string{"untracked"}, 1),
		"an untracked channel no live collection uses can bring nothing")
}

func TestBarrierAppliesOnceAfterEveryChannel(t *testing.T) {
	b := newBarrier(newProgress())
	var applied atomic.Int32
	apply := func() error { applied.Add(1); return nil }
	channels := []string{"dml_0", "dml_1", "dml_2"}

	var wg sync.WaitGroup
	errs := make(chan error, len(channels))
	for _, c := range channels[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- b.arrive(context.Background(), "drop-1", "drop", c, channels, 100, apply)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	require.EqualValues(t, 0, applied.Load(), "no drop before the last shard arrived")

	require.NoError(t, b.arrive(context.Background(), "drop-1", "drop", "dml_2", channels, 100, apply))
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, applied.Load())
}

func TestBarrierWaiterGivesUpWithContext(t *testing.T) {
	b := newBarrier(newProgress())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.arrive(ctx, "k", "drop", "a", []string{"a", "b"}, 100, func() error { return nil })
	require.ErrorIs(t, err, context.Canceled)
}

// A channel whose reader started after its copy of the drop message never
// delivers it; once it has applied past the drop's timestamp it counts as
// arrived. Before that, and for a drop of unknown timestamp, it does not.
func TestBarrierCountsAChannelPastTheDropAsArrived(t *testing.T) {
	tests := []struct {
		name    string
		dropTs  uint64
		otherAt uint64 // what dml_1 applies while dml_0 waits
		applied bool
	}{
		{"other channel applied past the drop", 100, 150, true},
		{"other channel exactly at the drop", 100, 100, true},
		{"other channel still before the drop", 100, 99, false},
		{"drop timestamp unknown", 0, 150, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProgress()
			p.track("dml_0", 0)
			p.track("dml_1", 0)
			b := newBarrier(p)
			var applied atomic.Int32
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- b.arrive(ctx, "drop", "drop", "dml_0", []string{"dml_0", "dml_1"}, tt.dropTs, func() error { applied.Add(1); return nil })
			}()
			time.Sleep(20 * time.Millisecond)
			p.advance("dml_1", tt.otherAt) // wakes the waiter
			err := <-done
			if tt.applied {
				require.NoError(t, err)
				require.EqualValues(t, 1, applied.Load())
				return
			}
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Zero(t, applied.Load())
		})
	}
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

// watermarkSink records the watermarks a run hands its writer.
type watermarkSink struct {
	sink.Writer
	got []uint64
}

func (w *watermarkSink) Watermark(ts uint64) { w.got = append(w.got, ts) }

func TestWatermarkIsTheLowestAppliedChannel(t *testing.T) {
	ws := &watermarkSink{}
	r := &run{progress: newProgress(), w: ws}
	r.progress.track("src-a", 0)
	r.progress.track("src-b", 0)
	require.Zero(t, r.watermark(), "no watermark before every channel applied a pack")
	r.advanced("src-a", 100)
	require.Empty(t, ws.got)
	r.advanced("src-b", 50)
	require.Equal(t, []uint64{50}, ws.got)
	r.advanced("src-a", 200)
	require.Equal(t, []uint64{50, 50}, ws.got, "a lagging channel holds the watermark back")
	r.advanced("src-b", 150)
	require.EqualValues(t, 150, r.watermark())
	require.Equal(t, []uint64{50, 50, 150}, ws.got)
}
