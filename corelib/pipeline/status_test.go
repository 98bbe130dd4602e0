package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/stream"
)

func at(m dataMsg, ts uint64) dataMsg { m.ts = ts; return m }

func TestApplyPackCountsRowsByOperation(t *testing.T) {
	// ops counts the source operations applied for "orders" (its
	// CreateCollection, and each insert, delete or upsert message).
	tests := []struct {
		name                             string
		msgs                             []dataMsg
		inserted, deleted, upserted, ops int64
		usersDeleted                     int64
	}{
		{"inserts merged into one call", []dataMsg{at(insert(10, "db1", "orders", "_default", 1, 2), 100), at(insert(10, "db1", "orders", "_default", 3), 101)}, 3, 0, 0, 3, 0},
		{"a delete alone", []dataMsg{at(del(10, "orders", 1, 2), 100)}, 0, 2, 0, 2, 0},
		{"delete and insert at one ts are an upsert", []dataMsg{at(del(10, "orders", 1, 2), 100), at(insert(10, "db1", "orders", "_default", 1, 2), 100)}, 0, 0, 2, 2, 0},
		{"delete then insert at another ts", []dataMsg{at(del(10, "orders", 1), 100), at(insert(10, "db1", "orders", "_default", 5), 101)}, 1, 1, 0, 3, 0},
		{"upsert, then a plain insert", []dataMsg{at(del(10, "orders", 1), 100), at(insert(10, "db1", "orders", "_default", 1), 100), at(insert(10, "db1", "orders", "_default", 7, 8), 102)}, 2, 0, 1, 3, 0},
		{"delete of another collection at the insert's ts", []dataMsg{at(del(12, "users", 1), 100), at(insert(10, "db1", "orders", "_default", 1), 100)}, 1, 0, 0, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
			require.NoError(t, r.applyPack(context.Background(), "dml_0", tt.msgs))
			byID := map[int64]corelib.CollectionStatus{}
			for _, c := range r.colls.statuses() {
				byID[c.ID] = c
			}
			got := byID[10]
			require.Equal(t, "orders", got.Name)
			require.Equal(t, "db1", got.Database)
			require.Equal(t, tt.inserted, got.Inserted, "inserted")
			require.Equal(t, tt.deleted, got.Deleted, "deleted")
			require.Equal(t, tt.upserted, got.Upserted, "upserted")
			require.Equal(t, tt.ops, got.Operations, "operations")
			require.Equal(t, tt.usersDeleted, byID[12].Deleted, "users deleted")
		})
	}
}

func ts(t time.Time) uint64 { return source.ComposeTSByTime(t) }

