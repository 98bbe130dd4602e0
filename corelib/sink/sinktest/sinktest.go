// Package sinktest is the conformance suite every writer passes: it drives a
// sink.Writer the way the pipeline does and checks, by reading back what
// the target holds, the promises of the Writer contract (package sink):
// changes applied in order, a replay after a crash that duplicates nothing
// (or, for a writer that appends, only what was replayed), acknowledgement
// meaning the target holds the rows, operations in order, and target
// failures classified as retryable or permanent.
//
// A writer's tests run it against an in-process stand-in of the target; the
// end-to-end tests run it against the real target of the test bed.
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// Target is the target of the writer under test, as the suite sees it.
type Target interface {
	// Open opens a writer for one run (the suite closes it).
	Open(t *testing.T, env sink.Env) sink.Writer
	// Rows reads what the target holds for a collection: every primary key
	// with the value of field "v" of each row stored under it (two values:
	// a duplicate). It may wait a little for the target to show what the
	// writer acknowledged (a replica shows rows once its time ticks pass
	// them, and the suite hands the writer its watermark after every batch).
	Rows(t *testing.T, coll *sink.Collection) map[int64][]string
	// Describe says what the target has for a collection.
	Describe(t *testing.T, coll *sink.Collection) State
	// Refuse makes the target refuse the next n calls of the named RPC,
	// as a target that is down (retryable) or one that rejects the data
	// (permanent); false when this target cannot be made to.
	Refuse(rpc string, n int, retryable bool) bool
	// Conflict creates, behind the writer's back, a collection of that name
	// whose fields differ from the suite's schema; false when this target
	// has no such notion.
	Conflict(t *testing.T, db, name string) bool
	// Caps says which operations the target can show.
	Caps() Caps
}

// State is what a target has for one collection.
type State struct {
	Exists     bool
	Partitions []string // sorted, the default partition included
	Indexed    []string // fields with an index, sorted
	Loaded     bool
}

// Caps lists what a target can show beyond rows.
type Caps struct {
	Partitions, Indexes, Load bool
}

// Suite names: the source database and the collection prefix the suite uses.
const (
	Database = "default"
	// Dim is the dimension of the suite's vector field "vec".
	Dim = 4
)

var runSeq atomic.Int64

// Run runs every case of the suite against target. prefix keeps the
// suite's collections apart from anything else on the target.
func Run(t *testing.T, prefix string, target Target) {
	s := &suite{target: target, prefix: fmt.Sprintf("%s_%d_%d", prefix, time.Now().Unix()%100000, runSeq.Add(1))}
	s.msgIDs.Store(1 << 40)
	s.rowIDs.Store(1 << 41)
	t.Run("changes are applied in order", s.ordered)
	t.Run("a replay after a crash duplicates nothing", s.replay)
	t.Run("an acknowledged batch is on the target", s.acknowledged)
	t.Run("operations are applied in order", s.operations)
	t.Run("a collection dropped and created again under its name", s.recreate)
	t.Run("failures are retryable or permanent", s.failures)
}

type suite struct {
	target         Target
	prefix         string
	seq            atomic.Int64
	msgIDs, rowIDs atomic.Int64 // Milvus's request and row IDs, distinct like the source's
	clock          tsClock
}

// env is the Env of one run: Call retries retryable failures a few times,
// quickly, and returns a permanent one at once, recording both.
type env struct {
	mu        sync.Mutex
	retryable int
	permanent []error
}

