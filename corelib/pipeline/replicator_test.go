package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// catalog: database db1 (id 2) with collection "orders" (id 10, two shards on
// dml_0 and dml_1) and collection "logs" (id 11, one shard on dml_0); the
// default database with "users" (id 12, one shard on dml_1).
func testSnapshot() *source.Snapshot {
	schema := func(name string) *schemapb.CollectionSchema {
		return &schemapb.CollectionSchema{Name: name, Fields: []*schemapb.FieldSchema{
			{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true},
		}}
	}
	coll := func(id, db int64, name string, pch ...string) *source.Collection {
		return &source.Collection{ID: id, DBID: db, Name: name, Schema: schema(name), ShardsNum: int32(len(pch)),
			PhysicalChannels: pch, ConsistencyLevel: commonpb.ConsistencyLevel_Strong,
			Partitions: map[int64]*source.Partition{1: {ID: 1, CollectionID: id, Name: "_default"}}}
	}
	return &source.Snapshot{
		Databases: map[int64]*source.Database{1: {ID: 1, Name: "default"}, 2: {ID: 2, Name: "db1"}},
		Collections: map[int64]*source.Collection{
			10: coll(10, 2, "orders", "dml_0", "dml_1"),
			11: coll(11, 2, "logs", "dml_0"),
			12: coll(12, 1, "users", "dml_1"),
		},
	}
}

func insert(coll int64, db, name, partition string, ids ...int64) dataMsg {
	m := &msgpb.InsertRequest{
		CollectionID: coll, DbName: db, CollectionName: name, PartitionName: partition,
		NumRows: uint64(len(ids)), Version: msgpb.InsertDataVersion_ColumnBased,
		FieldsData: []*schemapb.FieldData{{FieldName: "id", Type: schemapb.DataType_Int64, Field: &schemapb.FieldData_Scalars{
			Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: ids}}}}}},
	}
	return dataMsg{msg: m, size: proto.Size(m)}
}

func del(coll int64, name string, ids ...int64) dataMsg {
	return dataMsg{msg: &msgpb.DeleteRequest{CollectionID: coll, CollectionName: name,
		PrimaryKeys: &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: ids}}}}}
}

func TestApplyPackMergesInsertsAndKeepsOrder(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	ctx := context.Background()
	err := r.applyPack(ctx, "dml_0", []dataMsg{
		insert(10, "db1", "orders", "_default", 1, 2),
		insert(10, "db1", "orders", "_default", 3),
		del(10, "orders", 2),
		insert(10, "db1", "orders", "p1", 4),
		insert(11, "db1", "logs", "_default", 5),
	})
	require.NoError(t, err)
	require.Equal(t, []string{
		"CreateDatabase db1",
		"CreateCollection db1.orders shards=2 consistency=Strong",
		"Upsert db1.orders._default rows=3",
		"Delete db1.orders. keys=[2]",
		"CreatePartition db1.orders.p1",
		"Upsert db1.orders.p1 rows=1",
		"CreateCollection db1.logs shards=1 consistency=Strong",
		"Upsert db1.logs._default rows=1",
	}, rec.Calls())
	require.Equal(t, []int64{1, 2, 3, 4}, rec.upserted["db1.orders"])
}

func TestApplyPackHonoursScopeAndMapping(t *testing.T) {
	mapping := NameMapping{{SourceDB: "db1", TargetDB: "db1", Collections: map[string]string{"orders": "orders_copy"}}}
	r, rec := newTestReplicator(map[string][]string{"db1": {"orders"}}, mapping)
	err := r.applyPack(context.Background(), "dml_0", []dataMsg{
		insert(11, "db1", "logs", "_default", 1),
		insert(10, "db1", "orders", "_default", 7),
		insert(12, "", "users", "_default", 8),
	})
	require.NoError(t, err)
	require.Equal(t, []string{
		"CreateDatabase db1",
		"CreateCollection db1.orders_copy shards=2 consistency=Strong",
		"Upsert db1.orders_copy._default rows=1",
	}, rec.Calls())
}

func TestApplyPackRetriesUntilTheTargetAccepts(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	rec.failures["Upsert"] = 2
	require.NoError(t, r.applyPack(context.Background(), "dml_1", []dataMsg{insert(12, "", "users", "_default", 1)}))
	require.Equal(t, []int64{1}, rec.upserted["default.users"], "written exactly once after two refusals")
	require.EqualValues(t, 2, r.health.retries)
	require.Contains(t, r.health.lastErr, "target unavailable")
}