func TestChannelStatusesAndLag(t *testing.T) {
	now := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		pos       []channelPosition
		saved     map[string]corelib.Checkpoint
		rp        replicatePosition
		wantLag   map[string]float64 // channel → lag; absent = unknown
		caughtUp  map[string]bool
		wantTotal *float64
	}{
		{
			name:      "idle channel applying ticks is caught up with the tick's age",
			pos:       []channelPosition{{channel: "dml_0", applied: ts(now.Add(-200 * time.Millisecond)), latest: ts(now.Add(-200 * time.Millisecond))}},
			wantLag:   map[string]float64{"dml_0": 0.2},
			caughtUp:  map[string]bool{"dml_0": true},
			wantTotal: ptr(0.2),
		},
		{
			name: "restarted from a checkpoint: the checkpoint's age until it catches up",
			pos: []channelPosition{
				{channel: "dml_0", applied: ts(now.Add(-90 * time.Second)), latest: ts(now.Add(-80 * time.Second))},
				{channel: "dml_1", applied: ts(now.Add(-time.Second)), latest: ts(now.Add(-time.Second))},
			},
			saved:     map[string]corelib.Checkpoint{"dml_0": {Timestamp: ts(now.Add(-90 * time.Second))}},
			wantLag:   map[string]float64{"dml_0": 90, "dml_1": 1},
			caughtUp:  map[string]bool{"dml_0": false, "dml_1": true},
			wantTotal: ptr(90),
		},
		{
			name:     "a channel opened at its end has no position until its first pack",
			pos:      []channelPosition{{channel: "dml_0"}},
			wantLag:  map[string]float64{},
			caughtUp: map[string]bool{"dml_0": false},
		},
		{
			name:      "an idle replicate channel is caught up with no lag",
			pos:       []channelPosition{{channel: "dml_0", applied: ts(now.Add(-time.Second)), latest: ts(now.Add(-time.Second))}},
			saved:     map[string]corelib.Checkpoint{"rpc": {Channel: "rpc", Timestamp: ts(now.Add(-time.Hour))}},
			rp:        replicatePosition{tracked: true, applied: ts(now.Add(-time.Hour)), caughtUp: true},
			wantLag:   map[string]float64{"dml_0": 1, "rpc": 0},
			caughtUp:  map[string]bool{"dml_0": true, "rpc": true},
			wantTotal: ptr(1),
		},
		{
			name:      "an operation waiting on the replicate channel counts in the task lag",
			pos:       []channelPosition{{channel: "dml_0", applied: ts(now.Add(-time.Second)), latest: ts(now.Add(-time.Second))}},
			saved:     map[string]corelib.Checkpoint{"rpc": {Channel: "rpc", Timestamp: ts(now.Add(-time.Hour))}},
			rp:        replicatePosition{tracked: true, latest: ts(now.Add(-7 * time.Second)), lag: 7},
			wantLag:   map[string]float64{"dml_0": 1, "rpc": 7},
			caughtUp:  map[string]bool{"dml_0": true, "rpc": false},
			wantTotal: ptr(7),
		},
		{
			name:      "the replicate channel is listed without a lag until its worker runs",
			pos:       []channelPosition{{channel: "dml_0", applied: ts(now.Add(-time.Second)), latest: ts(now.Add(-time.Second))}},
			saved:     map[string]corelib.Checkpoint{"rpc": {Channel: "rpc", Timestamp: ts(now.Add(-time.Hour))}},
			wantLag:   map[string]float64{"dml_0": 1},
			caughtUp:  map[string]bool{"dml_0": true, "rpc": false},
			wantTotal: ptr(1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chs := channelStatuses(tt.pos, tt.rp, tt.saved, "rpc", now)
			require.Len(t, chs, len(tt.caughtUp))
			for _, c := range chs {
				require.Equal(t, tt.caughtUp[c.Channel], c.CaughtUp, c.Channel)
				require.Equal(t, tt.saved[c.Channel].Timestamp, c.CheckpointTs, c.Channel)
				want, known := tt.wantLag[c.Channel]
				if !known {
					require.Nil(t, c.LagSeconds, c.Channel)
					continue
				}
				require.NotNil(t, c.LagSeconds, c.Channel)
				require.InDelta(t, want, *c.LagSeconds, 0.001, c.Channel)
				if c.Channel == "rpc" {
					require.Equal(t, channelKindReplicate, c.Kind)
				} else {
					require.Equal(t, channelKindData, c.Kind)
				}
			}
			total := maxLag(chs)
			if tt.wantTotal == nil {
				require.Nil(t, total)
			} else {
				require.NotNil(t, total)
				require.InDelta(t, *tt.wantTotal, *total, 0.001)
			}
		})
	}
}

func ptr(f float64) *float64 { return &f }

