package pipeline

import (
	"context"
	"strconv"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// packWriter hands one time-tick pack of a source channel to the writer:
// the in-scope changes in source order, written as batches, split where an
// operation must come first (a collection or partition to create, a drop
// once every shard delivered it).
type packWriter struct {
	r       *run
	pack    *source.Pack
	replay  bool // the pack's inserts may already be on the target
	changes []sink.Change
	owners  []*collState // owners[i] is the collection of changes[i]
}

// applyPack replays one pack and returns once the target acknowledged all
// of it.
func (r *run) applyPack(ctx context.Context, pack *source.Pack, replay bool) error {
	pw := &packWriter{r: r, pack: pack, replay: replay}
	for _, m := range pack.Msgs {
		if err := pw.add(ctx, m); err != nil {
			return err
		}
	}
	return pw.flush(ctx)
}

func (pw *packWriter) add(ctx context.Context, m *source.Message) error {
	r := pw.r
	switch body := m.Body.(type) {
	case *msgpb.InsertRequest:
		return pw.insert(ctx, m, body)
	case *msgpb.DeleteRequest:
		return pw.delete(ctx, m, body)
	case *msgpb.CreateCollectionRequest:
		st := r.colls.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
		if !st.inScope || r.droppedOnSource(st) {
			return nil
		}
		if err := pw.flush(ctx); err != nil {
			return err
		}
		hint := collectionFromMessage(body.GetCollectionID(), body.GetSchema(), body.GetPhysicalChannelNames(), body.GetVirtualChannelNames())
		return r.ensureCollection(ctx, st, hint, m.BeginTs)
	case *msgpb.CreatePartitionRequest:
		st := r.colls.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
		if !st.inScope {
			return nil
		}
		if err := pw.flush(ctx); err != nil {
			return err
		}
		if err := r.ensureCollection(ctx, st, nil, m.BeginTs); err != nil {
			return err
		}
		return r.ensurePartition(ctx, st, body.GetPartitionName(), m.BeginTs)
	case *msgpb.DropCollectionRequest:
		return pw.dropCollection(ctx, m, body)
	case *msgpb.DropPartitionRequest:
		return pw.dropPartition(ctx, m, body)
	default:
		r.health.skip("unsupported message "+m.Type.String(), true)
		return nil
	}
}

// ensure makes the collection and partition of a row change exist on the
// target, writing what is pending first so the writer sees source order.
func (pw *packWriter) ensure(ctx context.Context, st *collState, partition string, ts uint64) error {
	if !pw.r.needsCreate(st, partition) {
		return nil
	}
	if err := pw.flush(ctx); err != nil {
		return err
	}
	if err := pw.r.ensureCollection(ctx, st, nil, ts); err != nil {
		return err
	}
	return pw.r.ensurePartition(ctx, st, partition, ts)
}

func (pw *packWriter) insert(ctx context.Context, m *source.Message, body *msgpb.InsertRequest) error {
	r := pw.r
	st := r.colls.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
	if !st.inScope || body.GetNumRows() == 0 || st.isDropped() {
		return nil
	}
	if r.droppedOnSource(st) {
		r.skipChanges(st)
		return nil
	}
	if body.GetVersion() != msgpb.InsertDataVersion_ColumnBased || len(body.GetFieldsData()) == 0 {
		// Row-based inserts predate Milvus 2.2; nothing this daemon supports emits them.
		r.health.skip("row-based insert", true)
		r.log.Warn("skipping a row-based insert message", zap.String("collection", st.coll().Name), zap.Uint64("rows", body.GetNumRows()))
		return nil
	}
	if err := pw.ensure(ctx, st, body.GetPartitionName(), m.BeginTs-1); err != nil {
		return err
	}
	ins := &sink.Insert{Coll: st.coll(), Msg: m, Replay: pw.replay}
	// Milvus writes an upsert as a Delete and an Insert with the same
	// timestamp, next to each other in the pack.
	if n := len(pw.changes); n > 0 {
		if del, ok := pw.changes[n-1].(*sink.Delete); ok && pw.owners[n-1] == st && del.Msg.EndTs == m.EndTs {
			pw.changes[n-1] = &sink.Upsert{Delete: del, Insert: ins}
			return nil
		}
	}
	pw.push(st, ins)
	return nil
}

func (pw *packWriter) delete(ctx context.Context, m *source.Message, body *msgpb.DeleteRequest) error {
	st := pw.r.colls.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
	if !st.inScope || st.isDropped() {
		return nil
	}
	if pw.r.droppedOnSource(st) {
		pw.r.skipChanges(st)
		return nil
	}
	del := &sink.Delete{Coll: st.coll(), Msg: m}
	if del.Keys() == nil {
		return nil
	}
	if err := pw.ensure(ctx, st, body.GetPartitionName(), m.BeginTs-1); err != nil {
		return err
	}
	del.Coll = st.coll() // described by the creation, when it just happened
	pw.push(st, del)
	return nil
}

func (pw *packWriter) push(st *collState, c sink.Change) {
	pw.changes = append(pw.changes, c)
	pw.owners = append(pw.owners, st)
}

// dropCollection hands this channel's drop message to the writer, then
// waits for the drop message of every shard before the collection is
// dropped on the target.
func (pw *packWriter) dropCollection(ctx context.Context, m *source.Message, body *msgpb.DropCollectionRequest) error {
	r := pw.r
	st := r.colls.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
	if !st.inScope || st.isDropped() {
		return nil
	}
	if c := r.claimant(st); c != nil {
		// The target collection of this name is another's now.
		r.log.Info("not dropping the target collection: a live collection of the source has its name",
			zap.String("collection", st.coll().String()), zap.Int64("sourceID", st.id), zap.Int64("claimantID", c.ID))
		st.markDropped()
		return nil
	}
	pw.push(st, &sink.DropShard{Coll: st.coll(), Msg: m})
	if err := pw.flush(ctx); err != nil {
		return err
	}
	key := "collection-" + strconv.FormatInt(st.id, 10)
	return r.drops.arrive(ctx, key, "DropCollection of "+st.coll().String(), pw.pack.Channel, pw.barrierChannels(st), body.GetBase().GetTimestamp(), func() error {
		err := r.apply(ctx, st, &sink.DropCollection{At: sink.At{Ts: m.BeginTs}, Coll: st.coll()})
		if err == nil {
			st.markDropped()
		}
		return err
	})
}

func (pw *packWriter) dropPartition(ctx context.Context, m *source.Message, body *msgpb.DropPartitionRequest) error {
	r := pw.r
	st := r.colls.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
	name := body.GetPartitionName()
	if !st.inScope || st.isDropped() || name == r.defaultPart || st.coll().PartitionKey || r.droppedOnSource(st) {
		return nil
	}
	pw.push(st, &sink.DropShard{Coll: st.coll(), Partition: name, PartitionID: body.GetPartitionID(), Msg: m})
	if err := pw.flush(ctx); err != nil {
		return err
	}
	key := "partition-" + strconv.FormatInt(st.id, 10) + "-" + strconv.FormatInt(body.GetPartitionID(), 10)
	return r.drops.arrive(ctx, key, "DropPartition of "+st.coll().String()+"."+name, pw.pack.Channel, pw.barrierChannels(st), body.GetBase().GetTimestamp(), func() error {
		err := r.apply(ctx, st, &sink.DropPartition{At: sink.At{Ts: m.BeginTs}, Coll: st.coll(), Partition: name})
		if err == nil {
			st.forgetPartition(name)
		}
		return err
	})
}

// barrierChannels are the channels whose drop message a drop waits for: the
// collection's shards as the catalog lists them, or just this channel when
// the catalog never knew the collection.
func (pw *packWriter) barrierChannels(st *collState) []string {
	if chs := st.shardChannels(); len(chs) > 0 {
		return chs
	}
	return []string{pw.pack.Channel}
}

// flush writes the pending changes as one batch and counts them once the
// target acknowledged them.
func (pw *packWriter) flush(ctx context.Context) error {
	if len(pw.changes) == 0 {
		return nil
	}
	b := &sink.Batch{Channel: pw.pack.Channel, BeginTs: pw.pack.BeginTs, EndTs: pw.pack.EndTs, Position: pw.pack.EndPosition, Changes: pw.changes}
	owners := pw.owners
	pw.changes, pw.owners = nil, nil
	if err := pw.r.w.Write(ctx, b); err != nil {
		return err
	}
	for i, c := range b.Changes {
		pw.r.count(owners[i], c)
	}
	return nil
}

// count records an acknowledged change in the status and metrics.
func (r *run) count(st *collState, c sink.Change) {
	var kind string
	switch c.(type) {
	case *sink.Insert:
		kind = "insert"
		st.inserted.Add(c.Rows())
	case *sink.Delete:
		kind = "delete"
		st.deleted.Add(c.Rows())
	case *sink.Upsert:
		kind = "upsert"
		st.upserted.Add(c.Rows())
	default:
		return
	}
	st.ops.Add(1)
	r.health.metrics.addRows(kind, c.Rows())
}
