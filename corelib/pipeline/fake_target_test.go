package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/milvus"
)

// recorder is a target that records every call as one line, and fails a
// call a given number of times when asked to.
type recorder struct {
	mu       sync.Mutex
	calls    []string
	upserted map[string][]int64       // db.coll → primary keys written, in order
	failures map[string]int           // call prefix → remaining failures
	holds    map[string]chan struct{} // call prefix → closed when such calls may answer
}

func newRecorder() *recorder {
	return &recorder{upserted: map[string][]int64{}, failures: map[string]int{}, holds: map[string]chan struct{}{}}
}

func (r *recorder) record(format string, args ...any) error {
	call := fmt.Sprintf(format, args...)
	r.waitHold(call)
	r.mu.Lock()
	defer r.mu.Unlock()
	for prefix, n := range r.failures {
		if n > 0 && strings.HasPrefix(call, prefix) {
			r.failures[prefix] = n - 1
			return &sink.TargetError{Op: prefix, Reason: "target unavailable", Retryable: true}
		}
	}
	r.calls = append(r.calls, call)
	return nil
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recorder) CreateDatabase(_ context.Context, db string) error {
	return r.record("CreateDatabase %s", db)
}
func (r *recorder) DropDatabase(_ context.Context, db string) error {
	return r.record("DropDatabase %s", db)
}
func (r *recorder) CreateCollection(_ context.Context, db, coll string, spec milvus.CollectionSpec) error {
	return r.record("CreateCollection %s.%s shards=%d consistency=%s", db, coll, spec.ShardsNum, spec.ConsistencyLevel)
}
func (r *recorder) DropCollection(_ context.Context, db, coll string) error {
	return r.record("DropCollection %s.%s", db, coll)
}
func (r *recorder) CreatePartition(_ context.Context, db, coll, p string) error {
	return r.record("CreatePartition %s.%s.%s", db, coll, p)
}
func (r *recorder) DropPartition(_ context.Context, db, coll, p string) error {
	return r.record("DropPartition %s.%s.%s", db, coll, p)
}
func (r *recorder) Upsert(_ context.Context, db, coll, p string, cols []*schemapb.FieldData, n uint32) error {
	return r.write("Upsert", db, coll, p, cols, n)
}

func (r *recorder) Insert(_ context.Context, db, coll, p string, cols []*schemapb.FieldData, n uint32) error {
	return r.write("Insert", db, coll, p, cols, n)
}

// write records an upsert or an insert; upserted collects the keys of both.
func (r *recorder) write(op, db, coll, p string, cols []*schemapb.FieldData, n uint32) error {
	if err := r.record("%s %s.%s.%s rows=%d", op, db, coll, p, n); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cols {
		if c.GetFieldName() == "id" {
			r.upserted[db+"."+coll] = append(r.upserted[db+"."+coll], c.GetScalars().GetLongData().GetData()...)
		}
	}
	return nil
}
func (r *recorder) Delete(_ context.Context, db, coll, p string, keys *schemapb.IDs) error {
	return r.record("Delete %s.%s.%s keys=%v", db, coll, p, keys.GetIntId().GetData())
}
func (r *recorder) CreateIndex(_ context.Context, db, coll, field, name string, _ []*commonpb.KeyValuePair) error {
	return r.record("CreateIndex %s.%s.%s %s", db, coll, field, name)
}
func (r *recorder) DropIndex(_ context.Context, db, coll, field, name string) error {
	return r.record("DropIndex %s.%s.%s %s", db, coll, field, name)
}
func (r *recorder) LoadCollection(_ context.Context, db, coll string, replicas int32) error {
	return r.record("LoadCollection %s.%s", db, coll)
}
func (r *recorder) ReleaseCollection(_ context.Context, db, coll string) error {
	return r.record("ReleaseCollection %s.%s", db, coll)
}
func (r *recorder) LoadPartitions(_ context.Context, db, coll string, parts []string, _ int32) error {
	return r.record("LoadPartitions %s.%s %v", db, coll, parts)
}
func (r *recorder) ReleasePartitions(_ context.Context, db, coll string, parts []string) error {
	return r.record("ReleasePartitions %s.%s %v", db, coll, parts)
}
func (r *recorder) Flush(_ context.Context, db string, colls []string) error {
	return r.record("Flush %s.%v", db, colls)
}

var _ milvus.APITarget = (*recorder)(nil)

// apiOver is a writer factory whose writers are "api" writers calling t.
type apiOver struct{ t milvus.APITarget }

func (f apiOver) Verify(context.Context, corelib.Target, func(context.Context) ([]*sink.Collection, error)) error {
	return nil
}

func (f apiOver) Open(_ context.Context, _ corelib.Target, env sink.Env) (sink.Writer, error) {
	return milvus.NewAPIWriter(env, f.t), nil
}

// testReplicator is one pipeline run over a recorder, driven message by
// message.
type testReplicator struct {
	*run
	rec *recorder
}

func newTestReplicator(rules map[string][]string, mapping NameMapping) (*testReplicator, *recorder) {
	rec := newRecorder()
	meta := newMetaView(testSnapshot())
	r := &testReplicator{run: newRun(zap.NewNop(), nil, nil, meta, newCollections(NewScope(rules), mapping, meta), "_default"), rec: rec}
	r.useHealth(newHealth())
	return r, rec
}

// useHealth makes the run and its writer report to h.
func (t *testReplicator) useHealth(h *health) {
	t.health = h
	t.w = milvus.NewAPIWriter(writerEnv(h, zap.NewNop(), nil), t.rec)
}

// applyPack applies msgs as one pack of channel that may already be on the
// target (its inserts are written as upserts).
func (t *testReplicator) applyPack(ctx context.Context, channel string, msgs []dataMsg) error {
	return t.applyPackAs(ctx, channel, msgs, true)
}

func (t *testReplicator) applyPackAs(ctx context.Context, channel string, msgs []dataMsg, replay bool) error {
	pack := &source.Pack{Channel: channel}
	for _, m := range msgs {
		pack.Msgs = append(pack.Msgs, m.message())
	}
	return t.run.applyPack(ctx, pack, replay)
}

// dataMsg is one decoded message of a data channel, with the size of its
// payload on the wire.
type dataMsg struct {
	msg  proto.Message
	size int
	ts   uint64 // the message's EndTs
}

func (m dataMsg) message() *source.Message {
	raw, _ := proto.Marshal(m.msg)
	if m.size > 0 {
		raw = make([]byte, m.size)
	}
	return &source.Message{Body: m.msg, BeginTs: m.ts, EndTs: m.ts, Raw: raw}
}

// hangingWriter is a writer factory whose target never answers.
type hangingWriter struct{}

func (hangingWriter) Verify(context.Context, corelib.Target, func(context.Context) ([]*sink.Collection, error)) error {
	return nil
}

func (hangingWriter) Open(ctx context.Context, _ corelib.Target, _ sink.Env) (sink.Writer, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// waitHold blocks a call while a hold on its prefix is open, as a target
// that neither answers nor refuses.
func (r *recorder) waitHold(call string) {
	r.mu.Lock()
	var hold chan struct{}
	for prefix, ch := range r.holds {
		if strings.HasPrefix(call, prefix) {
			hold = ch
		}
	}
	r.mu.Unlock()
	if hold != nil {
		<-hold
	}
}