func TestSyncReport(t *testing.T) {
	now := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	nowTs := ts(now)
	tests := []struct {
		name    string
		running bool
		stage   string
		pos     []channelPosition
		rs      *replicateSync
		synced  bool
		reason  string
	}{
		{"every channel past the source clock", true, "replicating", []channelPosition{{channel: "a", applied: nowTs + 1}, {channel: "b", applied: nowTs}}, nil, true, ""},
		{"one channel behind", true, "replicating", []channelPosition{{channel: "a", applied: nowTs + 1}, {channel: "b", applied: nowTs - 1}}, nil, false, "1 of 2 data channels"},
		{"not running", false, "stopped", []channelPosition{{channel: "a", applied: nowTs + 1}}, nil, false, "not running"},
		{"still starting", true, "connecting to the target", nil, nil, false, "not replicating yet"},
		{"idle replicate channel", true, "replicating", []channelPosition{{channel: "a", applied: nowTs}}, &replicateSync{channel: "rpc", idle: true}, true, ""},
		{"operation pending on the replicate channel", true, "replicating", []channelPosition{{channel: "a", applied: nowTs}}, &replicateSync{channel: "rpc"}, false, "replicate channel rpc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := syncReport(nowTs, now, tt.running, tt.stage, tt.pos, tt.rs)
			require.Equal(t, tt.synced, rep.Synced)
			require.Contains(t, rep.Reason, tt.reason)
			require.Equal(t, nowTs, rep.SourceNowTs)
			if tt.rs == nil {
				require.Len(t, rep.Channels, len(tt.pos))
			} else {
				require.Len(t, rep.Channels, len(tt.pos)+1)
				last := rep.Channels[len(rep.Channels)-1]
				require.Equal(t, tt.rs.channel, last.Channel)
				require.Equal(t, tt.rs.idle, last.Synced)
			}
		})
	}
}

