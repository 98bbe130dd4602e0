package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/stream"
)

// fakeSource serves the test catalog and scripted packs per channel. A pack's
// end position is its index as one byte; opening at a position resumes after
// the pack that ends there, as the real seek rule does.
type fakeSource struct {
	mu    sync.Mutex
	packs map[string][]*source.Pack
	added chan struct{}
}

func newFakeSource() *fakeSource {
	return &fakeSource{packs: map[string][]*source.Pack{}, added: make(chan struct{})}
}

func (f *fakeSource) add(t *testing.T, channel string, endTs uint64, msgs ...proto.Message) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &source.Pack{Channel: channel, EndTs: endTs,
		EndPosition: source.Position{Channel: channel, MsgID: []byte{byte(len(f.packs[channel]))}, Timestamp: endTs}}
	for _, m := range msgs {
		raw, err := proto.Marshal(m)
		require.NoError(t, err)
		dm, err := source.DecodeMessage(raw)
		require.NoError(t, err)
		p.Msgs = append(p.Msgs, dm)
	}
	f.packs[channel] = append(f.packs[channel], p)
	close(f.added)
	f.added = make(chan struct{})
}

func (f *fakeSource) List(context.Context) (*source.Snapshot, error) { return testSnapshot(), nil }

func (f *fakeSource) Watch(ctx context.Context, _ *source.Snapshot) <-chan source.MetaEvent {
	ch := make(chan source.MetaEvent)
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}

func (f *fakeSource) OpenChannel(_ context.Context, channel string, from *source.Position, _ func(stream.Skip)) (PackReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := 0
	if from != nil {
		for i, p := range f.packs[channel] {
			if bytes.Equal(p.EndPosition.MsgID, from.MsgID) {
				next = i + 1
			}
		}
	}
	return &fakePackReader{src: f, channel: channel, next: next}, nil
}

func (f *fakeSource) OpenReplicateChannel(context.Context, *source.Position, func(stream.Skip)) (OpReader, error) {
	return idleOpReader{}, nil
}
func (f *fakeSource) ReplicateChannel() string { return "rpc" }
func (f *fakeSource) DefaultPartition() string { return "_default" }

type fakePackReader struct {
	src     *fakeSource
	channel string
	next    int
}

func (r *fakePackReader) Next(ctx context.Context) (*source.Pack, error) {
	for {
		r.src.mu.Lock()
		packs, added := r.src.packs[r.channel], r.src.added
		r.src.mu.Unlock()
		if r.next < len(packs) {
			r.next++
			return packs[r.next-1], nil
		}
		select {
		case <-added:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
func (r *fakePackReader) Close() error { return nil }

type idleOpReader struct{}

func (idleOpReader) Next(ctx context.Context) (*source.Message, source.Position, error) {
	<-ctx.Done()
	return nil, source.Position{}, ctx.Err()
}
func (idleOpReader) Close() error { return nil }

// memStore is a CheckpointStore with the compare-and-swap contract.
type memStore struct {
	mu  sync.Mutex
	rev int64
	cps map[string]corelib.Checkpoint
}

func (s *memStore) LoadCheckpoints(context.Context, string) ([]corelib.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []corelib.Checkpoint
	for _, cp := range s.cps {
		out = append(out, cp)
	}
	return out, nil
}

func (s *memStore) SaveCheckpoint(_ context.Context, _ string, cp corelib.Checkpoint) (corelib.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cp.Revision != s.cps[cp.Channel].Revision {
		return corelib.Checkpoint{}, fmt.Errorf("save %s: %w", cp.Channel, corelib.ErrConflict)
	}
	s.rev++
	cp.Revision = s.rev
	s.cps[cp.Channel] = cp
	return cp, nil
}

func (s *memStore) get(channel string) corelib.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cps[channel]
}

func insertMsg(ts uint64, coll int64, name string, ids ...int64) *msgpb.InsertRequest {
	tss := make([]uint64, len(ids))
	for i := range tss {
		tss[i] = ts
	}
	return &msgpb.InsertRequest{
		Base:         &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: ts, MsgID: int64(ts)},
		CollectionID: coll, DbName: "db1", CollectionName: name, PartitionName: "_default",
		Timestamps: tss, NumRows: uint64(len(ids)), Version: msgpb.InsertDataVersion_ColumnBased,
		FieldsData: []*schemapb.FieldData{{FieldName: "id", Type: schemapb.DataType_Int64, Field: &schemapb.FieldData_Scalars{
			Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: ids}}}}}},
	}
}

