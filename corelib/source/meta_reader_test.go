package source

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

const testRoot = "cdc-src/meta/"

func dbKey(id int64) string { return fmt.Sprintf("root-coord/database/db-info/%d", id) }
func collKey(db, id int64) string {
	return fmt.Sprintf("root-coord/database/collection-info/%d/%d", db, id)
}
func legacyCollKey(id int64) string  { return fmt.Sprintf("root-coord/collection/%d", id) }
func partKey(coll, id int64) string  { return fmt.Sprintf("root-coord/partitions/%d/%d", coll, id) }
func fieldKey(coll, id int64) string { return fmt.Sprintf("root-coord/fields/%d/%d", coll, id) }

func dbInfo(id int64, name string, state metapb.DatabaseState) *metapb.DatabaseInfo {
	return &metapb.DatabaseInfo{Id: id, Name: name, State: state, CreatedTime: 449000000000000000 + uint64(id), TenantId: ""}
}

func schemaBytes(name string) []byte {
	// As Milvus stores it: fields empty, they live under root-coord/fields/.
	b, _ := proto.Marshal(&schemapb.CollectionSchema{Name: name, Description: "desc of " + name})
	return b
}

func collInfo(db, id int64, name string, state metapb.CollectionState) *metapb.CollectionInfo {
	return &metapb.CollectionInfo{
		ID:                   id,
		DbId:                 db,
		Schema:               schemaBytes(name),
		CreateTime:           449000000000001000 + uint64(id),
		VirtualChannelNames:  []string{fmt.Sprintf("cdc-src-rootcoord-dml_0_%dv0", id), fmt.Sprintf("cdc-src-rootcoord-dml_1_%dv1", id)},
		PhysicalChannelNames: []string{"cdc-src-rootcoord-dml_0", "cdc-src-rootcoord-dml_1"},
		ShardsNum:            2,
		StartPositions: []*metapb.KeyDataPair{
			{Key: "cdc-src-rootcoord-dml_0", Data: []byte{8, byte(id), 16, 1}},
			{Key: "cdc-src-rootcoord-dml_1", Data: []byte{8, byte(id), 16, 2}},
		},
		ConsistencyLevel: int32(commonpb.ConsistencyLevel_Bounded),
		State:            state,
		Properties:       []*metapb.KeyValuePair{{Key: "collection.ttl.seconds", Value: "3600"}},
	}
}

func partInfo(coll, id int64, name string, state metapb.PartitionState) *metapb.PartitionInfo {
	return &metapb.PartitionInfo{PartitionID: id, PartitionName: name, CollectionId: coll, State: state, PartitionCreatedTimestamp: 449000000000002000 + uint64(id)}
}

// milvusFields are the fields Milvus stores for a collection with an auto-id
// primary key, a vector, a varchar and a dynamic schema: the two system
// fields first, then user fields from 100, then "$meta".
func milvusFields() []*schemapb.FieldSchema {
	return []*schemapb.FieldSchema{
		{FieldID: 0, Name: "RowID", DataType: schemapb.DataType_Int64},
		{FieldID: 1, Name: "Timestamp", DataType: schemapb.DataType_Int64},
		{FieldID: 100, Name: "pk", IsPrimaryKey: true, AutoID: true, DataType: schemapb.DataType_Int64},
		{FieldID: 101, Name: "vec", DataType: schemapb.DataType_FloatVector, TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: "8"}}},
		{FieldID: 102, Name: "title", DataType: schemapb.DataType_VarChar, TypeParams: []*commonpb.KeyValuePair{{Key: "max_length", Value: "64"}}},
		{FieldID: 103, Name: "$meta", DataType: schemapb.DataType_JSON, IsDynamic: true},
	}
}