// TestSyncedWaitsForTheSourceClock: the source clock is ahead of the
// applied ticks; Synced answers true once the channels pass it within the
// deadline, false when they do not.
func TestSyncedWaitsForTheSourceClock(t *testing.T) {
	now := time.Now()
	r, _ := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	r.progress.track("dml_0", ts(now.Add(-time.Second)))
	p := &Pipeline{r: r.run, cancel: func() {}, stage: "replicating", clock: func(context.Context) (time.Time, error) { return now, nil }}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rep, err := p.Synced(ctx)
	require.NoError(t, err)
	require.False(t, rep.Synced, "the channel is a second behind the source clock")

	go func() {
		time.Sleep(50 * time.Millisecond)
		r.progress.advance("dml_0", ts(now.Add(200*time.Millisecond)))
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	start := time.Now()
	rep, err = p.Synced(ctx2)
	require.NoError(t, err)
	require.True(t, rep.Synced, rep.Reason)
	require.Less(t, time.Since(start), 2*time.Second, "answers as soon as the channel passes the clock")

	// An operation read from the replicate channel and not applied yet
	// holds synced back until it is applied.
	p.src = fakeReplicateSource{}
	r.progress.replicateTrack(0)
	r.progress.replicateRead(ts(now.Add(-time.Second)))
	ctx3, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	rep, err = p.Synced(ctx3)
	require.NoError(t, err)
	require.False(t, rep.Synced)
	require.Contains(t, rep.Reason, "replicate channel rpc")
	go func() {
		time.Sleep(50 * time.Millisecond)
		r.progress.replicateApplied(ts(now.Add(-time.Second)))
	}()
	ctx4, cancel4 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel4()
	rep, err = p.Synced(ctx4)
	require.NoError(t, err)
	require.True(t, rep.Synced, rep.Reason)
	require.Len(t, rep.Channels, 2)

	_, err = (&Pipeline{}).Synced(context.Background())
	require.ErrorIs(t, err, ErrNoSourceClock)
}

func TestMetricsExposeLagRowsAndErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	now := time.Now()
	m.now = func() time.Time { return now }

	r, _ := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	p := &Pipeline{spec: corelib.TaskSpec{ID: "t1"}, r: r.run, cancel: func() {}, stage: "replicating", src: fakeReplicateSource{}}
	p.health = newHealth()
	p.health.metrics = m.forTask("t1")
	r.useHealth(p.health)
	m.attach(p)
	r.progress.track("dml_0", ts(now.Add(-3*time.Second)))

	require.NoError(t, r.applyPack(context.Background(), "dml_0", []dataMsg{
		at(insert(10, "db1", "orders", "_default", 1, 2, 3), 10), at(del(10, "orders", 1), 11),
	}))
	r.health.failed(stageApply, context.DeadlineExceeded)
	r.progress.replicateTrack(ts(now.Add(-time.Hour)))
	r.progress.replicateRead(ts(now.Add(-2 * time.Second)))
	p.health.metrics.batchIn(300)
	p.health.metrics.batchIn(200)
	p.health.metrics.batchOut(300)

	got := gather(t, reg)
	tests := []struct {
		series string
		want   float64
	}{
		{`milvus_cdc_daemon_pipeline_rows_applied_total{op="insert",task_id="t1"}`, 3},
		{`milvus_cdc_daemon_pipeline_rows_applied_total{op="delete",task_id="t1"}`, 1},
		{`milvus_cdc_daemon_pipeline_errors_total{stage="apply",task_id="t1"}`, 1},
		{`milvus_cdc_daemon_pipeline_lag_seconds{task_id="t1"}`, 3},
		{`milvus_cdc_daemon_pipeline_channel_lag_seconds{channel="dml_0",task_id="t1"}`, 3},
		{`milvus_cdc_daemon_pipeline_channel_lag_seconds{channel="rpc",task_id="t1"}`, 2},
		{`milvus_cdc_daemon_pipeline_inflight_batches{task_id="t1"}`, 1},
		{`milvus_cdc_daemon_pipeline_buffered_bytes{task_id="t1"}`, 200},
		{`milvus_cdc_daemon_pipeline_state{state="retrying",task_id="t1"}`, 1},
		{`milvus_cdc_daemon_pipeline_apply_duration_seconds_count{op="Upsert",task_id="t1"}`, 1},
		{`milvus_cdc_daemon_pipeline_apply_duration_seconds_count{op="Delete",task_id="t1"}`, 1},
		{`milvus_cdc_daemon_pipeline_apply_duration_seconds_count{op="CreateCollection",task_id="t1"}`, 1},
	}
	for _, tt := range tests {
		v, ok := got[tt.series]
		require.True(t, ok, "%s missing from %v", tt.series, got)
		require.InDelta(t, tt.want, v, 0.001, tt.series)
	}

	m.detach(p)
	require.Empty(t, gather(t, reg), "a stopped pipeline leaves no series")

	var nilMetrics *Metrics
	nilMetrics.forTask("x").addRows("insert", 1) // records nothing, does not panic
	nilMetrics.attach(p)
	nilMetrics.detach(p)
}