func TestDropWaitsForEveryShard(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	drop := dataMsg{msg: &msgpb.DropCollectionRequest{CollectionID: 10, DbName: "db1", CollectionName: "orders"}}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		require.NoError(t, r.applyPack(ctx, "dml_0", []dataMsg{insert(10, "db1", "orders", "_default", 1), drop}))
	}()
	time.Sleep(100 * time.Millisecond)
	require.NotContains(t, rec.Calls(), "DropCollection db1.orders", "dml_1 has not delivered its drop yet")

	require.NoError(t, r.applyPack(ctx, "dml_1", []dataMsg{insert(10, "db1", "orders", "_default", 2), drop}))
	wg.Wait()
	calls := rec.Calls()
	require.Equal(t, "DropCollection db1.orders", calls[len(calls)-1])
	require.ElementsMatch(t, []int64{1, 2}, rec.upserted["db1.orders"], "rows of both shards precede the drop")

	// An index build that the replicate channel delivers after the drop does not recreate it.
	r.progress.track("dml_0", 100)
	r.progress.track("dml_1", 100)
	require.NoError(t, r.applyOperation(ctx, &milvuspb.CreateIndexRequest{DbName: "db1", CollectionName: "orders", FieldName: "vec"}, 50))
	require.Equal(t, calls, rec.Calls())
}

func TestOperationWaitsForDataBeforeIt(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.progress.track("dml_0", 0)
	r.progress.track("dml_1", 0)

	done := make(chan error, 1)
	go func() {
		done <- r.applyOperation(ctx, &milvuspb.FlushRequest{DbName: "db1", CollectionNames: []string{"orders"}}, 500)
	}()
	require.NoError(t, r.applyPack(ctx, "dml_0", []dataMsg{insert(10, "db1", "orders", "_default", 1)}))
	r.progress.advance("dml_0", 600)
	select {
	case <-done:
		t.Fatal("flush applied before shard dml_1 reached its timestamp")
	case <-time.After(50 * time.Millisecond):
	}
	r.progress.advance("dml_1", 501)
	require.NoError(t, <-done)
	calls := rec.Calls()
	require.Equal(t, "Flush db1.[orders]", calls[len(calls)-1])
	require.Contains(t, calls, "Upsert db1.orders._default rows=1")
}

func TestReplicateChannelDatabaseOps(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, NameMapping{{SourceDB: "db2", TargetDB: "db2_copy"}})
	ctx := context.Background()
	require.NoError(t, r.applyOperation(ctx, &milvuspb.CreateDatabaseRequest{DbName: "db2"}, 1))
	require.NoError(t, r.applyOperation(ctx, &milvuspb.DropDatabaseRequest{DbName: "db2"}, 2))
	require.NoError(t, r.applyOperation(ctx, &milvuspb.CreateCredentialRequest{Username: "u"}, 3))
	require.Equal(t, []string{"CreateDatabase db2_copy", "DropDatabase db2_copy"}, rec.Calls())
	require.Equal(t, []corelib.SkipCount{{Reason: "unsupported operation CreateCredential", Count: 1}}, r.health.skips(), "counted, and not in scope: the task does not replicate users")
}

func TestOperationWaitsForTheCatalogToKnowItsCollection(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.progress.track("dml_2", 100)

	done := make(chan error, 1)
	go func() {
		done <- r.applyOperation(ctx, &milvuspb.LoadCollectionRequest{DbName: "db1", CollectionName: "fresh", ReplicaNumber: 1}, 50)
	}()
	time.Sleep(50 * time.Millisecond)
	fresh := &source.Collection{ID: 20, DBID: 2, Name: "fresh", State: 0, ShardsNum: 1, PhysicalChannels: []string{"dml_2"},
		Schema: &schemapb.CollectionSchema{Name: "fresh", Fields: []*schemapb.FieldSchema{{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true}}}}
	r.meta.apply(source.MetaEvent{Type: source.CollectionCreated, ID: 20, Collection: fresh})
	require.NoError(t, <-done)
	require.Equal(t, []string{
		"CreateDatabase db1",
		"CreateCollection db1.fresh shards=1 consistency=Strong",
		"LoadCollection db1.fresh",
	}, rec.Calls())
}
