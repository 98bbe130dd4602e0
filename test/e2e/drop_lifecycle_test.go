//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// How long the target may take to show an index or a load the source has,
// and how long it may lag before a status that says "replicating" with no
// error is a false claim.
const (
	ddlArrival = 2 * time.Minute
	stallBound = 30 * time.Second
)

// debugDaemonEnv makes a daemon serve /debug/pprof and log at debug level,
// so a stall can be looked at from the inside.
var debugDaemonEnv = []string{"MILVUS_CDC_DEBUG_PPROF=true", "MILVUS_CDC_LOG_LEVEL=debug"}

// binarySchema is a small collection with a binary vector: an Int64 key, a
// VarChar and a 64-bit BINARY_VECTOR.
func binarySchema(name string) *entity.Schema {
	return &entity.Schema{
		CollectionName: name,
		Description:    "milvus-cdc e2e: binary vector",
		Fields: []*entity.Field{
			entity.NewField().WithName(FieldID).WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true).WithIsAutoID(false),
			entity.NewField().WithName(FieldVarChar).WithDataType(entity.FieldTypeVarChar).WithMaxLength(varCharMaxLen),
			entity.NewField().WithName(FieldBinVector).WithDataType(entity.FieldTypeBinaryVector).WithDim(64),
		},
	}
}

func loadStateOf(coll string) func(context.Context, client.Client) (string, error) {
	return func(ctx context.Context, c client.Client) (string, error) {
		s, err := c.GetLoadState(ctx, coll, nil)
		return fmt.Sprint(s), err
	}
}

func indexOf(coll, field string) func(context.Context, client.Client) (string, error) {
	return func(ctx context.Context, c client.Client) (string, error) {
		return indexSummary(ctx, c, coll, field)
	}
}

func partitionsOf(coll string) func(context.Context, client.Client) (string, error) {
	return func(ctx context.Context, c client.Client) (string, error) {
		names, err := partitionNames(ctx, c, coll)
		return fmt.Sprint(names), err
	}
}

func databaseAbsent(c client.Client, db string) Condition {
	return func(ctx context.Context) (bool, string, error) {
		dbs, err := c.ListDatabases(ctx)
		names := []string{}
		for _, x := range dbs {
			names = append(names, x.Name)
		}
		return !slices.Contains(names, db), fmt.Sprint("target databases: ", names), err
	}
}

// targetEndsAsSource waits until the target has the source collection's
// index (on field), load state and rows (key by key, with values), within
// bound from since. Meanwhile the status must not claim that all is well
// once the target lagged stallBound behind: it fails the test with what the
// status said and, when the target never caught up, the pipeline's
// channel positions and goroutine stacks.
func targetEndsAsSource(t *testing.T, ctx context.Context, d *Daemon, id string, w *StatusWatch, since time.Time,
	src, dst client.Client, coll, field string, bound time.Duration) {
	t.Helper()
	conds := []struct {
		what string
		cond Condition
	}{
		{"index on " + coll, sameState(src, dst, "index", indexOf(coll, field))},
		{"load state of " + coll, sameState(src, dst, "load state", loadStateOf(coll))},
		{"rows of " + coll, SameCollection(src, dst, coll, coll)},
	}
	var failed error
	for _, c := range conds {
		left := bound - time.Since(since)
		if err := WaitFor(ctx, max(left, time.Second), time.Second, c.cond); err != nil {
			failed = fmt.Errorf("%s did not reach the target within %s: %w", c.what, bound, err)
			break
		}
		t.Logf("%s arrived %.1fs after the source call", c.what, time.Since(since).Seconds())
	}
	caughtUp := time.Now()
	lies := w.HealthyClaims(since.Add(stallBound), caughtUp)
	if failed != nil {
		d.LogPipelineState(t, id)
	}
	var msgs []string
	if failed != nil {
		msgs = append(msgs, failed.Error())
	}
	if len(lies) > 0 {
		msgs = append(msgs, fmt.Sprintf("while the target lagged more than %s behind, %d of %d status polls said all is well, e.g. %s",
			stallBound, len(lies), len(w.Between(since.Add(stallBound), caughtUp)), lies[len(lies)-1]))
	}
	if len(msgs) > 0 {
		t.Fatal(strings.Join(msgs, "\n"))
	}
}