func newTestPipeline(src Source, store corelib.CheckpointStore, rec *recorder, onFailure func(error)) *Pipeline {
	spec := corelib.TaskSpec{ID: "t1", Scope: []corelib.CollectionScope{{Database: "db1", Collection: "logs"}}}
	return &Pipeline{
		spec: spec, src: src, log: zap.NewNop(),
		deps:   corelib.Deps{Checkpoints: store, OnFailure: onFailure},
		writer: apiOver{rec},
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func upserted(rec *recorder, key string) []int64 {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]int64(nil), rec.upserted[key]...)
}

func TestPipelineResumesFromItsCheckpointWithoutDuplicates(t *testing.T) {
	src, store, rec := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder()
	src.add(t, "dml_0", 10, insertMsg(10, 11, "logs", 1, 2))
	src.add(t, "dml_0", 20, insertMsg(20, 11, "logs", 3))

	ctx := context.Background()
	p := newTestPipeline(src, store, rec, nil)
	require.NoError(t, p.Start(ctx))
	waitFor(t, "rows 1-3 on the target", func() bool { return len(upserted(rec, "db1.logs")) == 3 })
	require.True(t, p.Status().Replicating)
	require.NoError(t, p.Stop(ctx))
	require.Equal(t, "stopped", p.Status().Detail)

	cp := store.get("dml_0")
	require.EqualValues(t, 20, cp.Timestamp, "the stop saved the last applied pack")
	pos := &msgpb.MsgPosition{}
	require.NoError(t, proto.Unmarshal(cp.Position, pos))
	require.Equal(t, []byte{1}, pos.GetMsgID())

	// Data written while stopped arrives after a restart, and nothing twice.
	src.add(t, "dml_0", 30, insertMsg(30, 11, "logs", 4))
	p2 := newTestPipeline(src, store, rec, nil)
	require.NoError(t, p2.Start(ctx))
	waitFor(t, "row 4 on the target", func() bool { return len(upserted(rec, "db1.logs")) >= 4 })
	require.NoError(t, p2.Stop(ctx))
	require.Equal(t, []int64{1, 2, 3, 4}, upserted(rec, "db1.logs"))
	require.EqualValues(t, 30, store.get("dml_0").Timestamp)
}

func TestPipelineStopsWhenAnotherWriterOwnsTheCheckpoint(t *testing.T) {
	src, store, rec := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder()
	failed := make(chan error, 1)
	p := newTestPipeline(src, store, rec, func(err error) { failed <- err })
	require.NoError(t, p.Start(context.Background()))
	waitFor(t, "the pipeline to run", func() bool { return p.Status().Replicating })

	// A second daemon saved this channel's checkpoint behind our back.
	_, err := store.SaveCheckpoint(context.Background(), "t1", corelib.Checkpoint{Channel: "dml_0", Timestamp: 5})
	require.NoError(t, err)
	src.add(t, "dml_0", 10, insertMsg(10, 11, "logs", 1))

	select {
	case err := <-failed:
		require.ErrorIs(t, err, corelib.ErrConflict)
		require.ErrorContains(t, err, "is a second daemon running task t1?")
	case <-time.After(5 * time.Second):
		t.Fatal("the pipeline did not report the conflict")
	}
	require.NoError(t, p.Stop(context.Background()))
}

// lostSource is a source whose broker no longer holds a channel's position.
type lostSource struct{ *fakeSource }

