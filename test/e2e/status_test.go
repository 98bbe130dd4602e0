//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
)

// restStatus is the part of GET /api/v1/tasks/{id}/status the tests read.
type restStatus struct {
	State    string `json:"state"`
	Pipeline *struct {
		State      string   `json:"state"`
		LagSeconds *float64 `json:"lagSeconds"`
		Channels   []struct {
			Channel    string   `json:"channel"`
			Kind       string   `json:"kind"`
			AppliedTs  uint64   `json:"appliedTs"`
			LatestTs   uint64   `json:"latestTs"`
			LagSeconds *float64 `json:"lagSeconds"`
		} `json:"channels"`
		Collections []struct {
			Name       string `json:"name"`
			Inserted   int64  `json:"rowsInserted"`
			Deleted    int64  `json:"rowsDeleted"`
			Upserted   int64  `json:"rowsUpserted"`
			Operations int64  `json:"operations"`
		} `json:"collections"`
	} `json:"pipeline"`
}

type restSynced struct {
	Synced      bool   `json:"synced"`
	SourceNowTs uint64 `json:"sourceNowTs"`
	Reason      string `json:"reason"`
}

func (d *Daemon) lag(t testing.TB, id string) float64 {
	t.Helper()
	var st restStatus
	d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
	require.NotNil(t, st.Pipeline, "a running task has a pipeline status")
	require.NotNil(t, st.Pipeline.LagSeconds, "lag is known: %+v", st.Pipeline)
	return *st.Pipeline.LagSeconds
}