// createCollection writes a collection the way rootcoord does: Creating with
// its fields and partitions, then Created.
func createCollection(rc *fakeRootCoord, db, id int64, name string, partIDs ...int64) {
	rc.save1(collKey(db, id), collInfo(db, id, name, metapb.CollectionState_CollectionCreating))
	kvs := map[string]proto.Message{}
	for _, f := range milvusFields() {
		kvs[fieldKey(id, f.GetFieldID())] = f
	}
	for i, pid := range partIDs {
		pname := "_default"
		if i > 0 {
			pname = fmt.Sprintf("p%d", i)
		}
		kvs[partKey(id, pid)] = partInfo(id, pid, pname, metapb.PartitionState_PartitionCreated)
	}
	rc.save(kvs)
	rc.save1(collKey(db, id), collInfo(db, id, name, metapb.CollectionState_CollectionCreated))
}

// dropCollection writes a drop the way rootcoord does: Dropping, then
// tombstones for partitions and fields, then for the collection key.
func dropCollection(rc *fakeRootCoord, db, id int64, partIDs ...int64) {
	rc.save1(collKey(db, id), collInfo(db, id, "", metapb.CollectionState_CollectionDropping))
	var keys []string
	for _, pid := range partIDs {
		keys = append(keys, partKey(id, pid))
	}
	for _, f := range milvusFields() {
		keys = append(keys, fieldKey(id, f.GetFieldID()))
	}
	rc.remove(keys...)
	rc.remove(collKey(db, id))
}

func newTestReader(t *testing.T, cli *clientv3.Client) *MetaReader {
	r, err := NewMetaReader(cli, MetaConfig{RootPath: "cdc-src"}, zap.NewNop())
	require.NoError(t, err)
	r.retryMin, r.retryMax = 10*time.Millisecond, 50*time.Millisecond
	return r
}

func expectedUserSchema(name string) *schemapb.CollectionSchema {
	f := milvusFields()
	return &schemapb.CollectionSchema{Name: name, Description: "desc of " + name, EnableDynamicField: true, Fields: f[2:5]}
}

func TestMetaReaderListDecodesCatalog(t *testing.T) {
	cli := startEtcd(t)
	rc := newFakeRootCoord(t, cli, testRoot)
	rc.save1(dbKey(1), dbInfo(1, "default", metapb.DatabaseState_DatabaseCreated))
	rc.save1(dbKey(2), dbInfo(2, "db2", metapb.DatabaseState_DatabaseCreated))
	createCollection(rc, 2, 4001, "books", 5001, 5002)
	// A collection under the pre-database key: belongs to the default db.
	rc.save1(legacyCollKey(4002), collInfo(0, 4002, "legacy", metapb.CollectionState_CollectionCreated))
	// An in-flight create is listed with its state, not hidden.
	rc.save1(collKey(1, 4003), collInfo(1, 4003, "creating", metapb.CollectionState_CollectionCreating))
	// A dropped collection: tombstoned plain key, history under snapshots/.
	createCollection(rc, 1, 4004, "gone", 5004)
	dropCollection(rc, 1, 4004, 5004)
	// Unrelated keys the reader must ignore.
	_, err := cli.Put(context.Background(), testRoot+"root-coord/credential/users/root", `{"username":"root"}`)
	require.NoError(t, err)
	_, err = cli.Put(context.Background(), testRoot+"root-coord/fields/notanumber/1", "x")
	require.NoError(t, err)
	// An undecodable value is skipped, not fatal.
	_, err = cli.Put(context.Background(), testRoot+partKey(4001, 5999), "\xff\xff\xff")
	require.NoError(t, err)

	snap, err := newTestReader(t, cli).List(context.Background())
	require.NoError(t, err)

	require.Len(t, snap.Databases, 2)
	require.Equal(t, "db2", snap.Databases[2].Name)
	require.Equal(t, metapb.DatabaseState_DatabaseCreated, snap.Databases[2].State)

	require.Len(t, snap.Collections, 3, "the tombstoned collection must not be listed")
	books := snap.Collections[4001]
	require.Equal(t, int64(2), books.DBID)
	require.Equal(t, "books", books.Name)
	require.True(t, proto.Equal(expectedUserSchema("books"), books.Schema), "got %v", books.Schema)
	require.Equal(t, []string{"cdc-src-rootcoord-dml_0_4001v0", "cdc-src-rootcoord-dml_1_4001v1"}, books.VirtualChannels)
	require.Equal(t, []string{"cdc-src-rootcoord-dml_0", "cdc-src-rootcoord-dml_1"}, books.PhysicalChannels)
	require.Equal(t, int32(2), books.ShardsNum)
	require.Equal(t, map[string][]byte{"cdc-src-rootcoord-dml_0": {8, 161, 16, 1}, "cdc-src-rootcoord-dml_1": {8, 161, 16, 2}}, books.StartPositions)
	require.Equal(t, commonpb.ConsistencyLevel_Bounded, books.ConsistencyLevel)
	require.Equal(t, uint64(449000000000005001), books.CreateTime)
	require.Equal(t, metapb.CollectionState_CollectionCreated, books.State)
	require.Equal(t, "3600", books.Properties[0].GetValue())
	require.Len(t, books.Partitions, 2)
	require.Equal(t, "_default", books.Partitions[5001].Name)
	require.Equal(t, "p1", books.Partitions[5002].Name)
	require.Equal(t, uint64(449000000000007002), books.Partitions[5002].CreatedTime)

	legacy := snap.Collections[4002]
	require.Equal(t, defaultDBID, legacy.DBID)
	require.Equal(t, "legacy", legacy.Name)
	require.Empty(t, legacy.Schema.GetFields())

	require.Equal(t, metapb.CollectionState_CollectionCreating, snap.Collections[4003].State)

	got, ok := snap.CollectionByName(2, "books")
	require.True(t, ok)
	require.Equal(t, int64(4001), got.ID)
	_, ok = snap.CollectionByName(1, "creating")
	require.False(t, ok, "only Created collections resolve by name")
}

