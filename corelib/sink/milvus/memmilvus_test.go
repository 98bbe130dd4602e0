package milvus

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/sinktest"
)

// memMilvus is an in-process Milvus that keeps what it is told in memory:
// databases, collections with their partitions, indexes, load state and
// rows (by primary key, with the value of field "v"), answering the way
// Milvus 2.3 does for what the writers rely on. replica selects a target
// in replicate mode (common.ttMsgEnabled=false): it takes rows only through
// ReplicateMessage.
type memMilvus struct {
	milvuspb.UnimplementedMilvusServiceServer
	replica bool

	mu     sync.Mutex
	nextID int64
	dbs    map[string]bool
	colls  map[string]*memColl // by "db.name"
	refuse map[string]refusal  // by RPC name
	lis    *bufconn.Listener
}

type refusal struct {
	n         int
	retryable bool
}

type memColl struct {
	id         int64
	schema     *schemapb.CollectionSchema
	shards     int
	partitions map[string]int64
	released   map[string]bool
	indexed    map[string]bool
	loaded     bool
	rows       map[int64][]memRow
}

type memRow struct{ v, partition string }

func startMemMilvus(t *testing.T, replica bool) *memMilvus {
	t.Helper()
	m := &memMilvus{replica: replica, nextID: 1000, dbs: map[string]bool{"default": true}, colls: map[string]*memColl{},
		refuse: map[string]refusal{}, lis: bufconn.Listen(1 << 20)}
	srv := grpc.NewServer()
	milvuspb.RegisterMilvusServiceServer(srv, m)
	go func() { _ = srv.Serve(m.lis) }()
	t.Cleanup(srv.Stop)
	return m
}

func (m *memMilvus) dial() grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return m.lis.DialContext(ctx) })
}

var memOK = &commonpb.Status{}

func memErr(code int32, reason string) *commonpb.Status {
	return &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: code, Reason: reason}
}

// refused answers a call the test asked to refuse.
func (m *memMilvus) refused(rpc string) *commonpb.Status {
	r, ok := m.refuse[rpc]
	if !ok || r.n == 0 {
		return nil
	}
	r.n--
	m.refuse[rpc] = r
	if r.retryable {
		// Not a rate limit: the SDK retries those itself.
		return &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 2, Retriable: true, Reason: "service unavailable"}
	}
	return memErr(1100, "invalid parameter: refused")
}

func dbOf(ctx context.Context, db string) string {
	if db != "" {
		return db
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("dbname"); len(v) > 0 && v[0] != "" {
		return v[0]
	}
	return "default"
}

func (m *memMilvus) coll(ctx context.Context, db, name string) (*memColl, *commonpb.Status) {
	c := m.colls[dbOf(ctx, db)+"."+name]
	if c == nil {
		return nil, memErr(codeCollectionNotFound, "collection not found["+name+"]")
	}
	return c, nil
}

func (m *memMilvus) Connect(context.Context, *milvuspb.ConnectRequest) (*milvuspb.ConnectResponse, error) {
	return &milvuspb.ConnectResponse{Status: memOK, ServerInfo: &commonpb.ServerInfo{BuildTags: "mem"}, Identifier: 1}, nil
}

func (m *memMilvus) ListDatabases(context.Context, *milvuspb.ListDatabasesRequest) (*milvuspb.ListDatabasesResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return listDatabases(m.dbs), nil
}

// listDatabases answers ListDatabases with the keys of a fake's databases.
func listDatabases[V any](dbs map[string]V) *milvuspb.ListDatabasesResponse {
	resp := &milvuspb.ListDatabasesResponse{Status: memOK}
	for db := range dbs {
		resp.DbNames = append(resp.DbNames, db)
	}
	return resp
}

func (m *memMilvus) CreateDatabase(_ context.Context, r *milvuspb.CreateDatabaseRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dbs[r.GetDbName()] = true
	return memOK, nil
}

func (m *memMilvus) DropDatabase(_ context.Context, r *milvuspb.DropDatabaseRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.dbs, r.GetDbName())
	return memOK, nil
}

