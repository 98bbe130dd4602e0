//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/milvus"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// TestWriterModeMismatchIsRefused: a task whose writer mode does not fit the
// target's mode is refused at creation with an error naming the setting to
// change; nothing is stored. The bed's target is the mismatching one (a
// replicate task against the api target, an api task against the replica).
// The source Milvus is no target at all: a task replicating it to itself is
// refused as a loop, naming source.milvus.address, before any connection.
func TestWriterModeMismatchIsRefused(t *testing.T) {
	bed := RequireBed(t)
	d := StartDaemon(t, bed)
	coll := UniqueName("e2e_mode")

	type refusal struct {
		name, target, mode, setting string
		cdcCode                     int
		restStatus                  int
		restCode, restField         string
	}
	cases := []refusal{
		{"the source itself", bed.SourceAddr, WriterModeReplicate, "source.milvus.address", 400, http.StatusUnprocessableEntity, "validation_failed", "target.uri"},
	}
	if bed.TargetMode() == WriterModeReplicate {
		cases = append(cases, refusal{"api against a replica", bed.TargetAddr, WriterModeAPI, "common.ttMsgEnabled=true", 500, http.StatusUnprocessableEntity, "target_mode", "writerMode"})
	} else {
		cases = append(cases, refusal{"replicate against the api target", bed.TargetAddr, WriterModeReplicate, "common.ttMsgEnabled=false", 500, http.StatusUnprocessableEntity, "target_mode", "writerMode"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, msg, _ := d.CDCRaw(t, "create", map[string]any{
				"milvus_connect_param": map[string]any{"uri": "http://" + tc.target, "connect_timeout": 10},
				"collection_infos":     []any{map[string]any{"name": coll}},
				"writer_mode":          tc.mode,
			})
			require.Equal(t, tc.cdcCode, code, "/cdc create: %s", msg)
			require.Contains(t, msg, tc.setting, "the error names the setting to change")

			body, _ := json.Marshal(map[string]any{
				"target":     map[string]any{"uri": "http://" + tc.target, "connectTimeoutSeconds": 10},
				"scope":      []any{map[string]any{"database": "default", "collection": coll}},
				"writerMode": tc.mode,
			})
			resp, err := http.Post("http://"+d.addr+"/api/v1/tasks", "application/json", bytes.NewReader(body))
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tc.restStatus, resp.StatusCode, "%s", raw)
			var p struct{ Code, Field, Detail string }
			require.NoError(t, json.Unmarshal(raw, &p))
			require.Equal(t, tc.restCode, p.Code)
			require.Equal(t, tc.restField, p.Field)
			require.Contains(t, p.Detail, tc.setting)
		})
	}
	var list struct {
		Tasks []any `json:"tasks"`
	}
	d.getJSON(t, "/api/v1/tasks", &list)
	require.Empty(t, list.Tasks, "a refused task is not stored")
}

// TestReplicaServesQueriesWhileReplicating (replicate beds): while the task
// runs, the replica answers queries with the source's rows, deletes reach it,
// and it is an exact replica: the collection carries the source's creation
// timestamp.
func TestReplicaServesQueriesWhileReplicating(t *testing.T) {
	bed := RequireBed(t)
	if bed.TargetMode() != WriterModeReplicate {
		t.Skip("needs a target in replicate mode (make e2e TARGET_MODE=replicate)")
	}
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_replica"))
	coll := schema.CollectionName
	id := d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})

	replicatedCollection(t, ctx, src, dst, schema, 2)

	// Rows arrive in batches; after each, the replica answers with all of them
	// while the task keeps running.
	for i := 0; i < 3; i++ {
		require.NoError(t, insertInto(ctx, src, schema, "", i*1000, 1000, 500))
		want := int64((i + 1) * 1000)
		Eventually(t, ctx, catchUp, time.Second, "target counts the rows", func(ctx context.Context) (bool, string, error) {
			n, err := CountRows(ctx, dst, coll)
			return err == nil && n == want, "target rows: " + itoa(n), err
		})
		state, reason := d.TaskState(t, id)
		require.Equal(t, "Running", state, reason)
	}
	require.NoError(t, src.Delete(ctx, coll, "", inExpr(int64Range(0, 100))))
	Eventually(t, ctx, catchUp, time.Second, "target equals source after deletes", SameCollection(src, dst, coll, coll))
	n, err := CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, 2900, n)

	// Paused, the replica gets neither rows nor time ticks: an eventually
	// consistent count still answers (a strong one would wait for resume).
	d.CDC(t, "pause", map[string]any{"task_id": id})
	require.NoError(t, insertInto(ctx, src, schema, "", 3000, 500, 500))
	time.Sleep(5 * time.Second)
	require.EqualValues(t, 2900, countEventually(t, ctx, dst, coll), "nothing reaches the replica while the task is paused")
	d.CDC(t, "resume", map[string]any{"task_id": id})
	Eventually(t, ctx, catchUp, time.Second, "changes made while paused", SameCollection(src, dst, coll, coll))
	n, err = CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, 3400, n)

	srcTs, dstTs := createdTimestamp(t, ctx, src, coll), createdTimestamp(t, ctx, dst, coll)
	require.NotZero(t, srcTs)
	require.Equal(t, srcTs, dstTs, "the replica's collection has the source's creation timestamp")
}