// gather returns every sample of reg as `name{label="v",...}` → value
// (histograms as their _count).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"=\""+l.GetValue()+"\"")
			}
			name, v := mf.GetName(), 0.0
			switch {
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				name, v = name+"_count", float64(m.GetHistogram().GetSampleCount())
			}
			out[name+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

// fakeReplicateSource is a Source that only names its replicate channel.
type fakeReplicateSource struct{ Source }

func (fakeReplicateSource) ReplicateChannel() string { return "rpc" }

// TestStatusRightAfterARestart: before the channel workers start (the target
// may still be connecting), the lag is the stored checkpoint's age.
func TestStatusRightAfterARestart(t *testing.T) {
	now := time.Now()
	p := &Pipeline{cancel: func() {}, stage: "connecting to the target", src: fakeReplicateSource{}, health: newHealth(),
		saved: map[string]corelib.Checkpoint{
			"dml_0": {Channel: "dml_0", Timestamp: ts(now.Add(-42 * time.Second))},
			"rpc":   {Channel: "rpc", Timestamp: ts(now.Add(-time.Hour))},
		}}
	st := p.statusAt(now)
	require.Equal(t, stateRunning, st.State)
	require.False(t, st.Replicating)
	require.NotNil(t, st.LagSeconds)
	require.InDelta(t, 42, *st.LagSeconds, 0.01, "the replicate channel does not count")
	require.Len(t, st.Channels, 2)
	require.Equal(t, "dml_0", st.Channels[0].Channel)
	require.False(t, st.Channels[0].CaughtUp, "nothing read yet")
	require.Equal(t, channelKindReplicate, st.Channels[1].Kind)

	p.health.failed(stageRead, context.DeadlineExceeded)
	st = p.statusAt(now.Add(time.Second))
	require.Equal(t, stateRetrying, st.State)
	require.Equal(t, int64(1), st.Retries)
	require.Equal(t, stageRead, st.Error.Stage)
	require.InDelta(t, 43, *st.LagSeconds, 0.01, "the lag keeps growing while nothing is applied")

	p.cancel = nil
	require.Equal(t, stateStopped, p.statusAt(now).State)
}

// TestPipelineStatusThroughATargetOutage drives a whole pipeline: figures
// after a pack, retrying with the apply error (and a lag that does not
// shrink) while the target refuses writes, running again once it accepts.
func TestPipelineStatusThroughATargetOutage(t *testing.T) {
	src, store, rec := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder()
	now := time.Now()
	src.add(t, "dml_0", ts(now.Add(-10*time.Second)), insertMsg(ts(now.Add(-10*time.Second)), 11, "logs", 1, 2))
	p := newTestPipeline(src, store, rec, nil)
	require.NoError(t, p.Start(context.Background()))
	defer func() { require.NoError(t, p.Stop(context.Background())) }()
	waitFor(t, "rows 1-2 on the target", func() bool { return len(upserted(rec, "db1.logs")) == 2 })
	waitFor(t, "the first pack applied", func() bool {
		st := p.Status()
		return len(st.Channels) > 0 && st.Channels[0].CaughtUp
	})

	st := p.Status()
	require.Equal(t, stateRunning, st.State)
	require.Equal(t, "dml_0", st.Channels[0].Channel)
	require.Equal(t, ts(now.Add(-10*time.Second)), st.Channels[0].AppliedTs)
	require.InDelta(t, 10, *st.LagSeconds, 1)
	require.Equal(t, []corelib.CollectionStatus{{ID: 11, Database: "db1", Name: "logs", Inserted: 2, Operations: 2}}, st.Collections)

	rec.mu.Lock()
	rec.failures["Insert"] = 3 // 200 + 400 + 800 ms of backoff (a pack past the checkpoint is a plain insert)
	rec.mu.Unlock()
	src.add(t, "dml_0", ts(now.Add(-5*time.Second)), insertMsg(ts(now.Add(-5*time.Second)), 11, "logs", 3))
	waitFor(t, "the retrying state", func() bool { return p.Status().State == stateRetrying })
	st = p.Status()
	require.Equal(t, stageApply, st.Error.Stage)
	require.Contains(t, st.Error.Message, "target unavailable")
	require.False(t, st.Replicating, "nothing flows while the target refuses")
	require.Contains(t, st.Detail, "after an apply failure")
	require.Nil(t, st.Error.ResolvedAt)
	require.False(t, st.Channels[0].CaughtUp, "a pack was read and not applied")
	require.Equal(t, ts(now.Add(-5*time.Second)), st.Channels[0].LatestTs)
	require.GreaterOrEqual(t, *st.LagSeconds, 10.0, "the lag does not shrink while nothing is applied")

	waitFor(t, "recovery", func() bool { return p.Status().State == stateRunning && len(upserted(rec, "db1.logs")) == 3 })
	st = p.Status()
	require.EqualValues(t, 3, st.Retries)
	require.EqualValues(t, 3, st.Collections[0].Inserted)
	require.NotNil(t, st.Error, "the last error stays visible after recovery")
	require.NotNil(t, st.Error.ResolvedAt, "and says when it was resolved")
	require.True(t, st.Replicating)
}

// TestStatusSaysWhenTheTargetDoesNotAnswer: a call the target neither
// answers nor refuses (a frozen process) turns the status to stalled, names
// the call, and makes replicating false, until the answer comes.
func TestStatusSaysWhenTheTargetDoesNotAnswer(t *testing.T) {
	after := slowCallAfter
	slowCallAfter = 300 * time.Millisecond
	t.Cleanup(func() { slowCallAfter = after })
	src, store, rec := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder()
	now := time.Now()
	src.add(t, "dml_0", ts(now.Add(-3*time.Second)), insertMsg(ts(now.Add(-3*time.Second)), 11, "logs", 1))
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	p := newTestPipeline(src, store, rec, nil)
	p.metrics = m
	require.NoError(t, p.Start(context.Background()))
	defer func() { require.NoError(t, p.Stop(context.Background())) }()
	waitFor(t, "row 1 on the target", func() bool { return len(upserted(rec, "db1.logs")) == 1 && p.Status().Replicating })
	const unanswered = `milvus_cdc_daemon_pipeline_target_call_unanswered_seconds{task_id="t1"}`
	require.Zero(t, gather(t, reg)[unanswered])

	hold := make(chan struct{})
	rec.mu.Lock()
	rec.holds["Insert"] = hold
	rec.mu.Unlock()
	src.add(t, "dml_0", ts(now.Add(-2*time.Second)), insertMsg(ts(now.Add(-2*time.Second)), 11, "logs", 2))
	waitFor(t, "the stalled state", func() bool { return p.Status().State == stateStalled })
	st := p.Status()
	require.False(t, st.Replicating, "nothing flows while the target does not answer")
	require.Contains(t, st.Detail, "waiting on the target: Insert")
	require.Contains(t, st.Detail, "has had no answer for")
	require.GreaterOrEqual(t, gather(t, reg)[unanswered], 0.3)
	require.EqualValues(t, 1, gather(t, reg)[`milvus_cdc_daemon_pipeline_state{state="stalled",task_id="t1"}`])

	rec.mu.Lock()
	delete(rec.holds, "Insert")
	rec.mu.Unlock()
	close(hold)
	waitFor(t, "the answer", func() bool { return p.Status().Replicating && len(upserted(rec, "db1.logs")) == 2 })
	require.Equal(t, stateRunning, p.Status().State)
}

// TestStatusSaysWhenASourceChannelGoesSilent: a channel that carries a live
// collection and delivers nothing (its broker is down; the reader just
// waits) makes the status say so, and replicating false, until it delivers
// again.
func TestStatusSaysWhenASourceChannelGoesSilent(t *testing.T) {
	after := sourceSilenceAfter
	sourceSilenceAfter = 1500 * time.Millisecond
	t.Cleanup(func() { sourceSilenceAfter = after })
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	src, store, rec := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder()
	_, err = store.SaveCheckpoint(context.Background(), "t1", corelib.Checkpoint{Channel: "dml_0", Timestamp: 1})
	require.NoError(t, err)
	p := newTestPipeline(src, store, rec, nil)
	p.metrics = m
	require.NoError(t, p.Start(context.Background()))
	defer func() { require.NoError(t, p.Stop(context.Background())) }()

	waitFor(t, "the silence noticed", func() bool { return p.Status().State == stateRetrying })
	st := p.Status()
	require.False(t, st.Replicating)
	require.Contains(t, st.Detail, "nothing was delivered on source channel dml_0 for")
	require.Contains(t, st.Error.Message, "dml_0 delivered nothing")
	require.Equal(t, stageRead, st.Error.Stage)
	require.EqualValues(t, 1, gather(t, reg)[`milvus_cdc_daemon_pipeline_errors_total{stage="read",task_id="t1"}`])

	time.Sleep(1500 * time.Millisecond)
	require.EqualValues(t, 1, p.Status().Retries, "one silence is one failure, however long it lasts")

	src.add(t, "dml_0", ts(time.Now()), insertMsg(ts(time.Now()), 11, "logs", 1))
	waitFor(t, "the channel heard again", func() bool { return p.Status().Replicating })
	st = p.Status()
	require.Equal(t, stateRunning, st.State)
	require.NotNil(t, st.Error.ResolvedAt)
}

// TestSkipsShowInStatusMetricsAndSynced: what the pipeline does not replay
// is counted per reason in the status and the metrics, and a skip of
// something in scope makes synced false.
func TestSkipsShowInStatusMetricsAndSynced(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	r, _ := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	now := time.Now()
	p := &Pipeline{spec: corelib.TaskSpec{ID: "t1"}, r: r.run, cancel: func() {}, stage: "replicating", src: fakeReplicateSource{},
		health: newHealth(), clock: func(context.Context) (time.Time, error) { return now, nil }}
	p.health.metrics = m.forTask("t1")
	r.useHealth(p.health)
	m.attach(p)
	r.progress.track("dml_0", ts(now.Add(time.Second)))

	r.health.readerSkip(stream.Skip{Kind: stream.SkipUndecodable})
	r.health.readerSkip(stream.Skip{Kind: stream.SkipUndecodable})
	rep, err := p.Synced(context.Background())
	require.NoError(t, err)
	require.True(t, rep.Synced, "junk bytes belong to no collection: %s", rep.Reason)
	require.Equal(t, []corelib.SkipCount{{Reason: "undecodable message", Count: 2}}, rep.Skipped)

	r.health.readerSkip(stream.Skip{Kind: stream.SkipUnsupported, Type: commonpb.MsgType_Import})
	require.NoError(t, r.applyOperation(context.Background(), &milvuspb.CreateAliasRequest{DbName: "db1", CollectionName: "orders", Alias: "o"}, 1))
	require.NoError(t, r.applyOperation(context.Background(), &milvuspb.CreateAliasRequest{DbName: "db9", CollectionName: "x", Alias: "y"}, 1))
	want := []corelib.SkipCount{
		{Reason: "undecodable message", Count: 2},
		{Reason: "unsupported message Import", Count: 1, InScope: true},
		{Reason: "unsupported operation CreateAlias", Count: 2, InScope: true},
	}
	require.Equal(t, want, p.Status().Skipped)
	rep, err = p.Synced(context.Background())
	require.NoError(t, err)
	require.False(t, rep.Synced)
	require.Contains(t, rep.Reason, "unsupported message Import (1)")
	metrics := gather(t, reg)
	require.EqualValues(t, 2, metrics[`milvus_cdc_daemon_pipeline_skipped_total{reason="undecodable message",task_id="t1"}`])
	require.EqualValues(t, 2, metrics[`milvus_cdc_daemon_pipeline_skipped_total{reason="unsupported operation CreateAlias",task_id="t1"}`])
}

// TestStatusOnTheFirstPollAfterStart: Start returns with the stored
// checkpoints read, so a poll made at once (the target still connecting)
// already has each channel's position and lag, not nothing.
func TestStatusOnTheFirstPollAfterStart(t *testing.T) {
	now := time.Now()
	store := &memStore{cps: map[string]corelib.Checkpoint{}}
	_, err := store.SaveCheckpoint(context.Background(), "t1", corelib.Checkpoint{Channel: "dml_0", Timestamp: ts(now.Add(-42 * time.Second))})
	require.NoError(t, err)
	p := newTestPipeline(newFakeSource(), store, nil, nil)
	p.writer = hangingWriter{}
	require.NoError(t, p.Start(context.Background()))
	defer func() { require.NoError(t, p.Stop(context.Background())) }()
	st := p.Status()
	require.NotNil(t, st.LagSeconds, "%+v", st)
	require.InDelta(t, 42, *st.LagSeconds, 1)
	require.Len(t, st.Channels, 1)
	require.Equal(t, "dml_0", st.Channels[0].Channel)
}