func (m *memMilvus) CreateCollection(ctx context.Context, r *milvuspb.CreateCollectionRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.refused("CreateCollection"); st != nil {
		return st, nil
	}
	key := dbOf(ctx, r.GetDbName()) + "." + r.GetCollectionName()
	if m.colls[key] != nil {
		return memErr(1, "collection already exists"), nil
	}
	s := &schemapb.CollectionSchema{}
	if err := proto.Unmarshal(r.GetSchema(), s); err != nil {
		return memErr(1100, err.Error()), nil
	}
	for i, f := range s.Fields {
		f.FieldID = int64(100 + i)
	}
	m.nextID++
	shards := int(r.GetShardsNum())
	if shards == 0 {
		shards = 1
	}
	m.colls[key] = &memColl{id: m.nextID, schema: s, shards: shards, partitions: map[string]int64{"_default": m.nextID*10 + 1},
		released: map[string]bool{}, indexed: map[string]bool{}, rows: map[int64][]memRow{}}
	return memOK, nil
}

func (m *memMilvus) DescribeCollection(ctx context.Context, r *milvuspb.DescribeCollectionRequest) (*milvuspb.DescribeCollectionResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return &milvuspb.DescribeCollectionResponse{Status: st}, nil
	}
	resp := &milvuspb.DescribeCollectionResponse{Status: memOK, CollectionID: c.id, Schema: c.schema}
	for k := 0; k < c.shards; k++ {
		resp.VirtualChannelNames = append(resp.VirtualChannelNames, fmt.Sprintf("mem-dml_%d_%dv%d", k, c.id, k))
		resp.PhysicalChannelNames = append(resp.PhysicalChannelNames, fmt.Sprintf("mem-dml_%d", k))
	}
	return resp, nil
}

func (m *memMilvus) DropCollection(ctx context.Context, r *milvuspb.DropCollectionRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName()); st != nil {
		return st, nil
	}
	delete(m.colls, dbOf(ctx, r.GetDbName())+"."+r.GetCollectionName())
	return memOK, nil
}

func (m *memMilvus) HasPartition(ctx context.Context, r *milvuspb.HasPartitionRequest) (*milvuspb.BoolResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return &milvuspb.BoolResponse{Status: st}, nil
	}
	_, ok := c.partitions[r.GetPartitionName()]
	return &milvuspb.BoolResponse{Status: memOK, Value: ok}, nil
}

func (m *memMilvus) CreatePartition(ctx context.Context, r *milvuspb.CreatePartitionRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return st, nil
	}
	m.nextID++
	c.partitions[r.GetPartitionName()] = m.nextID
	return memOK, nil
}

func (m *memMilvus) DropPartition(ctx context.Context, r *milvuspb.DropPartitionRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return st, nil
	}
	name := r.GetPartitionName()
	if _, ok := c.partitions[name]; !ok {
		return memErr(codePartitionNotFound, "partition not found"), nil
	}
	if c.loaded && !c.released[name] {
		return memErr(1, "partition cannot be dropped, partition is loaded, please release it first"), nil
	}
	delete(c.partitions, name)
	for k, rows := range c.rows {
		rows = slices.DeleteFunc(rows, func(r memRow) bool { return r.partition == name })
		if len(rows) == 0 {
			delete(c.rows, k)
		} else {
			c.rows[k] = rows
		}
	}
	return memOK, nil
}

func (m *memMilvus) ShowPartitions(ctx context.Context, r *milvuspb.ShowPartitionsRequest) (*milvuspb.ShowPartitionsResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return &milvuspb.ShowPartitionsResponse{Status: st}, nil
	}
	resp := &milvuspb.ShowPartitionsResponse{Status: memOK}
	for name, id := range c.partitions {
		resp.PartitionNames = append(resp.PartitionNames, name)
		resp.PartitionIDs = append(resp.PartitionIDs, id)
	}
	return resp, nil
}

