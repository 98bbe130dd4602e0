//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
)

// replicatedCollection creates schema's collection on the source (dropped at
// cleanup) and loads it, then waits until the running task has created and
// loaded it on the target, so that both sides can be queried.
func replicatedCollection(t *testing.T, ctx context.Context, src, dst client.Client, schema *entity.Schema, shards int32) {
	t.Helper()
	coll := schema.CollectionName
	require.NoError(t, CreateCollection(ctx, src, schema, shards))
	DropCollectionOnCleanup(t, src, coll)
	require.NoError(t, EnsureLoaded(ctx, src, coll))
	Eventually(t, ctx, catchUp, time.Second, "target loads "+coll, targetLoaded(dst, coll))
}

func targetLoaded(dst client.Client, coll string) Condition {
	return func(ctx context.Context) (bool, string, error) {
		s, err := dst.GetLoadState(ctx, coll, nil)
		return err == nil && s == entity.LoadStateLoaded, fmt.Sprint("target load state: ", s), err
	}
}

// TestKillDuringInsertsLosesAndDuplicatesNothing kills the daemon with
// SIGKILL in the middle of a stream of inserts; after a restart the target
// must hold exactly the source's rows.
func TestKillDuringInsertsLosesAndDuplicatesNothing(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_kill"))
	coll := schema.CollectionName
	d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})

	replicatedCollection(t, ctx, src, dst, schema, 2)

	// 40 batches of 250 rows, one every 100 ms, in the background.
	const batches, batch = 40, 250
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := 0; i < batches; i++ {
			if err := insertInto(ctx, src, schema, "", i*batch, batch, batch); err != nil {
				done <- err
				return
			}
			written.Add(batch)
			time.Sleep(100 * time.Millisecond)
		}
		done <- nil
	}()
	for written.Load() < batches*batch/3 {
		time.Sleep(20 * time.Millisecond)
	}
	d.Kill(t)
	t.Logf("daemon killed after %d of %d rows were written to the source", written.Load(), batches*batch)
	time.Sleep(2 * time.Second) // the stream goes on while the daemon is down
	d.Start(t)
	require.NoError(t, <-done)

	Eventually(t, ctx, catchUp, time.Second, "target equals source after the restart", SameCollection(src, dst, coll, coll))
	n, err := CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, batches*batch, n, "no row missing, none duplicated")
}

// TestPauseHoldsChangesUntilResume: changes made while a task is paused do
// not reach the target; after resume they all do.
func TestPauseHoldsChangesUntilResume(t *testing.T) {
	bed := RequireBed(t)
	SkipInReplicateMode(t, bed, "a paused task sends a replica no time ticks, so the strong-consistency count made while paused waits until resume; TestReplicaServesQueriesWhileReplicating checks pause with an eventually-consistent count")
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_pause"))
	coll := schema.CollectionName
	id := d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})

	require.NoError(t, CreateCollection(ctx, src, schema, 1))
	DropCollectionOnCleanup(t, src, coll)
	require.NoError(t, EnsureLoaded(ctx, src, coll))
	require.NoError(t, insertInto(ctx, src, schema, "", 0, 1_000, 500))
	Eventually(t, ctx, catchUp, time.Second, "first 1000 rows", SameCollection(src, dst, coll, coll))

	d.CDC(t, "pause", map[string]any{"task_id": id})
	state, _ := d.TaskState(t, id)
	require.Equal(t, "Paused", state)
	require.NoError(t, insertInto(ctx, src, schema, "", 1_000, 1_000, 500))
	require.NoError(t, src.Delete(ctx, coll, "", inExpr(int64Range(0, 100))))
	time.Sleep(5 * time.Second)
	n, err := CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, 1_000, n, "nothing reaches the target while the task is paused")

	d.CDC(t, "resume", map[string]any{"task_id": id})
	state, _ = d.TaskState(t, id)
	require.Equal(t, "Running", state)
	Eventually(t, ctx, catchUp, time.Second, "changes made while paused", SameCollection(src, dst, coll, coll))
	n, err = CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, 1_900, n)
}

// TestScopedTaskWithNameMapping: a task scoped to one collection replicates
// only that collection, under the name the mapping gives it.
func TestScopedTaskWithNameMapping(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	wanted := AllTypesSchema(UniqueName("e2e_scoped"))
	other := AllTypesSchema(UniqueName("e2e_unscoped"))
	mapped := wanted.CollectionName + "_mapped"
	d.CreateTask(t, map[string]any{
		"db_collections": map[string]any{"default": []any{map[string]any{"name": wanted.CollectionName}}},
		"name_mapping": []any{map[string]any{
			"source_db": "default", "target_db": "default",
			"collection_mapping": map[string]any{wanted.CollectionName: mapped},
		}},
	})
	DropCollectionOnCleanup(t, dst, mapped)

	for _, s := range []*entity.Schema{wanted, other} {
		require.NoError(t, CreateCollection(ctx, src, s, 1))
		DropCollectionOnCleanup(t, src, s.CollectionName)
		require.NoError(t, EnsureLoaded(ctx, src, s.CollectionName))
		require.NoError(t, insertInto(ctx, src, s, "", 0, 2_000, 1_000))
	}
	Eventually(t, ctx, catchUp, time.Second, "target loads "+mapped, targetLoaded(dst, mapped))
	Eventually(t, ctx, catchUp, time.Second, "rows under the mapped name", SameCollection(src, dst, wanted.CollectionName, mapped))

	for _, name := range []string{wanted.CollectionName, other.CollectionName} {
		has, err := dst.HasCollection(ctx, name)
		require.NoError(t, err)
		require.False(t, has, "%s must not exist on the target", name)
	}
}