func TestMetaReaderMissingStateMeansCreated(t *testing.T) {
	cli := startEtcd(t)
	rc := newFakeRootCoord(t, cli, testRoot)
	info := collInfo(1, 7001, "nostate", metapb.CollectionState_CollectionCreated) // 0 is not encoded
	rc.save1(collKey(1, 7001), info)
	rc.save1(partKey(7001, 7002), partInfo(7001, 7002, "_default", metapb.PartitionState_PartitionCreated))
	rc.save1(dbKey(9), &metapb.DatabaseInfo{Id: 9, Name: "nostate"}) // DatabaseUnknown

	snap, err := newTestReader(t, cli).List(context.Background())
	require.NoError(t, err)
	require.Equal(t, metapb.CollectionState_CollectionCreated, snap.Collections[7001].State)
	require.Equal(t, metapb.PartitionState_PartitionCreated, snap.Collections[7001].Partitions[7002].State)
	require.Equal(t, metapb.DatabaseState_DatabaseUnknown, snap.Databases[9].State)
}

// nextEvents reads n events or fails after a timeout.
func nextEvents(t *testing.T, ch <-chan MetaEvent, n int) []MetaEvent {
	t.Helper()
	var got []MetaEvent
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-ch:
			require.True(t, ok, "event channel closed after %v", summarize(got))
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("got %d of %d events: %v", len(got), n, summarize(got))
		}
	}
	return got
}

// requireNoEvent checks nothing else arrives for a short while.
func requireNoEvent(t *testing.T, ch <-chan MetaEvent) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %s %d", ev.Type, ev.ID)
	case <-time.After(300 * time.Millisecond):
	}
}

type evKey struct {
	Type MetaEventType
	ID   int64
}

func summarize(evs []MetaEvent) []evKey {
	out := make([]evKey, 0, len(evs))
	for _, ev := range evs {
		out = append(out, evKey{ev.Type, ev.ID})
	}
	return out
}