func createdTimestamp(t *testing.T, ctx context.Context, c client.Client, coll string) uint64 {
	t.Helper()
	gc, ok := c.(*client.GrpcClient)
	require.True(t, ok)
	resp, err := gc.Service.DescribeCollection(ctx, &milvuspb.DescribeCollectionRequest{CollectionName: coll})
	require.NoError(t, err)
	require.Zero(t, resp.GetStatus().GetCode(), resp.GetStatus().GetReason())
	return resp.GetCreatedTimestamp()
}

// countEventually is count(*) at consistency level Eventually: it does not
// wait for the replica's time ticks.
func countEventually(t *testing.T, ctx context.Context, c client.Client, coll string) int64 {
	t.Helper()
	rs, err := c.Query(ctx, coll, nil, "", []string{"count(*)"}, client.WithSearchQueryConsistencyLevel(entity.ClEventually))
	require.NoError(t, err)
	col := rs.GetColumn("count(*)")
	require.NotNil(t, col, "count(*) column")
	require.Equal(t, 1, col.Len())
	n, err := col.GetAsInt64(0)
	require.NoError(t, err)
	return n
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestReplicaShardCountMismatchIsRefused (replicate beds): a collection in the
// task's scope that already exists on the replica with another shard count
// cannot be replicated shard by shard, so the task is refused at creation.
func TestReplicaShardCountMismatchIsRefused(t *testing.T) {
	bed := RequireBed(t)
	if bed.TargetMode() != WriterModeReplicate {
		t.Skip("needs a target in replicate mode (make e2e TARGET_MODE=replicate)")
	}
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_shards"))
	coll := schema.CollectionName
	require.NoError(t, CreateCollection(ctx, src, schema, 2))
	DropCollectionOnCleanup(t, src, coll)
	require.NoError(t, CreateCollection(ctx, dst, schema, 1)) // DDL is allowed on a replica
	DropCollectionOnCleanup(t, dst, coll)

	code, msg, _ := d.CDCRaw(t, "create", map[string]any{
		"milvus_connect_param": map[string]any{"uri": "http://" + bed.TargetAddr, "connect_timeout": 10},
		"collection_infos":     []any{map[string]any{"name": coll}},
		"writer_mode":          WriterModeReplicate,
	})
	require.Equal(t, 500, code, msg)
	require.Contains(t, msg, "has 2 shards on the source and 1 on the target")
}

// TestReplicaTicksCollectionsTheTaskHasNotWritten (replicate beds): a
// replica's only clock is the task's ticks, and its query node subscribes
// to one channel at a time. A collection left loading on the replica by a
// writer that stopped ticking (another tool, an earlier task) waits on its
// channel, and every load behind it waits too. The task ticks every channel
// that carries a collection: the foreign collection finishes loading before
// the task has written anything, the task's own collection loads behind it,
// and after a restart the idle collection answers strong reads.
func TestReplicaTicksCollectionsTheTaskHasNotWritten(t *testing.T) {
	bed := RequireBed(t)
	if bed.TargetMode() != WriterModeReplicate {
		t.Skip("needs a target in replicate mode (make e2e TARGET_MODE=replicate)")
	}
	ctx := context.Background()
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)

	foreign := UniqueName("e2e_foreign")
	loadWithoutTicks(t, ctx, bed, foreign)
	time.Sleep(5 * time.Second)
	state, err := dst.GetLoadState(ctx, foreign, nil)
	require.NoError(t, err)
	require.Equal(t, entity.LoadStateLoading, state, "without ticks on its channel the replica does not finish the load")

	// The task's collection exists on the source before the task, so the
	// task reads its channels (and has a watermark to tick with) from the
	// start, but it has written nothing to the replica yet.
	d := StartDaemon(t, bed)
	schema := AllTypesSchema(UniqueName("e2e_idle"))
	coll := schema.CollectionName
	require.NoError(t, CreateCollection(ctx, src, schema, 1))
	DropCollectionOnCleanup(t, src, coll)
	d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})
	Eventually(t, ctx, 60*time.Second, time.Second, "the foreign collection loads once the task runs", targetLoaded(dst, foreign))

	require.NoError(t, EnsureLoaded(ctx, src, coll))
	Eventually(t, ctx, catchUp, time.Second, "target loads "+coll, targetLoaded(dst, coll))
	require.NoError(t, insertInto(ctx, src, schema, "", 0, 500, 500))
	Eventually(t, ctx, catchUp, time.Second, "target counts the rows", func(ctx context.Context) (bool, string, error) {
		n, err := CountRows(ctx, dst, coll)
		return err == nil && n == 500, "target rows: " + itoa(n), err
	})

	d.Stop(t)
	d.Start(t)
	// Nothing is written after the restart: only the task's ticks move the
	// replica's clock past the strong read's guarantee.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := CountRows(rctx, dst, coll)
	require.NoError(t, err, "a strong read of an idle collection after a restart")
	require.EqualValues(t, 500, n)
}