func (e *env) sinkEnv() sink.Env {
	return sink.Env{
		Log: zap.NewNop(),
		Call: func(ctx context.Context, _ string, fn func(context.Context) error) error {
			for attempt := 1; ; attempt++ {
				err := fn(ctx)
				if err == nil || ctx.Err() != nil {
					return err
				}
				e.mu.Lock()
				if sink.IsPermanent(err) {
					e.permanent = append(e.permanent, err)
					e.mu.Unlock()
					return err
				}
				e.retryable++
				e.mu.Unlock()
				if attempt == 20 {
					return err
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		Background: func(string, error) {},
	}
}

func (s *suite) open(t *testing.T) (sink.Writer, *env) {
	e := &env{}
	w := s.target.Open(t, e.sinkEnv())
	t.Cleanup(func() { _ = w.Close() })
	return w, e
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// tsClock hands out increasing hybrid timestamps near the wall clock.
type tsClock struct {
	mu   sync.Mutex
	last uint64
}

func (c *tsClock) next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := source.ComposeTSByTime(time.Now())
	if ts <= c.last {
		ts = c.last + 1
	}
	c.last = ts
	return ts
}

// collection describes a new source collection with the suite's schema:
// int64 key "id", varchar "v", float vector "vec", one shard.
func (s *suite) collection(name string) *sink.Collection {
	id := 900000 + s.seq.Add(1)
	vch := fmt.Sprintf("suite-dml_0_%dv0", id)
	info := &source.Collection{
		ID: id, DBID: 1, Name: name, CreateTime: s.clock.next(), ShardsNum: 1,
		VirtualChannels: []string{vch}, PhysicalChannels: []string{"suite-dml_0"},
		ConsistencyLevel: commonpb.ConsistencyLevel_Strong, State: metapb.CollectionState_CollectionCreated,
		Schema: &schemapb.CollectionSchema{Name: name, Fields: []*schemapb.FieldSchema{
			{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true},
			{FieldID: 101, Name: "v", DataType: schemapb.DataType_VarChar, TypeParams: []*commonpb.KeyValuePair{{Key: "max_length", Value: "64"}}},
			{FieldID: 102, Name: "vec", DataType: schemapb.DataType_FloatVector, TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: fmt.Sprint(Dim)}}},
		}},
		Partitions: map[int64]*source.Partition{id*10 + 1: {ID: id*10 + 1, CollectionID: id, Name: "_default", State: metapb.PartitionState_PartitionCreated}},
	}
	return &sink.Collection{ID: id, Database: Database, Name: name, TargetDatabase: Database, TargetName: name, Info: info}
}

// name is a collection name unique to this run of the suite.
func (s *suite) name(what string) string { return fmt.Sprintf("%s_%s", s.prefix, what) }

// insert builds a source insert of keys into a partition, every row with
// field v = value.
func (s *suite) insert(coll *sink.Collection, partition string, value string, keys ...int64) *sink.Insert {
	return s.insertAt(s.clock.next(), coll, partition, value, keys...)
}

func (s *suite) insertAt(ts uint64, coll *sink.Collection, partition string, value string, keys ...int64) *sink.Insert {
	n := len(keys)
	tss, rowIDs, vs := make([]uint64, n), make([]int64, n), make([]string, n)
	vec := make([]float32, 0, n*Dim)
	for i, k := range keys {
		// Row IDs are Milvus's own, allocated apart from the keys.
		tss[i], rowIDs[i], vs[i] = ts, s.rowIDs.Add(1), value
		for d := 0; d < Dim; d++ {
			vec = append(vec, float32(k%97)+float32(d)/10)
		}
	}
	if partition == "" {
		partition = "_default"
	}
	req := &msgpb.InsertRequest{
		Base:   &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: ts, MsgID: s.msgIDs.Add(1)},
		DbName: coll.Database, CollectionName: coll.Name, PartitionName: partition,
		CollectionID: coll.ID, PartitionID: partitionID(coll, partition),
		ShardName:  coll.Info.VirtualChannels[0],
		Timestamps: tss, RowIDs: rowIDs, NumRows: uint64(n), Version: msgpb.InsertDataVersion_ColumnBased,
		FieldsData: []*schemapb.FieldData{
			{FieldName: "id", FieldId: 100, Type: schemapb.DataType_Int64, Field: &schemapb.FieldData_Scalars{
				Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: keys}}}}},
			{FieldName: "v", FieldId: 101, Type: schemapb.DataType_VarChar, Field: &schemapb.FieldData_Scalars{
				Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: vs}}}}},
			{FieldName: "vec", FieldId: 102, Type: schemapb.DataType_FloatVector, Field: &schemapb.FieldData_Vectors{
				Vectors: &schemapb.VectorField{Dim: Dim, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: vec}}}}},
		},
	}
	return &sink.Insert{Coll: coll, Msg: message(req)}
}