// streamWhileKilled writes count rows of schema (batches of batch rows every
// 100 ms) and kills the daemon with SIGKILL a third of the way through,
// restarting it 2 s later while the stream goes on.
func streamWhileKilled(t *testing.T, ctx context.Context, d *Daemon, c client.Client, schema *entity.Schema, from, count, batch int) {
	t.Helper()
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		for start := from; start < from+count; start += batch {
			if err := insertInto(ctx, c, schema, "", start, batch, batch); err != nil {
				done <- err
				return
			}
			written.Add(int64(batch))
			time.Sleep(100 * time.Millisecond)
		}
		done <- nil
	}()
	for written.Load() < int64(count/3) {
		time.Sleep(20 * time.Millisecond)
	}
	d.Kill(t)
	t.Logf("daemon killed after %d of %d streamed rows", written.Load(), count)
	time.Sleep(2 * time.Second)
	d.Start(t)
	require.NoError(t, <-done)
}

// eventuallySynced waits until the task's synced check says the target holds
// every write the source acknowledged: a channel no collection uses any more
// must not hold it back forever.
func eventuallySynced(t *testing.T, ctx context.Context, d *Daemon, id string) {
	t.Helper()
	Eventually(t, ctx, time.Minute, time.Second, "task synced", func(context.Context) (bool, string, error) {
		var s restSynced
		d.getJSON(t, "/api/v1/tasks/"+id+"/synced?waitSeconds=5", &s)
		return s.Synced, s.Reason, nil
	})
}

// collectionChannels are the physical channels the source gave a collection.
func collectionChannels(t *testing.T, ctx context.Context, c client.Client, coll string) []string {
	t.Helper()
	desc, err := c.DescribeCollection(ctx, coll)
	require.NoError(t, err)
	chs := slices.Clone(desc.PhysicalChannels)
	slices.Sort(chs)
	return slices.Compact(chs)
}