func (m *memMilvus) CreateIndex(ctx context.Context, r *milvuspb.CreateIndexRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return st, nil
	}
	c.indexed[r.GetFieldName()] = true
	return memOK, nil
}

func (m *memMilvus) DropIndex(ctx context.Context, r *milvuspb.DropIndexRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return st, nil
	}
	delete(c.indexed, r.GetFieldName())
	return memOK, nil
}

func (m *memMilvus) LoadCollection(ctx context.Context, r *milvuspb.LoadCollectionRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return st, nil
	}
	c.loaded, c.released = true, map[string]bool{}
	return memOK, nil
}

func (m *memMilvus) ReleaseCollection(ctx context.Context, r *milvuspb.ReleaseCollectionRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return st, nil
	}
	c.loaded = false
	return memOK, nil
}

func (m *memMilvus) ReleasePartitions(ctx context.Context, r *milvuspb.ReleasePartitionsRequest) (*commonpb.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return st, nil
	}
	for _, p := range r.GetPartitionNames() {
		c.released[p] = true
	}
	return memOK, nil
}

func (m *memMilvus) Flush(ctx context.Context, r *milvuspb.FlushRequest) (*milvuspb.FlushResponse, error) {
	return &milvuspb.FlushResponse{Status: memOK, DbName: r.GetDbName()}, nil
}

func (m *memMilvus) Upsert(ctx context.Context, r *milvuspb.UpsertRequest) (*milvuspb.MutationResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.replica {
		return &milvuspb.MutationResult{Status: memErr(1303, "deny to write the message to mq")}, nil
	}
	if st := m.refused("Upsert"); st != nil {
		return &milvuspb.MutationResult{Status: st}, nil
	}
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return &milvuspb.MutationResult{Status: st}, nil
	}
	keys, values := columns(r.GetFieldsData())
	partition := r.GetPartitionName()
	if partition == "" {
		partition = "_default"
	}
	for i, k := range keys {
		c.rows[k] = []memRow{{v: values[i], partition: partition}}
	}
	return &milvuspb.MutationResult{Status: memOK, UpsertCnt: int64(len(keys))}, nil
}

// Insert appends rows: a key inserted twice is there twice, as in Milvus.
func (m *memMilvus) Insert(ctx context.Context, r *milvuspb.InsertRequest) (*milvuspb.MutationResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.replica {
		return &milvuspb.MutationResult{Status: memErr(1303, "deny to write the message to mq")}, nil
	}
	if st := m.refused("Upsert"); st != nil { // a write refused, whichever call makes it
		return &milvuspb.MutationResult{Status: st}, nil
	}
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return &milvuspb.MutationResult{Status: st}, nil
	}
	keys, values := columns(r.GetFieldsData())
	partition := r.GetPartitionName()
	if partition == "" {
		partition = "_default"
	}
	for i, k := range keys {
		c.rows[k] = append(c.rows[k], memRow{v: values[i], partition: partition})
	}
	return &milvuspb.MutationResult{Status: memOK, InsertCnt: int64(len(keys))}, nil
}

func (m *memMilvus) Delete(ctx context.Context, r *milvuspb.DeleteRequest) (*milvuspb.MutationResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.replica {
		return &milvuspb.MutationResult{Status: memErr(1303, "deny to write the message to mq")}, nil
	}
	c, st := m.coll(ctx, r.GetDbName(), r.GetCollectionName())
	if st != nil {
		return &milvuspb.MutationResult{Status: st}, nil
	}
	_, list, ok := strings.Cut(r.GetExpr(), " in [")
	if !ok {
		return &milvuspb.MutationResult{Status: memErr(1100, "cannot parse "+r.GetExpr())}, nil
	}
	for _, lit := range strings.Split(strings.TrimSuffix(list, "]"), ",") {
		k, err := strconv.ParseInt(strings.TrimSpace(lit), 10, 64)
		if err != nil {
			return &milvuspb.MutationResult{Status: memErr(1100, "not an int64 key: "+lit)}, nil
		}
		delete(c.rows, k)
	}
	return &milvuspb.MutationResult{Status: memOK}, nil
}