// delete builds a source delete of keys.
func (s *suite) delete(coll *sink.Collection, keys ...int64) *sink.Delete {
	return s.deleteAt(s.clock.next(), coll, keys...)
}

func (s *suite) deleteAt(ts uint64, coll *sink.Collection, keys ...int64) *sink.Delete {
	tss := make([]uint64, len(keys))
	for i := range tss {
		tss[i] = ts
	}
	req := &msgpb.DeleteRequest{
		Base:   &commonpb.MsgBase{MsgType: commonpb.MsgType_Delete, Timestamp: ts, MsgID: s.msgIDs.Add(1)},
		DbName: coll.Database, CollectionName: coll.Name, CollectionID: coll.ID,
		PartitionName: "_default", PartitionID: partitionID(coll, "_default"),
		ShardName:   coll.Info.VirtualChannels[0],
		PrimaryKeys: &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: keys}}},
		Timestamps:  tss, NumRows: int64(len(keys)),
	}
	return &sink.Delete{Coll: coll, Msg: message(req)}
}

// upsert builds a source upsert: a delete and an insert at one timestamp.
func (s *suite) upsert(coll *sink.Collection, value string, keys ...int64) *sink.Upsert {
	ts := s.clock.next()
	return &sink.Upsert{Delete: s.deleteAt(ts, coll, keys...), Insert: s.insertAt(ts, coll, "", value, keys...)}
}

func partitionID(coll *sink.Collection, name string) int64 {
	for id, p := range coll.Info.Partitions {
		if p.Name == name {
			return id
		}
	}
	return -1
}

// addPartition records a new partition in a collection's description.
func (s *suite) addPartition(coll *sink.Collection, name string) {
	id := coll.ID*10 + int64(len(coll.Info.Partitions)) + 1
	coll.Info.Partitions[id] = &source.Partition{ID: id, CollectionID: coll.ID, Name: name, CreatedTime: s.clock.next(), State: metapb.PartitionState_PartitionCreated}
}

// message encodes a request and decodes it the way the pipeline's readers
// do, so the writer gets exactly what it gets from a source channel.
func message(body proto.Message) *source.Message {
	raw, err := proto.Marshal(body)
	if err != nil {
		panic(err) // the suite's own messages always encode
	}
	m, err := source.DecodeMessage(raw)
	if err != nil {
		panic(err)
	}
	return m
}

// batch wraps changes as one batch of the collection's channel.
func (s *suite) batch(changes ...sink.Change) *sink.Batch {
	b := &sink.Batch{Channel: "suite-dml_0", Changes: changes}
	for _, c := range changes {
		var m *source.Message
		switch c := c.(type) {
		case *sink.Insert:
			m = c.Msg
		case *sink.Delete:
			m = c.Msg
		case *sink.Upsert:
			m = c.Insert.Msg
		case *sink.DropShard:
			m = c.Msg
		}
		if b.BeginTs == 0 || m.BeginTs < b.BeginTs {
			b.BeginTs = m.BeginTs
		}
		b.EndTs = max(b.EndTs, m.EndTs)
	}
	b.Position = source.Position{Channel: b.Channel, MsgID: []byte(fmt.Sprint(b.EndTs)), Timestamp: b.EndTs}
	return b
}

// write writes a batch and hands the writer the watermark past it, as the
// pipeline does once the batch is acknowledged.
func (s *suite) write(t *testing.T, ctx context.Context, w sink.Writer, b *sink.Batch) {
	t.Helper()
	require.NoError(t, w.Write(ctx, b))
	s.tick(w, b.EndTs)
}

func (s *suite) tick(w sink.Writer, ts uint64) {
	if wr, ok := w.(sink.WatermarkReceiver); ok {
		wr.Watermark(ts)
	}
}