// TestCollectionAfterADatabaseDropGetsItsIndexAndLoad runs a database's
// whole life through one catch-all task (a two-shard collection with every
// field type, a partition, inserts, index, load, flush, delete, upsert, a
// daemon killed with SIGKILL during a stream, pause and resume, release,
// partition drop, collection drop, database drop), then creates a two-shard
// binary-vector collection in the default database with rows, an index and
// a load. The target must end with that collection's index, load state and
// every row, and while it lags the status must not say all is well.
//
// The dropped collection's source channels carry nothing more once it is
// gone (Milvus stops ticking a physical channel no collection uses), which
// is what an operation waiting for those channels must survive.
func TestCollectionAfterADatabaseDropGetsItsIndexAndLoad(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed, debugDaemonEnv...)
	id := d.CreateTask(t, map[string]any{"db_collections": map[string]any{"*": []any{map[string]any{"name": "*"}}}})
	w := d.WatchStatus(t, id, time.Second)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	step := func(what string, cond Condition) {
		t.Helper()
		t0 := time.Now()
		Eventually(t, ctx, catchUp, time.Second, what, cond)
		t.Logf("%-50s target matched after %s", what, time.Since(t0).Round(100*time.Millisecond))
	}

	// 1. A database and its whole life.
	db := UniqueName("e2e_stall_db")
	require.NoError(t, src.CreateDatabase(ctx, db))
	t.Cleanup(func() { _ = dst.DropDatabase(context.Background(), db) })
	step("create database "+db, func(ctx context.Context) (bool, string, error) {
		ok, msg, err := databaseAbsent(dst, db)(ctx)
		return !ok, msg, err
	})
	srcDB, dstDB := connectDB(t, ctx, bed.SourceAddr, db), connectDB(t, ctx, bed.TargetAddr, db)
	schemaC := AllTypesSchema(UniqueName("e2e_stall_c"))
	c := schemaC.CollectionName
	require.NoError(t, CreateCollection(ctx, srcDB, schemaC, 2))
	require.NoError(t, srcDB.CreatePartition(ctx, c, "p1"))
	step("partition "+c+".p1", sameState(srcDB, dstDB, "partitions", partitionsOf(c)))
	for b := 0; b < 5; b++ { // 10k rows in 5 batches, alternating partitions
		part := ""
		if b%2 == 1 {
			part = "p1"
		}
		require.NoError(t, insertInto(ctx, srcDB, schemaC, part, b*2_000, 2_000, 2_000))
	}
	ivf, err := entity.NewIndexIvfFlat(entity.L2, 16)
	require.NoError(t, err)
	require.NoError(t, srcDB.CreateIndex(ctx, c, FieldFloatVector, ivf, false))
	require.NoError(t, srcDB.LoadCollection(ctx, c, false))
	step("index on "+c, sameState(srcDB, dstDB, "index", indexOf(c, FieldFloatVector)))
	step("load "+c, sameState(srcDB, dstDB, "load state", loadStateOf(c)))
	step("10000 rows of "+c, SameCollection(srcDB, dstDB, c, c))
	t.Logf("%s.%s uses source channels %v", db, c, collectionChannels(t, ctx, srcDB, c))

	require.NoError(t, srcDB.Flush(ctx, c, false))
	require.NoError(t, srcDB.Delete(ctx, c, "", inExpr(int64Range(0, 500))))
	require.NoError(t, upsertWithValuesOf(ctx, srcDB, schemaC, int64Range(1_000, 1_100), 900_000))
	step("flush, delete 500, upsert 100", SameCollection(srcDB, dstDB, c, c))

	streamWhileKilled(t, ctx, d, srcDB, schemaC, 10_000, 10_000, 250)
	step("10000 rows streamed through a SIGKILL", SameCollection(srcDB, dstDB, c, c))

	d.CDC(t, "pause", map[string]any{"task_id": id})
	require.NoError(t, insertInto(ctx, srcDB, schemaC, "", 20_000, 500, 500))
	d.CDC(t, "resume", map[string]any{"task_id": id})
	step("500 rows written while paused", SameCollection(srcDB, dstDB, c, c))

	require.NoError(t, srcDB.ReleaseCollection(ctx, c))
	step("release "+c, sameState(srcDB, dstDB, "load state", loadStateOf(c)))
	require.NoError(t, srcDB.DropPartition(ctx, c, "p1"))
	step("drop partition p1", sameState(srcDB, dstDB, "partitions", partitionsOf(c)))
	require.NoError(t, srcDB.DropCollection(ctx, c))
	step("drop collection "+c, gone(dstDB, c))
	require.NoError(t, src.DropDatabase(ctx, db))
	step("drop database "+db, databaseAbsent(dst, db))

	// 2. The next collection, in the default database.
	schemaB := binarySchema(UniqueName("e2e_stall_b"))
	b := schemaB.CollectionName
	require.NoError(t, CreateCollection(ctx, src, schemaB, 2))
	DropCollectionOnCleanup(t, src, b)
	DropCollectionOnCleanup(t, dst, b)
	t.Logf("%s uses source channels %v", b, collectionChannels(t, ctx, src, b))
	require.NoError(t, insertInto(ctx, src, schemaB, "", 0, 1_000, 1_000))
	binFlat, err := entity.NewIndexBinFlat(entity.HAMMING, 1)
	require.NoError(t, err)
	require.NoError(t, src.CreateIndex(ctx, b, FieldBinVector, binFlat, false))
	require.NoError(t, src.LoadCollection(ctx, b, false))
	since := time.Now()
	step("create "+b, func(ctx context.Context) (bool, string, error) {
		ok, err := dst.HasCollection(ctx, b)
		return ok, fmt.Sprint("target has it: ", ok), err
	})
	targetEndsAsSource(t, ctx, d, id, w, since, src, dst, b, FieldBinVector, ddlArrival)
	eventuallySynced(t, ctx, d, id)
}

// dropMessageTs reads a source channel directly and returns the timestamp of
// the DropCollection message of collection id (0 when there is none yet).
func dropMessageTs(t *testing.T, ctx context.Context, bed *Bed, channel string, id int64) uint64 {
	t.Helper()
	r, err := bed.NewChannelReader()
	require.NoError(t, err)
	defer r.Close()
	var ts uint64
	require.NoError(t, r.ReadAll(ctx, channel, func(m Message) bool {
		typ, _, err := DecodeHeader(m.Payload)
		if err != nil || typ != commonpb.MsgType_DropCollection {
			return true
		}
		var drop msgpb.DropCollectionRequest
		if proto.Unmarshal(m.Payload, &drop) == nil && drop.GetCollectionID() == id {
			ts = drop.GetBase().GetTimestamp()
			return false
		}
		return true
	}))
	return ts
}

// waitApplied waits until the task's status shows every named data channel
// applied up to ts: by then the pipeline has handled what the channel held
// before ts.
func waitApplied(t *testing.T, ctx context.Context, d *Daemon, id string, channels []string, ts uint64, bound time.Duration) {
	t.Helper()
	Eventually(t, ctx, bound, time.Second, fmt.Sprintf("channels %v applied up to %d", channels, ts), func(context.Context) (bool, string, error) {
		var st restStatus
		d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
		if st.Pipeline == nil {
			return false, "no pipeline", nil
		}
		applied := map[string]uint64{}
		for _, c := range st.Pipeline.Channels {
			applied[c.Channel] = c.AppliedTs
		}
		for _, ch := range channels {
			if applied[ch] < ts {
				return false, fmt.Sprintf("applied: %v", applied), nil
			}
		}
		return true, "", nil
	})
}