// ReplicateMessage applies replicated inserts and deletes on a replica, and
// answers the writer-mode probe the way Milvus does.
func (m *memMilvus) ReplicateMessage(ctx context.Context, r *milvuspb.ReplicateMessageRequest) (*milvuspb.ReplicateMessageResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.replica {
		return &milvuspb.ReplicateMessageResponse{Status: memErr(codeDenyReplicateMessage, "deny to use the replicate message in the normal instance")}, nil
	}
	if r.GetChannelName() == "" {
		return &milvuspb.ReplicateMessageResponse{Status: memErr(1100, "invalid parameter: channel name is empty")}, nil
	}
	if !onlyTicks(r.GetMsgs()) {
		if st := m.refused("ReplicateMessage"); st != nil {
			return &milvuspb.ReplicateMessageResponse{Status: st}, nil
		}
	}
	for _, raw := range r.GetMsgs() {
		if st := m.applyReplicated(r.GetChannelName(), raw); st != nil {
			return &milvuspb.ReplicateMessageResponse{Status: st}, nil
		}
	}
	return &milvuspb.ReplicateMessageResponse{Status: memOK}, nil
}

// onlyTicks reports whether every message is a time tick (the refusals a
// test asks for are meant for data, not for the writer's own ticks).
func onlyTicks(msgs [][]byte) bool {
	for _, raw := range msgs {
		tt := &msgpb.TimeTickMsg{}
		if proto.Unmarshal(raw, tt) != nil || tt.GetBase().GetMsgType() != commonpb.MsgType_TimeTick {
			return false
		}
	}
	return true
}

// applyReplicated applies one message; it checks that the message is
// addressed to the channel, collection and partition it names.
func (m *memMilvus) applyReplicated(channel string, raw []byte) *commonpb.Status {
	base := &msgpb.TimeTickMsg{}
	if err := proto.Unmarshal(raw, base); err != nil {
		return memErr(1100, err.Error())
	}
	switch base.GetBase().GetMsgType() {
	case commonpb.MsgType_Insert:
		req := &msgpb.InsertRequest{}
		if err := proto.Unmarshal(raw, req); err != nil {
			return memErr(1100, err.Error())
		}
		c, st := m.addressed(channel, req.GetDbName(), req.GetCollectionName(), req.GetCollectionID(), req.GetShardName())
		if st != nil {
			return st
		}
		if id, ok := c.partitions[req.GetPartitionName()]; !ok || id != req.GetPartitionID() {
			return memErr(1100, fmt.Sprintf("partition %s/%d is not the collection's", req.GetPartitionName(), req.GetPartitionID()))
		}
		keys, values := columns(req.GetFieldsData())
		if len(req.GetTimestamps()) != len(keys) || len(req.GetRowIDs()) != len(keys) {
			return memErr(1100, "rows without their timestamps or row IDs")
		}
		for i, k := range keys {
			c.rows[k] = append(c.rows[k], memRow{v: values[i], partition: req.GetPartitionName()})
		}
	case commonpb.MsgType_Delete:
		req := &msgpb.DeleteRequest{}
		if err := proto.Unmarshal(raw, req); err != nil {
			return memErr(1100, err.Error())
		}
		c, st := m.addressed(channel, req.GetDbName(), req.GetCollectionName(), req.GetCollectionID(), req.GetShardName())
		if st != nil {
			return st
		}
		for _, k := range req.GetPrimaryKeys().GetIntId().GetData() {
			delete(c.rows, k)
		}
	}
	return nil
}