func (s *suite) apply(t *testing.T, ctx context.Context, w sink.Writer, op sink.Op) {
	t.Helper()
	require.NoError(t, w.Apply(ctx, op), op.Name())
	s.tick(w, op.SourceTs())
}

// ready creates a collection and, where the target can show them, an index
// and a load, so its rows can be read back.
func (s *suite) ready(t *testing.T, ctx context.Context, w sink.Writer, coll *sink.Collection) {
	t.Helper()
	s.apply(t, ctx, w, &sink.CreateCollection{At: sink.At{Ts: coll.Info.CreateTime}, Coll: coll})
	caps := s.target.Caps()
	if caps.Indexes {
		s.apply(t, ctx, w, &sink.CreateIndex{At: sink.At{Ts: s.clock.next()}, Coll: coll, Field: "vec", Index: "vec_idx",
			Params: []*commonpb.KeyValuePair{{Key: "index_type", Value: "FLAT"}, {Key: "metric_type", Value: "L2"}}})
	}
	if caps.Load {
		s.apply(t, ctx, w, &sink.LoadCollection{At: sink.At{Ts: s.clock.next()}, Coll: coll, Replicas: 1})
	}
}

// rows renders a read-back for comparison: key → values, sorted.
func rows(m map[int64][]string) map[int64][]string {
	out := make(map[int64][]string, len(m))
	for k, vs := range m {
		vs = append([]string(nil), vs...)
		sort.Strings(vs)
		out[k] = vs
	}
	return out
}

// eventually polls the target until its rows equal want, or fails with the
// last read.
func (s *suite) eventually(t *testing.T, coll *sink.Collection, want map[int64][]string) {
	t.Helper()
	var got map[int64][]string
	deadline := time.Now().Add(60 * time.Second)
	for {
		got = rows(s.target.Rows(t, coll))
		if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, want, got, "rows of %s on the target", coll.TargetName)
}

func one(v string) []string { return []string{v} }

func (s *suite) ordered(t *testing.T) {
	ctx := testContext(t)
	w, _ := s.open(t)
	coll := s.collection(s.name("ordered"))
	s.ready(t, ctx, w, coll)
	s.write(t, ctx, w, s.batch(
		s.insert(coll, "", "a", 1, 2, 3, 4, 5),
		s.delete(coll, 2),
		s.upsert(coll, "b", 3),
		s.insert(coll, "", "c", 6),
		s.delete(coll, 6),
		s.insert(coll, "", "d", 6),
	))
	s.eventually(t, coll, map[int64][]string{1: one("a"), 3: one("b"), 4: one("a"), 5: one("a"), 6: one("d")})
}

