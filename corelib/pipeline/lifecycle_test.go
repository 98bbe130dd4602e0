package pipeline

import (
	"context"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// recreated adds to the test catalog collection "again" twice: id 20
// (dropped) and id 21 (live, created at 500 on dml_0 and dml_1).
func recreated(r *testReplicator) {
	schema := &schemapb.CollectionSchema{Name: "again", Fields: []*schemapb.FieldSchema{{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true}}}
	old := &source.Collection{ID: 20, DBID: 2, Name: "again", Schema: schema, ShardsNum: 2, CreateTime: 100,
		PhysicalChannels: []string{"dml_0", "dml_1"}, State: metapb.CollectionState_CollectionDropping, ConsistencyLevel: commonpb.ConsistencyLevel_Strong}
	fresh := &source.Collection{ID: 21, DBID: 2, Name: "again", Schema: schema, ShardsNum: 2, CreateTime: 500,
		PhysicalChannels: []string{"dml_0", "dml_1"}, State: metapb.CollectionState_CollectionCreated, ConsistencyLevel: commonpb.ConsistencyLevel_Strong}
	r.meta.apply(source.MetaEvent{Type: source.CollectionDropping, ID: 20, Collection: old})
	r.meta.apply(source.MetaEvent{Type: source.CollectionCreated, ID: 21, Collection: fresh})
}

// TestARecreatedNameKeepsTheNewCollection: with a backlog that still holds
// the old collection's rows and drop, the new collection of the same name is
// created fresh, the old one's rows and drop are skipped, and the target
// ends with the new collection's rows only.
func TestARecreatedNameKeepsTheNewCollection(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	recreated(r)
	r.resume = map[string]*source.Position{"dml_0": {Channel: "dml_0", Timestamp: 50}, "dml_1": {Channel: "dml_1", Timestamp: 50}}
	ctx := context.Background()
	drop := dataMsg{msg: &msgpb.DropCollectionRequest{Base: &commonpb.MsgBase{Timestamp: 400}, CollectionID: 20, DbName: "db1", CollectionName: "again"}}

	// The new collection's shard runs ahead of the old one's lagging shard.
	require.NoError(t, r.applyPackAs(ctx, "dml_1", []dataMsg{insert(21, "db1", "again", "_default", 7, 8)}, false))
	require.NoError(t, r.applyPackAs(ctx, "dml_0", []dataMsg{insert(20, "db1", "again", "_default", 1, 2), drop}, false))
	require.NoError(t, r.applyPackAs(ctx, "dml_1", []dataMsg{drop}, false))

	require.Equal(t, []string{
		"DropCollection db1.again",
		"CreateDatabase db1",
		"CreateCollection db1.again shards=2 consistency=Strong",
		"Insert db1.again._default rows=2",
	}, rec.Calls(), "created anew, the old collection's rows and drop skipped")
	require.Equal(t, []int64{7, 8}, rec.upserted["db1.again"])
	var skipped int64
	for _, s := range r.health.skips() {
		if s.Reason == "changes of a collection dropped on the source" {
			skipped = s.Count
			require.False(t, s.InScope)
		}
	}
	require.EqualValues(t, 1, skipped)
}

// TestARecreationAlreadyOnTheTargetIsKept: when a channel of the new
// collection is past its creation (an earlier run created it and wrote its
// rows), the target's collection is kept.
func TestARecreationAlreadyOnTheTargetIsKept(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	recreated(r)
	r.resume = map[string]*source.Position{"dml_0": {Channel: "dml_0", Timestamp: 50}, "dml_1": {Channel: "dml_1", Timestamp: 600}}
	require.NoError(t, r.applyPackAs(context.Background(), "dml_0", []dataMsg{insert(21, "db1", "again", "_default", 9)}, false))
	require.NotContains(t, rec.Calls(), "DropCollection db1.again")
	require.Contains(t, rec.Calls(), "CreateCollection db1.again shards=2 consistency=Strong")
}

// TestADroppedCollectionWithoutHeirIsDropped: the drop of a collection no
// live one replaces still drops the target collection, and its late rows are
// skipped.
func TestADroppedCollectionWithoutHeirIsDropped(t *testing.T) {
	r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	c, _ := r.meta.collection(12)
	gone := *c
	gone.State = metapb.CollectionState_CollectionDropping
	r.meta.apply(source.MetaEvent{Type: source.CollectionDropping, ID: 12, Collection: &gone})
	drop := dataMsg{msg: &msgpb.DropCollectionRequest{Base: &commonpb.MsgBase{Timestamp: 400}, CollectionID: 12, CollectionName: "users"}}
	require.NoError(t, r.applyPackAs(context.Background(), "dml_1", []dataMsg{insert(12, "", "users", "_default", 1), drop}, false))
	require.Equal(t, []string{"DropCollection default.users"}, rec.Calls())
}
