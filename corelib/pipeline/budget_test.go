package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestBudgetBoundsThePackBytesHeldAtOnce(t *testing.T) {
	tests := []struct {
		name     string
		capacity int64
		held     []int64 // taken before the acquire under test, in order
		want     int64
		// freeAfter gives back the first held entry after this long (0: never).
		freeAfter    time.Duration
		wantWaited   bool
		wantOverrun  bool
		wantCanceled bool
	}{
		{name: "room: no wait", capacity: 100, held: []int64{40}, want: 60},
		{name: "an empty budget takes a pack larger than itself", capacity: 100, want: 500},
		{name: "full: waits until room is given back", capacity: 100, held: []int64{80}, want: 30, freeAfter: 50 * time.Millisecond, wantWaited: true},
		{name: "a pack larger than the budget waits for it to empty", capacity: 100, held: []int64{10}, want: 500, freeAfter: 50 * time.Millisecond, wantWaited: true},
		{name: "full for too long: goes over rather than wait for ever", capacity: 100, held: []int64{80}, want: 30, wantWaited: true, wantOverrun: true},
		{name: "a run that ends stops the wait", capacity: 100, held: []int64{100}, want: 1, wantWaited: true, wantCanceled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBudget(tt.capacity, prometheus.NewRegistry())
			require.NoError(t, err)
			b.maxWait = 300 * time.Millisecond
			var releases []func()
			for _, n := range tt.held {
				rel, err := b.acquire(context.Background(), n)
				require.NoError(t, err)
				releases = append(releases, rel)
			}
			if tt.freeAfter > 0 {
				go func() { time.Sleep(tt.freeAfter); releases[0]() }()
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.wantCanceled {
				go func() { time.Sleep(50 * time.Millisecond); cancel() }()
			}
			before := b.Used()
			rel, err := b.acquire(ctx, tt.want)
			if tt.wantCanceled {
				require.ErrorIs(t, err, context.Canceled)
				require.Equal(t, before, b.Used(), "a canceled wait takes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, map[bool]float64{true: 1, false: 0}[tt.wantWaited], testutil.ToFloat64(b.waits))
			require.Equal(t, map[bool]float64{true: 1, false: 0}[tt.wantOverrun], testutil.ToFloat64(b.overruns))
			if !tt.wantOverrun && tt.want <= tt.capacity {
				require.LessOrEqual(t, b.Used(), tt.capacity)
			}
			rel()
			rel() // giving back twice gives back once
			for _, r := range releases {
				r()
			}
			require.Zero(t, b.Used())
			require.Zero(t, testutil.ToFloat64(b.usedG))
		})
	}
}

func TestANilBudgetBoundsNothing(t *testing.T) {
	var b *Budget
	rel, err := b.acquire(context.Background(), 1<<40)
	require.NoError(t, err)
	rel()
	require.Zero(t, b.Used())
}