func (s *suite) replay(t *testing.T) {
	ctx := testContext(t)
	coll := s.collection(s.name("replay"))

	// Batches are built when the pipeline would read them, after the
	// operations before them: only a replay may be older than a watermark
	// the writer was handed. A replica's query node drops an insert into a
	// segment it excludes when the insert is no newer than that segment's
	// position, and never a delete; for a replay that is harmless, as the
	// target has the rows, but a new batch older than the ticks could lose
	// its inserts and keep its deletes.
	w1, _ := s.open(t)
	s.ready(t, ctx, w1, coll)
	first := s.batch(s.insert(coll, "", "a", 1, 2, 3), s.upsert(coll, "b", 1))
	s.write(t, ctx, w1, first)
	require.NoError(t, w1.Close())

	// The crash lost the checkpoint of the first batch: the next run
	// applies the creation and the first batch again, its inserts marked as
	// replayed (as the pipeline marks what lies within the stored apply
	// bound), then goes on.
	w2, _ := s.open(t)
	s.ready(t, ctx, w2, coll)
	s.write(t, ctx, w2, replayed(first))
	s.write(t, ctx, w2, s.batch(s.insert(coll, "", "c", 4), s.delete(coll, 2)))

	want := map[int64][]string{1: one("b"), 3: one("a"), 4: one("c")}
	if !w2.Info().Appends {
		s.eventually(t, coll, want)
		return
	}
	// A writer that appends may duplicate what was replayed, and only that.
	var got map[int64][]string
	deadline := time.Now().Add(60 * time.Second)
	for {
		got = rows(s.target.Rows(t, coll))
		if hasKeys(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	replayed := map[int64]bool{1: true, 2: true, 3: true}
	for k, vs := range got {
		require.Contains(t, want, k, "key %d is not on the source", k)
		if len(vs) > 1 {
			require.True(t, replayed[k], "key %d duplicated though it was not replayed: %v", k, vs)
		}
	}
	for k := range want {
		require.Contains(t, got, k, "key %d missing", k)
	}
}

// replayed is a batch as the pipeline hands it over again after a crash:
// its inserts marked Replay.
func replayed(b *sink.Batch) *sink.Batch {
	out := *b
	out.Changes = make([]sink.Change, len(b.Changes))
	for i, c := range b.Changes {
		if ins, ok := c.(*sink.Insert); ok {
			again := *ins
			again.Replay = true
			c = &again
		}
		out.Changes[i] = c
	}
	return &out
}

// hasKeys reports whether got holds every key of want.
func hasKeys(got, want map[int64][]string) bool {
	for k := range want {
		if _, ok := got[k]; !ok {
			return false
		}
	}
	return true
}

func (s *suite) acknowledged(t *testing.T) {
	ctx := testContext(t)
	w, _ := s.open(t)
	coll := s.collection(s.name("ack"))
	s.ready(t, ctx, w, coll)
	want := map[int64][]string{}
	for i := int64(0); i < 5; i++ {
		keys := []int64{i*10 + 1, i*10 + 2}
		s.write(t, ctx, w, s.batch(s.insert(coll, "", fmt.Sprint("v", i), keys...)))
		for _, k := range keys {
			want[k] = one(fmt.Sprint("v", i))
		}
		// Write returned: the rows are the target's now.
		s.eventually(t, coll, want)
	}
}

func (s *suite) operations(t *testing.T) {
	caps := s.target.Caps()
	ctx := testContext(t)
	w, _ := s.open(t)
	coll := s.collection(s.name("ops"))
	s.ready(t, ctx, w, coll)
	if caps.Partitions {
		s.addPartition(coll, "p1")
		s.apply(t, ctx, w, &sink.CreatePartition{At: sink.At{Ts: s.clock.next()}, Coll: coll, Partition: "p1"})
		s.write(t, ctx, w, s.batch(s.insert(coll, "p1", "p", 1, 2), s.insert(coll, "", "d", 3)))
		s.eventually(t, coll, map[int64][]string{1: one("p"), 2: one("p"), 3: one("d")})
		require.Equal(t, []string{"_default", "p1"}, s.target.Describe(t, coll).Partitions)

		drop := s.dropShard(coll, "p1")
		s.write(t, ctx, w, s.batch(drop))
		s.apply(t, ctx, w, &sink.DropPartition{At: sink.At{Ts: drop.Msg.EndTs}, Coll: coll, Partition: "p1"})
		require.Equal(t, []string{"_default"}, s.target.Describe(t, coll).Partitions)
		s.eventually(t, coll, map[int64][]string{3: one("d")})
	}
	st := s.target.Describe(t, coll)
	require.True(t, st.Exists)
	if caps.Indexes {
		require.Equal(t, []string{"vec"}, st.Indexed)
	}
	if caps.Load {
		require.True(t, st.Loaded)
		s.apply(t, ctx, w, &sink.ReleaseCollection{At: sink.At{Ts: s.clock.next()}, Coll: coll})
		require.False(t, s.target.Describe(t, coll).Loaded)
	}
	s.apply(t, ctx, w, &sink.Flush{At: sink.At{Ts: s.clock.next()}, Coll: coll})
	drop := s.dropShard(coll, "")
	s.write(t, ctx, w, s.batch(drop))
	s.apply(t, ctx, w, &sink.DropCollection{At: sink.At{Ts: drop.Msg.EndTs}, Coll: coll})
	require.False(t, s.target.Describe(t, coll).Exists)
	// Replayed after a crash, the drop is still fine.
	s.apply(t, ctx, w, &sink.DropCollection{At: sink.At{Ts: drop.Msg.EndTs}, Coll: coll})
}

func (s *suite) recreate(t *testing.T) {
	ctx := testContext(t)
	w, _ := s.open(t)
	name := s.name("again")
	old := s.collection(name)
	s.ready(t, ctx, w, old)
	s.write(t, ctx, w, s.batch(s.insert(old, "", "old", 1, 2)))
	s.eventually(t, old, map[int64][]string{1: one("old"), 2: one("old")})
	drop := s.dropShard(old, "")
	s.write(t, ctx, w, s.batch(drop))
	s.apply(t, ctx, w, &sink.DropCollection{At: sink.At{Ts: drop.Msg.EndTs}, Coll: old})

	fresh := s.collection(name) // same name, a new source ID
	s.ready(t, ctx, w, fresh)
	s.write(t, ctx, w, s.batch(s.insert(fresh, "", "new", 2, 3)))
	s.eventually(t, fresh, map[int64][]string{2: one("new"), 3: one("new")})
}

func (s *suite) failures(t *testing.T) {
	ctx := testContext(t)
	t.Run("a target that is down is retried", func(t *testing.T) {
		w, e := s.open(t)
		coll := s.collection(s.name("down"))
		s.ready(t, ctx, w, coll)
		if !s.target.Refuse("Upsert", 2, true) || !s.target.Refuse("ReplicateMessage", 2, true) {
			t.Skip("this target cannot be made to fail")
		}
		s.write(t, ctx, w, s.batch(s.insert(coll, "", "a", 1)))
		s.eventually(t, coll, map[int64][]string{1: one("a")})
		e.mu.Lock()
		defer e.mu.Unlock()
		require.GreaterOrEqual(t, e.retryable, 2, "the refusals went through Call as retryable")
		require.Empty(t, e.permanent)
		s.target.Refuse("Upsert", 0, true)
		s.target.Refuse("ReplicateMessage", 0, true)
	})
	t.Run("a collection the target has with other fields is refused for good", func(t *testing.T) {
		w, e := s.open(t)
		coll := s.collection(s.name("conflict"))
		if !s.target.Conflict(t, coll.TargetDatabase, coll.TargetName) {
			t.Skip("this target has no collections of its own")
		}
		err := w.Apply(ctx, &sink.CreateCollection{At: sink.At{Ts: coll.Info.CreateTime}, Coll: coll})
		require.Error(t, err)
		require.True(t, sink.IsPermanent(err), "a schema conflict cannot be retried away: %v", err)
		var te *sink.TargetError
		require.True(t, errors.As(err, &te))
		e.mu.Lock()
		defer e.mu.Unlock()
		require.Len(t, e.permanent, 1)
	})
}

// dropShard builds the source drop message of a collection (partition "")
// or a partition on its one channel.
func (s *suite) dropShard(coll *sink.Collection, partition string) *sink.DropShard {
	ts := s.clock.next()
	base := &commonpb.MsgBase{Timestamp: ts, MsgID: s.msgIDs.Add(1)}
	var body proto.Message
	if partition == "" {
		base.MsgType = commonpb.MsgType_DropCollection
		body = &msgpb.DropCollectionRequest{Base: base, DbName: coll.Database, CollectionName: coll.Name, CollectionID: coll.ID}
	} else {
		base.MsgType = commonpb.MsgType_DropPartition
		body = &msgpb.DropPartitionRequest{Base: base, DbName: coll.Database, CollectionName: coll.Name, CollectionID: coll.ID,
			PartitionName: partition, PartitionID: partitionID(coll, partition)}
	}
	return &sink.DropShard{Coll: coll, Partition: partition, PartitionID: partitionID(coll, partition), Msg: message(body)}
}