// TestDropAndRecreateUnderTheSameNameWhilePaused: a two-shard collection
// with 100 replicated rows; the task is paused; 20,000 more rows, a drop, a
// new collection with the same name and schema, 3,000 rows (other keys),
// an index and a load, all while paused; then resume. The old collection's
// backlog and its drop replay after the new collection exists on the
// source: the target must end as the source is (the new collection, its
// index, its load state, exactly its rows), also once the old collection's
// drop has been handled, and the status must not say all is well while the
// target lags.
func TestDropAndRecreateUnderTheSameNameWhilePaused(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed, debugDaemonEnv...)
	id := d.CreateTask(t, map[string]any{"db_collections": map[string]any{"*": []any{map[string]any{"name": "*"}}}})
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_recreate"))
	coll := schema.CollectionName
	DropCollectionOnCleanup(t, src, coll)
	DropCollectionOnCleanup(t, dst, coll)

	require.NoError(t, CreateCollection(ctx, src, schema, 2))
	oldDesc, err := src.DescribeCollection(ctx, coll)
	require.NoError(t, err)
	oldChannels := collectionChannels(t, ctx, src, coll)
	require.NoError(t, insertInto(ctx, src, schema, "", 0, 100, 100))
	Eventually(t, ctx, catchUp, time.Second, "the first 100 rows applied", func(context.Context) (bool, string, error) {
		var st restStatus
		d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
		if st.Pipeline == nil {
			return false, "no pipeline", nil
		}
		for _, c := range st.Pipeline.Collections {
			if c.Name == coll && c.Inserted == 100 {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("collections: %+v", st.Pipeline.Collections), nil
	})

	d.CDC(t, "pause", map[string]any{"task_id": id})
	require.NoError(t, insertInto(ctx, src, schema, "", 100, 20_000, 2_000))
	require.NoError(t, src.DropCollection(ctx, coll))
	require.NoError(t, CreateCollection(ctx, src, schema, 2))
	newDesc, err := src.DescribeCollection(ctx, coll)
	require.NoError(t, err)
	t.Logf("%s: old collection id %d on %v, new id %d on %v", coll, oldDesc.ID, oldChannels, newDesc.ID, collectionChannels(t, ctx, src, coll))
	require.NoError(t, insertInto(ctx, src, schema, "", 50_000, 3_000, 1_000))
	ivf, err := entity.NewIndexIvfFlat(entity.L2, 16)
	require.NoError(t, err)
	require.NoError(t, src.CreateIndex(ctx, coll, FieldFloatVector, ivf, false))
	require.NoError(t, src.LoadCollection(ctx, coll, false))

	w := d.WatchStatus(t, id, time.Second)
	d.CDC(t, "resume", map[string]any{"task_id": id})
	since := time.Now()
	targetEndsAsSource(t, ctx, d, id, w, since, src, dst, coll, FieldFloatVector, catchUp)

	// The old collection's drop is on its channels after its backlog: once
	// the pipeline is past it the target must still be the source.
	dropTs := dropMessageTs(t, ctx, bed, oldChannels[0], oldDesc.ID)
	require.NotZero(t, dropTs, "the old collection's DropCollection message on %s", oldChannels[0])
	waitApplied(t, ctx, d, id, oldChannels, dropTs, catchUp)
	for _, c := range []Condition{
		sameState(src, dst, "index", indexOf(coll, FieldFloatVector)),
		sameState(src, dst, "load state", loadStateOf(coll)),
		SameCollection(src, dst, coll, coll),
	} {
		ok, msg, err := c(ctx)
		require.NoError(t, err, "after the old collection's drop was handled")
		require.True(t, ok, "after the old collection's drop was handled: %s", msg)
	}
	n, err := CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, 3_000, n, "exactly the new collection's rows")
	eventuallySynced(t, ctx, d, id)
}