func TestMetaReaderWatchEventSequence(t *testing.T) {
	cli := startEtcd(t)
	rc := newFakeRootCoord(t, cli, testRoot)
	rc.save1(dbKey(1), dbInfo(1, "default", metapb.DatabaseState_DatabaseCreated))
	r := newTestReader(t, cli)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snap, err := r.List(ctx)
	require.NoError(t, err)
	events := r.Watch(ctx, snap)

	// Database created.
	rc.save1(dbKey(3), dbInfo(3, "db3", metapb.DatabaseState_DatabaseCreated))
	// Collection created with two partitions (announced inside the event).
	createCollection(rc, 3, 6001, "movies", 6101, 6102)
	// A partition created later: Creating then Created.
	rc.save1(partKey(6001, 6103), partInfo(6001, 6103, "late", metapb.PartitionState_PartitionCreating))
	rc.save1(partKey(6001, 6103), partInfo(6001, 6103, "late", metapb.PartitionState_PartitionCreated))
	// That partition dropped: Dropping then tombstone (one event).
	rc.save1(partKey(6001, 6103), partInfo(6001, 6103, "late", metapb.PartitionState_PartitionDropping))
	rc.remove(partKey(6001, 6103))
	// An aborted create: Creating then tombstone, no event at all.
	rc.save1(collKey(3, 6002), collInfo(3, 6002, "aborted", metapb.CollectionState_CollectionCreating))
	rc.remove(collKey(3, 6002))
	// Collection dropped: Dropping, then partitions/fields, then the key.
	dropCollection(rc, 3, 6001, 6101, 6102)
	// A real etcd DELETE of a database key (newer Milvus GC) also counts.
	_, err = cli.Delete(ctx, testRoot+dbKey(3))
	require.NoError(t, err)

	got := nextEvents(t, events, 7)
	require.Equal(t, []evKey{
		{DatabaseCreated, 3},
		{CollectionCreated, 6001},
		{PartitionCreated, 6103},
		{PartitionDropped, 6103},
		{CollectionDropping, 6001},
		{CollectionDropped, 6001},
		{DatabaseDropped, 3},
	}, summarize(got))
	requireNoEvent(t, events)

	require.Equal(t, "db3", got[0].Database.Name)
	created := got[1].Collection
	require.Equal(t, "movies", created.Name)
	require.Equal(t, int64(3), created.DBID)
	require.True(t, proto.Equal(expectedUserSchema("movies"), created.Schema), "got %v", created.Schema)
	require.Len(t, created.Partitions, 2)
	require.Equal(t, "_default", created.Partitions[6101].Name)
	require.Equal(t, "late", got[2].Partition.Name)
	require.Equal(t, int64(6001), got[2].Partition.CollectionID)
	require.Equal(t, "db3", got[6].Database.Name, "drop events carry the last known value")
	for i := 1; i < len(got); i++ {
		require.Greater(t, got[i].Revision, got[i-1].Revision, "events follow revision order")
	}
}

func TestMetaReaderWatchFromStaleCompactedSnapshot(t *testing.T) {
	cli := startEtcd(t)
	rc := newFakeRootCoord(t, cli, testRoot)
	rc.save1(dbKey(1), dbInfo(1, "default", metapb.DatabaseState_DatabaseCreated))
	createCollection(rc, 1, 8001, "old", 8101)
	r := newTestReader(t, cli)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snap, err := r.List(ctx)
	require.NoError(t, err)

	// While nobody watches: the collection is dropped and its name reused,
	// then etcd compacts that history away.
	dropCollection(rc, 1, 8001, 8101)
	createCollection(rc, 1, 8002, "old", 8102)
	resp, err := cli.Get(ctx, "any")
	require.NoError(t, err)
	_, err = cli.Compact(ctx, resp.Header.Revision)
	require.NoError(t, err)

	events := r.Watch(ctx, snap)
	got := nextEvents(t, events, 2)
	require.Equal(t, []evKey{{CollectionDropped, 8001}, {CollectionCreated, 8002}}, summarize(got),
		"the old holder of the name is dropped before the new one is created")
	require.Equal(t, "old", got[1].Collection.Name)

	// And it keeps watching afterwards.
	rc.save1(partKey(8002, 8103), partInfo(8002, 8103, "after", metapb.PartitionState_PartitionCreated))
	require.Equal(t, []evKey{{PartitionCreated, 8103}}, summarize(nextEvents(t, events, 1)))
}

// gatedWatcher wraps the real etcd watcher so a test can break the running
// watch and hold the reader's next Watch call while it compacts etcd.
type gatedWatcher struct {
	clientv3.Watcher
	calls   atomic.Int32
	mu      sync.Mutex
	cancel  context.CancelFunc
	holdNth int32
	held    chan struct{}
	release chan struct{}
}