func (s lostSource) OpenChannel(context.Context, string, *source.Position, func(stream.Skip)) (PackReader, error) {
	return lostReader{}, nil
}

type lostReader struct{}

func (lostReader) Next(context.Context) (*source.Pack, error) {
	return nil, fmt.Errorf("dml_0: start 1:2, first available 1:9: %w", mq.ErrPositionUnavailable)
}
func (lostReader) Close() error { return nil }

// TestALostPositionFailsTheTask: a checkpoint the broker no longer holds
// (retention) fails the task with the channel and the fix, and nothing is
// applied past the gap.
func TestALostPositionFailsTheTask(t *testing.T) {
	src, store, rec := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder()
	at := ts(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	cp, err := checkpointOf("dml_0", 0, source.Position{Channel: "dml_0", MsgID: []byte{1}, Timestamp: at})
	require.NoError(t, err)
	_, err = store.SaveCheckpoint(context.Background(), "t1", cp)
	require.NoError(t, err)
	failed := make(chan error, 1)
	p := newTestPipeline(lostSource{src}, store, rec, func(err error) { failed <- err })
	require.NoError(t, p.Start(context.Background()))
	select {
	case err := <-failed:
		require.ErrorIs(t, err, corelib.ErrPermanent)
		require.ErrorIs(t, err, mq.ErrPositionUnavailable)
		require.ErrorContains(t, err, "source channel dml_0 no longer holds the task's position (2026-12-01T08:00:00Z)")
		require.ErrorContains(t, err, "re-create the task with initialSync")
	case <-time.After(5 * time.Second):
		t.Fatal("the lost position was not reported")
	}
	require.Equal(t, stateFailed, p.Status().State)
	require.Empty(t, upserted(rec, "db1.logs"))
}

// TestOnlyTheReplayWindowIsWrittenAsUpserts: inserts are plain inserts,
// except for packs up to the stored apply bound (what a run that crashed may
// have applied after its last checkpoint), which are upserts; the bound is
// raised before a pack past it is applied.
func TestOnlyTheReplayWindowIsWrittenAsUpserts(t *testing.T) {
	src, store, rec := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder()
	base := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	at := func(s int) uint64 { return ts(base.Add(time.Duration(s) * time.Second)) }
	src.add(t, "dml_0", at(0), insertMsg(at(0), 11, "logs", 1))   // before the checkpoint
	src.add(t, "dml_0", at(10), insertMsg(at(10), 11, "logs", 2)) // applied by the crashed run, not checkpointed
	// The crashed run raised its bound to 10 s + the lead before applying.
	cp, err := checkpointOf("dml_0", 0, src.packs["dml_0"][0].EndPosition)
	require.NoError(t, err)
	cp.ApplyBound = applyBound(at(10))
	_, err = store.SaveCheckpoint(context.Background(), "t1", cp)
	require.NoError(t, err)

	p := newTestPipeline(src, store, rec, nil)
	require.NoError(t, p.Start(context.Background()))
	defer func() { require.NoError(t, p.Stop(context.Background())) }()
	waitFor(t, "the replayed pack", func() bool { return len(upserted(rec, "db1.logs")) == 1 })
	src.add(t, "dml_0", at(600), insertMsg(at(600), 11, "logs", 3)) // far past the bound
	waitFor(t, "the next pack", func() bool { return len(upserted(rec, "db1.logs")) == 2 })

	var writes []string
	for _, c := range rec.Calls() {
		if strings.HasPrefix(c, "Upsert") || strings.HasPrefix(c, "Insert") {
			writes = append(writes, c)
		}
	}
	require.Equal(t, []string{"Upsert db1.logs._default rows=1", "Insert db1.logs._default rows=1"}, writes,
		"the pack the crashed run may have applied is an upsert, the next one a plain insert")
	waitFor(t, "the bound raised past the new pack", func() bool { return store.get("dml_0").ApplyBound >= at(600) })
}