// TestCollectionCreatedWhilePausedArrivesWhole: a task scoped to a
// collection that does not exist yet is paused; the collection is created
// (two shards), gets 1,000 rows, an index and a load, all while paused. The
// task has never read the collection's channels, so after resume it must
// read them from the collection's start, not from their current end: the
// target must end with every row, the index and the load state.
func TestCollectionCreatedWhilePausedArrivesWhole(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed, debugDaemonEnv...)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_paused_new"))
	coll := schema.CollectionName
	id := d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})
	DropCollectionOnCleanup(t, src, coll)
	DropCollectionOnCleanup(t, dst, coll)

	d.CDC(t, "pause", map[string]any{"task_id": id})
	require.NoError(t, CreateCollection(ctx, src, schema, 2))
	t.Logf("%s uses source channels %v", coll, collectionChannels(t, ctx, src, coll))
	require.NoError(t, insertInto(ctx, src, schema, "", 0, 1_000, 500))
	ivf, err := entity.NewIndexIvfFlat(entity.L2, 16)
	require.NoError(t, err)
	require.NoError(t, src.CreateIndex(ctx, coll, FieldFloatVector, ivf, false))
	require.NoError(t, src.LoadCollection(ctx, coll, false))

	w := d.WatchStatus(t, id, time.Second)
	d.CDC(t, "resume", map[string]any{"task_id": id})
	targetEndsAsSource(t, ctx, d, id, w, time.Now(), src, dst, coll, FieldFloatVector, ddlArrival)
	n, err := CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, 1_000, n)
}

// TestRestartAfterTheLastCollectionOfAChannelWasDropped: a catch-all task
// replicates a two-shard collection of a database, the collection is
// dropped (its source channels then carry nothing more), and the daemon is
// restarted: it resumes those channels from their checkpoints, past the
// drop. Then the database is dropped and a new two-shard binary-vector
// collection gets rows, an index and a load. Nothing may wait for the
// channels of the dropped collection: the target must end as the source,
// the status must not say all is well while it lags, and the task must
// turn synced.
func TestRestartAfterTheLastCollectionOfAChannelWasDropped(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed, debugDaemonEnv...)
	id := d.CreateTask(t, map[string]any{"db_collections": map[string]any{"*": []any{map[string]any{"name": "*"}}}})
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)

	db := UniqueName("e2e_restart_db")
	require.NoError(t, src.CreateDatabase(ctx, db))
	t.Cleanup(func() { _ = dst.DropDatabase(context.Background(), db) })
	Eventually(t, ctx, catchUp, time.Second, "create database "+db, func(ctx context.Context) (bool, string, error) {
		ok, msg, err := databaseAbsent(dst, db)(ctx)
		return !ok, msg, err
	})
	srcDB, dstDB := connectDB(t, ctx, bed.SourceAddr, db), connectDB(t, ctx, bed.TargetAddr, db)
	schemaC := AllTypesSchema(UniqueName("e2e_restart_c"))
	c := schemaC.CollectionName
	require.NoError(t, CreateCollection(ctx, srcDB, schemaC, 2))
	require.NoError(t, EnsureLoaded(ctx, srcDB, c))
	require.NoError(t, insertInto(ctx, srcDB, schemaC, "", 0, 1_000, 500))
	Eventually(t, ctx, catchUp, time.Second, "target loads "+c, targetLoaded(dstDB, c))
	Eventually(t, ctx, catchUp, time.Second, "rows of "+c, SameCollection(srcDB, dstDB, c, c))
	t.Logf("%s.%s uses source channels %v", db, c, collectionChannels(t, ctx, srcDB, c))
	require.NoError(t, srcDB.DropCollection(ctx, c))
	Eventually(t, ctx, catchUp, time.Second, "drop of "+c, gone(dstDB, c))
	time.Sleep(2 * time.Second) // past the last tick of those channels, checkpointed
	d.Stop(t)
	d.Start(t)
	w := d.WatchStatus(t, id, time.Second)

	require.NoError(t, src.DropDatabase(ctx, db))
	schemaB := binarySchema(UniqueName("e2e_restart_b"))
	b := schemaB.CollectionName
	require.NoError(t, CreateCollection(ctx, src, schemaB, 2))
	DropCollectionOnCleanup(t, src, b)
	DropCollectionOnCleanup(t, dst, b)
	t.Logf("%s uses source channels %v", b, collectionChannels(t, ctx, src, b))
	require.NoError(t, insertInto(ctx, src, schemaB, "", 0, 1_000, 1_000))
	binFlat, err := entity.NewIndexBinFlat(entity.HAMMING, 1)
	require.NoError(t, err)
	require.NoError(t, src.CreateIndex(ctx, b, FieldBinVector, binFlat, false))
	require.NoError(t, src.LoadCollection(ctx, b, false))
	since := time.Now()
	Eventually(t, ctx, catchUp, time.Second, "drop of database "+db, databaseAbsent(dst, db))
	targetEndsAsSource(t, ctx, d, id, w, since, src, dst, b, FieldBinVector, ddlArrival)
	eventuallySynced(t, ctx, d, id)
}