func (g *gatedWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	if g.calls.Add(1) == g.holdNth {
		close(g.held)
		<-g.release
	}
	wctx, cancel := context.WithCancel(ctx)
	g.mu.Lock()
	g.cancel = cancel
	g.mu.Unlock()
	return g.Watcher.Watch(wctx, key, opts...)
}

func (g *gatedWatcher) breakCurrent() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel()
}

func TestMetaReaderRecoversWhenCompactedUnderRunningWatch(t *testing.T) {
	cli := startEtcd(t)
	rc := newFakeRootCoord(t, cli, testRoot)
	rc.save1(dbKey(1), dbInfo(1, "default", metapb.DatabaseState_DatabaseCreated))
	createCollection(rc, 1, 9001, "stays", 9101)
	createCollection(rc, 1, 9002, "dropped-while-down", 9102)

	core, logs := observer.New(zap.InfoLevel)
	r := newTestReader(t, cli)
	r.log = zap.New(core)
	gw := &gatedWatcher{Watcher: r.watcher, holdNth: 3, held: make(chan struct{}), release: make(chan struct{})}
	r.watcher = gw
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snap, err := r.List(ctx)
	require.NoError(t, err)
	events := r.Watch(ctx, snap)

	// The watch is live.
	rc.save1(partKey(9001, 9103), partInfo(9001, 9103, "live", metapb.PartitionState_PartitionCreated))
	require.Equal(t, []evKey{{PartitionCreated, 9103}}, summarize(nextEvents(t, events, 1)))

	// Break it. The reader re-lists and watches again (call 2); break that
	// one too so that call 3 starts from a revision we then compact away.
	gw.breakCurrent()
	require.Eventually(t, func() bool { return gw.calls.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	gw.breakCurrent()
	<-gw.held
	dropCollection(rc, 1, 9002, 9102)
	rc.save1(dbKey(5), dbInfo(5, "db5", metapb.DatabaseState_DatabaseCreated))
	createCollection(rc, 5, 9003, "created-while-down", 9104)
	resp, err := cli.Get(ctx, "any")
	require.NoError(t, err)
	_, err = cli.Compact(ctx, resp.Header.Revision)
	require.NoError(t, err)
	close(gw.release)

	got := nextEvents(t, events, 3)
	require.Equal(t, []evKey{{CollectionDropped, 9002}, {DatabaseCreated, 5}, {CollectionCreated, 9003}}, summarize(got))
	require.True(t, proto.Equal(expectedUserSchema("created-while-down"), got[2].Collection.Schema))
	require.NotEmpty(t, logs.FilterMessage("source catalog watch ended, re-listing").FilterFieldKey("error").All())
	found := false
	for _, e := range logs.FilterMessage("source catalog watch ended, re-listing").All() {
		if err, ok := e.ContextMap()["error"].(string); ok && err == "etcdserver: mvcc: required revision has been compacted" {
			found = true
		}
	}
	require.True(t, found, "the third watch must have failed with ErrCompacted: %v", logs.All())

	// Watching resumed after the resync.
	rc.save1(partKey(9003, 9105), partInfo(9003, 9105, "resumed", metapb.PartitionState_PartitionCreated))
	require.Equal(t, []evKey{{PartitionCreated, 9105}}, summarize(nextEvents(t, events, 1)))
	require.GreaterOrEqual(t, gw.calls.Load(), int32(4))
}

func TestMetaConfigRejectsEmptyRootPath(t *testing.T) {
	_, err := MetaConfig{}.metaRoot()
	require.ErrorContains(t, err, "source.etcd.rootPath")
	root, err := MetaConfig{RootPath: "/by-dev/", MetaSubPath: ""}.metaRoot()
	require.NoError(t, err)
	require.Equal(t, "by-dev/meta/", root)
}

func TestTombstoneIsMilvusSuffixSnapshotMarker(t *testing.T) {
	require.Equal(t, []byte{0xE2, 0x9B, 0xBC}, []byte(tombstone))
	require.True(t, isTombstone([]byte("⛼")))
	require.False(t, isTombstone([]byte{0xE2, 0x9B}))
}