func (m *memMilvus) addressed(channel, db, name string, id int64, shard string) (*memColl, *commonpb.Status) {
	c := m.colls[db+"."+name]
	if c == nil || c.id != id {
		return nil, memErr(codeCollectionNotFound, fmt.Sprintf("collection %s.%s (id %d) not found", db, name, id))
	}
	k, err := ShardIndex(shard)
	if err != nil || k >= c.shards || fmt.Sprintf("mem-dml_%d_%dv%d", k, c.id, k) != shard || fmt.Sprintf("mem-dml_%d", k) != channel {
		return nil, memErr(1100, fmt.Sprintf("shard %s is not on channel %s", shard, channel))
	}
	return c, nil
}

// columns reads the keys ("id") and values ("v") of a column set.
func columns(fields []*schemapb.FieldData) ([]int64, []string) {
	var keys []int64
	var values []string
	for _, f := range fields {
		switch f.GetFieldName() {
		case "id":
			keys = f.GetScalars().GetLongData().GetData()
		case "v":
			values = f.GetScalars().GetStringData().GetData()
		}
	}
	return keys, values
}

// memTarget runs the conformance suite against a memMilvus.
type memTarget struct {
	m       *memMilvus
	factory sink.Factory
}

var _ sinktest.Target = (*memTarget)(nil)

func (mt *memTarget) Open(t *testing.T, env sink.Env) sink.Writer {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, err := mt.factory.Open(ctx, corelib.Target{URI: "mem:19530", ConnectTimeout: 5 * time.Second}, env)
	require.NoError(t, err)
	return w
}

func (mt *memTarget) Rows(_ *testing.T, coll *sink.Collection) map[int64][]string {
	mt.m.mu.Lock()
	defer mt.m.mu.Unlock()
	out := map[int64][]string{}
	c := mt.m.colls[coll.TargetDatabase+"."+coll.TargetName]
	if c == nil {
		return out
	}
	for k, rows := range c.rows {
		for _, r := range rows {
			out[k] = append(out[k], r.v)
		}
	}
	return out
}

func (mt *memTarget) Describe(_ *testing.T, coll *sink.Collection) sinktest.State {
	mt.m.mu.Lock()
	defer mt.m.mu.Unlock()
	c := mt.m.colls[coll.TargetDatabase+"."+coll.TargetName]
	if c == nil {
		return sinktest.State{}
	}
	st := sinktest.State{Exists: true, Loaded: c.loaded}
	for p := range c.partitions {
		st.Partitions = append(st.Partitions, p)
	}
	for f := range c.indexed {
		st.Indexed = append(st.Indexed, f)
	}
	sort.Strings(st.Partitions)
	sort.Strings(st.Indexed)
	return st
}

func (mt *memTarget) Refuse(rpc string, n int, retryable bool) bool {
	mt.m.mu.Lock()
	defer mt.m.mu.Unlock()
	mt.m.refuse[rpc] = refusal{n: n, retryable: retryable}
	return true
}

func (mt *memTarget) Conflict(t *testing.T, db, name string) bool {
	mt.m.mu.Lock()
	defer mt.m.mu.Unlock()
	mt.m.nextID++
	mt.m.colls[db+"."+name] = &memColl{id: mt.m.nextID, shards: 1, schema: &schemapb.CollectionSchema{Name: name, Fields: []*schemapb.FieldSchema{
		{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true},
		{FieldID: 101, Name: "other", DataType: schemapb.DataType_Double},
	}}, partitions: map[string]int64{"_default": 1}, released: map[string]bool{}, indexed: map[string]bool{}, rows: map[int64][]memRow{}}
	return true
}

func (mt *memTarget) Caps() sinktest.Caps {
	return sinktest.Caps{Partitions: true, Indexes: true, Load: true}
}

func dialOf(m *memMilvus) []grpc.DialOption { return []grpc.DialOption{m.dial()} }