// markerDelay writes one row and returns how long it takes to be queryable
// on the target.
func markerDelay(t *testing.T, ctx context.Context, src, dst client.Client, schema *entity.Schema, id int) time.Duration {
	t.Helper()
	start := time.Now()
	require.NoError(t, insertInto(ctx, src, schema, "", id, 1, 1))
	expr := fmt.Sprintf("%s == %d", FieldID, id)
	for time.Since(start) < time.Minute {
		rs, err := dst.Query(ctx, schema.CollectionName, nil, expr, []string{FieldID}, client.WithSearchQueryConsistencyLevel(entity.ClEventually))
		if err == nil && rs.GetColumn(FieldID) != nil && rs.GetColumn(FieldID).Len() == 1 {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("marker row %d did not reach the target within a minute", id)
	return 0
}

// TestStatusLagAndSynced checks the figures operators rely on: the lag is
// near zero on an idle source, tracks the measured end-to-end delay under a
// steady insert load, the row counts are exact, and synced turns true only
// once the last source write is visible on the target.
func TestStatusLagAndSynced(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_status"))
	coll := schema.CollectionName
	id := d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})

	replicatedCollection(t, ctx, src, dst, schema, 1)

	// (b) idle: time ticks keep the channel caught up, the lag stays small.
	Eventually(t, ctx, time.Minute, time.Second, "lag known", func(context.Context) (bool, string, error) {
		var st restStatus
		d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
		ok := st.Pipeline != nil && st.Pipeline.LagSeconds != nil && st.Pipeline.State == "running"
		return ok, fmt.Sprintf("%+v", st.Pipeline), nil
	})
	for i := 0; i < 6; i++ {
		lag := d.lag(t, id)
		t.Logf("idle poll %d: lag %.3fs", i, lag)
		require.Less(t, lag, 2.0, "an idle source counts as caught up")
		time.Sleep(time.Second)
	}

	// (a) steady load: 200 rows every 100 ms; every 2 s a marker row is
	// timed from the source write to its arrival on the target, and the
	// lag reported meanwhile is compared with that delay.
	const batch = 200
	// The load is stopped by a flag, not by cancelling its context: an
	// insert cancelled on the client can still be applied by the source,
	// and the row count below must be exact.
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		loadErr error
		written int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for next := 0; !stop.Load(); next += batch {
			if err := insertInto(ctx, src, schema, "", next, batch, batch); err != nil {
				loadErr = err
				return
			}
			written = next + batch
			time.Sleep(100 * time.Millisecond)
		}
	}()
	const markers = 5
	for i := 0; i < markers; i++ {
		time.Sleep(2 * time.Second)
		var reported float64
		var mu sync.Mutex
		done := make(chan struct{})
		go func() { // the largest lag reported while the marker is in flight
			for {
				l := d.lag(t, id)
				mu.Lock()
				reported = math.Max(reported, l)
				mu.Unlock()
				select {
				case <-done:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
		delay := markerDelay(t, ctx, src, dst, schema, 10_000_000+i)
		close(done)
		mu.Lock()
		got := reported
		mu.Unlock()
		t.Logf("marker %d: end-to-end delay %.3fs, reported lag up to %.3fs", i, delay.Seconds(), got)
		require.InDelta(t, delay.Seconds(), got, 3.0, "reported lag within a few seconds of the measured delay")
	}
	stop.Store(true)
	wg.Wait()
	require.NoError(t, loadErr)
	total := int64(written + markers)
	t.Logf("%d rows written under load", total)

	// (c) synced: true only once the target holds every source write.
	require.NoError(t, insertInto(ctx, src, schema, "", 20_000_000, 500, 500))
	total += 500
	var first restSynced
	d.getJSON(t, "/api/v1/tasks/"+id+"/synced?waitSeconds=0", &first)
	require.False(t, first.Synced, "without waiting, right after a write: %+v", first)
	require.NotZero(t, first.SourceNowTs)
	polls := 0
	Eventually(t, ctx, time.Minute, 100*time.Millisecond, "synced", func(ctx context.Context) (bool, string, error) {
		var s restSynced
		start := time.Now()
		d.getJSON(t, "/api/v1/tasks/"+id+"/synced", &s)
		t.Logf("synced=%v after %.2fs (%s)", s.Synced, time.Since(start).Seconds(), s.Reason)
		polls++
		if !s.Synced {
			return false, s.Reason, nil
		}
		n, err := CountRows(ctx, dst, coll)
		require.NoError(t, err)
		require.Equal(t, total, n, "synced is true only when the target holds every source row")
		return true, "", nil
	})
	t.Logf("synced after %d polls", polls)
	RequireSameCollection(t, ctx, src, dst, coll, coll)

	// The counts are exact, and the figures are in /metrics too.
	var st restStatus
	d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
	require.Len(t, st.Pipeline.Collections, 1)
	c := st.Pipeline.Collections[0]
	require.Equal(t, coll, c.Name)
	require.Equal(t, total, c.Inserted)
	require.Zero(t, c.Deleted)
	require.Positive(t, c.Operations)

	var cdcGet map[string]any
	out := d.CDC(t, "get", map[string]any{"task_id": id})
	cdcGet, _ = out["task"].(map[string]any)
	ps, _ := cdcGet["pipeline_status"].(map[string]any)
	require.NotNil(t, ps, "/cdc get carries the pipeline status: %v", cdcGet)
	require.Contains(t, ps, "lagSeconds")

	resp, err := http.Get("http://" + d.addr + "/metrics")
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(raw)
	require.Contains(t, metrics, `milvus_cdc_daemon_pipeline_lag_seconds{task_id="`+id+`"}`)
	require.Contains(t, metrics, fmt.Sprintf(`milvus_cdc_daemon_pipeline_rows_applied_total{op="insert",task_id="%s"} %d`, id, total))
	applyOp := "Insert" // the target call that writes new rows (upserts only replay a window after a restart)
	if bed.TargetMode() == WriterModeReplicate {
		applyOp = "ReplicateMessage"
	}
	require.True(t, strings.Contains(metrics, `milvus_cdc_daemon_pipeline_apply_duration_seconds_count{op="`+applyOp+`",task_id="`+id+`"}`))
	require.Contains(t, metrics, `milvus_cdc_daemon_pipeline_inflight_batches{task_id="`+id+`"}`)
	require.Contains(t, metrics, `milvus_cdc_daemon_pipeline_buffered_bytes{task_id="`+id+`"}`)
	require.Contains(t, metrics, `milvus_cdc_daemon_pipeline_channel_lag_seconds{channel="`+bed.ReplicateChannel+`",task_id="`+id+`"}`)

	// The replicate channel is in the status with a lag, and caught up
	// (the index build and load above were applied).
	var rc *float64
	for _, c := range st.Pipeline.Channels {
		if c.Kind == "replicate" {
			require.Equal(t, bed.ReplicateChannel, c.Channel)
			rc = c.LagSeconds
		}
	}
	require.NotNil(t, rc, "replicate channel lag in %+v", st.Pipeline.Channels)
	require.Less(t, *rc, 2.0)
}