// loadWithoutTicks creates, indexes and loads a collection on the replica
// through a replicate writer that never ticks and is closed at once: the
// replica's query node is left waiting on the collection's channel.
func loadWithoutTicks(t *testing.T, ctx context.Context, bed *Bed, name string) {
	t.Helper()
	w, err := (&milvus.ReplicaFactory{}).Open(ctx, corelib.Target{URI: bed.TargetAddr, ConnectTimeout: 30 * time.Second},
		sink.Env{Log: zap.NewNop(), Call: func(ctx context.Context, _ string, fn func(context.Context) error) error { return fn(ctx) }, Background: func(string, error) {}})
	require.NoError(t, err)
	defer w.Close()
	now := func() uint64 { return source.ComposeTSByTime(time.Now()) }
	id := time.Now().UnixNano() & 0xffffffffff
	info := &source.Collection{
		ID: id, DBID: 1, Name: name, CreateTime: now(), ShardsNum: 1,
		VirtualChannels: []string{fmt.Sprintf("foreign-dml_0_%dv0", id)}, PhysicalChannels: []string{"foreign-dml_0"},
		ConsistencyLevel: commonpb.ConsistencyLevel_Strong, State: metapb.CollectionState_CollectionCreated,
		Schema: &schemapb.CollectionSchema{Name: name, Fields: []*schemapb.FieldSchema{
			{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true},
			{FieldID: 101, Name: "vec", DataType: schemapb.DataType_FloatVector, TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: "4"}}},
		}},
		Partitions: map[int64]*source.Partition{id*10 + 1: {ID: id*10 + 1, CollectionID: id, Name: "_default", State: metapb.PartitionState_PartitionCreated}},
	}
	coll := &sink.Collection{ID: id, Database: "default", Name: name, TargetDatabase: "default", TargetName: name, Info: info}
	for _, op := range []sink.Op{
		&sink.CreateCollection{At: sink.At{Ts: info.CreateTime}, Coll: coll},
		&sink.CreateIndex{At: sink.At{Ts: now()}, Coll: coll, Field: "vec", Index: "vec_idx",
			Params: []*commonpb.KeyValuePair{{Key: "index_type", Value: "FLAT"}, {Key: "metric_type", Value: "L2"}}},
		&sink.LoadCollection{At: sink.At{Ts: now()}, Coll: coll, Replicas: 1},
	} {
		require.NoError(t, w.Apply(ctx, op), "%s on the replica", op.Name())
	}
}
