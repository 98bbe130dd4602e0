package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// maxBatchBytes bounds one merged upsert: large enough that the target
// receives few calls, small enough to stay below Milvus's gRPC message limit
// (64 MiB by default) and keep the pipeline's memory bounded.
const maxBatchBytes = 16 << 20

// mergeBelowBytes: two messages of at least this size are not merged. Each
// already makes a call big enough to amortise its overhead, and merging would
// copy every vector once more and keep both copies alive until the call
// (measured: 22% of the daemon's allocated bytes at dim 768 x 5,000-row
// inserts). Small messages still merge with anything, so a trickle of small
// inserts between large ones does not add calls.
const mergeBelowBytes = 4 << 20

// dataMsg is one decoded message of a data channel, with the size of its
// payload on the wire.
type dataMsg struct {
	msg  proto.Message
	size int
	ts   uint64 // the message's EndTs
}

// packApplier replays one pack of a physical channel, merging consecutive
// inserts into the same collection and partition.
type packApplier struct {
	r       *replicator
	channel string
	batch   sink.UpsertBatch
	batchSt *collState
	// rows of the pending batch that are plain inserts / halves of upserts
	batchInserted, batchUpserted int64
	// del is the last applied delete, not yet counted: Milvus writes an
	// upsert as a Delete and an Insert with the same timestamp, so it counts
	// as a delete only once the next message shows it was not an upsert.
	del *appliedDelete
}

type appliedDelete struct {
	st     *collState
	ts     uint64
	rows   int64
	upsert bool
}

// applyPack replays the messages of one time-tick pack, in order, and
// returns once the target acknowledged all of them.
func (r *replicator) applyPack(ctx context.Context, channel string, msgs []dataMsg) error {
	a := &packApplier{r: r, channel: channel}
	for _, m := range msgs {
		if err := a.apply(ctx, m); err != nil {
			return err
		}
	}
	if err := a.flush(ctx); err != nil {
		return err
	}
	a.settleDelete()
	return nil
}

// settleDelete counts the pending delete as a delete unless an insert with
// its timestamp made it an upsert.
func (a *packApplier) settleDelete() {
	d := a.del
	a.del = nil
	if d == nil || d.upsert {
		return
	}
	d.st.deleted.Add(d.rows)
	a.r.health.metrics.addRows("delete", d.rows)
}

// isUpsertHalf reports whether an insert at ts belongs to an upsert whose
// delete was just applied, and settles the pending delete otherwise.
func (a *packApplier) isUpsertHalf(st *collState, ts uint64) bool {
	if a.del != nil && a.del.st == st && a.del.ts == ts {
		a.del.upsert = true
		return true
	}
	a.settleDelete()
	return false
}

func (a *packApplier) apply(ctx context.Context, m dataMsg) error {
	if _, ok := m.msg.(*msgpb.InsertRequest); !ok {
		if err := a.flush(ctx); err != nil {
			return err
		}
		a.settleDelete()
	}
	switch msg := m.msg.(type) {
	case *msgpb.InsertRequest:
		return a.insert(ctx, msg, m.size, m.ts)
	case *msgpb.DeleteRequest:
		return a.delete(ctx, msg, m.ts)
	case *msgpb.CreateCollectionRequest:
		if err := a.flush(ctx); err != nil {
			return err
		}
		st := a.r.resolve(msg.GetCollectionID(), msg.GetDbName(), msg.GetCollectionName())
		hint := collectionFromMessage(msg.GetCollectionID(), msg.GetSchema(), msg.GetPhysicalChannelNames(), msg.GetVirtualChannelNames())
		return a.r.ensureCollection(ctx, st, hint)
	case *msgpb.CreatePartitionRequest:
		st := a.r.resolve(msg.GetCollectionID(), msg.GetDbName(), msg.GetCollectionName())
		if err := a.r.ensureCollection(ctx, st, nil); err != nil {
			return err
		}
		return a.r.ensurePartition(ctx, st, msg.GetPartitionName())
	case *msgpb.DropCollectionRequest:
		if err := a.flush(ctx); err != nil {
			return err
		}
		return a.dropCollection(ctx, msg)
	case *msgpb.DropPartitionRequest:
		if err := a.flush(ctx); err != nil {
			return err
		}
		return a.dropPartition(ctx, msg)
	default:
		a.r.health.skip(fmt.Sprintf("%T", m.msg))
		return nil
	}
}

func (a *packApplier) insert(ctx context.Context, msg *msgpb.InsertRequest, size int, ts uint64) error {
	st := a.r.resolve(msg.GetCollectionID(), msg.GetDbName(), msg.GetCollectionName())
	if !st.inScope || msg.GetNumRows() == 0 {
		return nil
	}
	if msg.GetVersion() != msgpb.InsertDataVersion_ColumnBased || len(msg.GetFieldsData()) == 0 {
		// Row-based inserts predate Milvus 2.2; nothing this daemon supports emits them.
		a.r.health.skip("row-based InsertRequest")
		a.r.log.Warn("skipping a row-based insert message", zap.String("collection", st.name), zap.Uint64("rows", msg.GetNumRows()))
		return nil
	}
	partition := st.targetPartition(msg.GetPartitionName())
	if a.batchSt != nil && (a.batchSt != st || a.batch.Partition != partition || a.batch.Bytes+size > maxBatchBytes ||
		(size >= mergeBelowBytes && a.batch.Bytes >= mergeBelowBytes)) {
		if err := a.flush(ctx); err != nil {
			return err
		}
	}
	if err := a.r.ensureCollection(ctx, st, nil); err != nil {
		return err
	}
	if err := a.r.ensurePartition(ctx, st, partition); err != nil {
		return err
	}
	if a.batchSt == nil {
		a.batchSt = st
		a.batch = sink.UpsertBatch{DB: st.targetDB, Collection: st.target, Partition: partition}
	}
	err := a.batch.Append(msg.GetFieldsData(), uint32(msg.GetNumRows()), size)
	if errors.Is(err, sink.ErrColumnsDiffer) {
		if err := a.flush(ctx); err != nil {
			return err
		}
		a.batchSt = st
		a.batch = sink.UpsertBatch{DB: st.targetDB, Collection: st.target, Partition: partition}
		err = a.batch.Append(msg.GetFieldsData(), uint32(msg.GetNumRows()), size)
	}
	if err == nil {
		if a.isUpsertHalf(st, ts) {
			a.batchUpserted += int64(msg.GetNumRows())
		} else {
			a.batchInserted += int64(msg.GetNumRows())
		}
	}
	return err
}

// flush writes the pending merged upsert, if any.
func (a *packApplier) flush(ctx context.Context) error {
	if a.batchSt == nil {
		return nil
	}
	b, st, inserted, upserted := a.batch, a.batchSt, a.batchInserted, a.batchUpserted
	a.batchSt, a.batch, a.batchInserted, a.batchUpserted = nil, sink.UpsertBatch{}, 0, 0
	err := a.r.do(ctx, "Upsert "+b.Collection, func(ctx context.Context) error {
		return a.r.target.Upsert(ctx, b.DB, b.Collection, b.Partition, b.Columns, b.Rows)
	})
	if err == nil {
		st.ops.Add(1)
		st.inserted.Add(inserted)
		st.upserted.Add(upserted)
		a.r.health.metrics.addRows("insert", inserted)
		a.r.health.metrics.addRows("upsert", upserted)
	}
	return err
}

func (a *packApplier) delete(ctx context.Context, msg *msgpb.DeleteRequest, ts uint64) error {
	st := a.r.resolve(msg.GetCollectionID(), msg.GetDbName(), msg.GetCollectionName())
	if !st.inScope {
		return nil
	}
	keys := msg.GetPrimaryKeys()
	if keys.GetIdField() == nil && len(msg.GetInt64PrimaryKeys()) > 0 {
		keys = &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: msg.GetInt64PrimaryKeys()}}}
	}
	if keys.GetIdField() == nil {
		return nil
	}
	if err := a.r.ensureCollection(ctx, st, nil); err != nil {
		return err
	}
	partition := st.targetPartition(msg.GetPartitionName())
	err := a.r.do(ctx, "Delete "+st.target, func(ctx context.Context) error {
		return a.r.target.Delete(ctx, st.targetDB, st.target, partition, keys)
	})
	if err == nil {
		st.ops.Add(1)
		a.del = &appliedDelete{st: st, ts: ts, rows: keyCount(keys)}
	}
	return err
}

func keyCount(ids *schemapb.IDs) int64 {
	if ints := ids.GetIntId(); ints != nil {
		return int64(len(ints.GetData()))
	}
	return int64(len(ids.GetStrId().GetData()))
}

// dropCollection waits for the drop message of every shard, then drops.
func (a *packApplier) dropCollection(ctx context.Context, msg *msgpb.DropCollectionRequest) error {
	st := a.r.resolve(msg.GetCollectionID(), msg.GetDbName(), msg.GetCollectionName())
	if !st.inScope {
		return nil
	}
	key := "collection-" + strconv.FormatInt(st.id, 10)
	return a.r.drops.arrive(ctx, key, a.channel, a.barrierChannels(st), msg.GetBase().GetTimestamp(), func() error {
		err := a.r.do(ctx, "DropCollection "+st.target, func(ctx context.Context) error {
			return a.r.target.DropCollection(ctx, st.targetDB, st.target)
		})
		if err == nil {
			st.markDropped()
			st.ops.Add(1)
			a.r.log.Info("collection dropped on target", zap.String("target", st.targetDB+"."+st.target))
		}
		return err
	})
}

func (a *packApplier) dropPartition(ctx context.Context, msg *msgpb.DropPartitionRequest) error {
	st := a.r.resolve(msg.GetCollectionID(), msg.GetDbName(), msg.GetCollectionName())
	name := msg.GetPartitionName()
	if !st.inScope || name == a.r.defaultPart || st.targetPartition(name) == "" {
		return nil
	}
	key := "partition-" + strconv.FormatInt(st.id, 10) + "-" + strconv.FormatInt(msg.GetPartitionID(), 10)
	return a.r.drops.arrive(ctx, key, a.channel, a.barrierChannels(st), msg.GetBase().GetTimestamp(), func() error {
		err := a.r.do(ctx, "DropPartition "+st.target+"."+name, func(ctx context.Context) error {
			return a.r.target.DropPartition(ctx, st.targetDB, st.target, name)
		})
		if err == nil {
			st.mu.Lock()
			delete(st.partitions, name)
			st.mu.Unlock()
			st.ops.Add(1)
		}
		return err
	})
}

// barrierChannels are the channels whose drop message a drop waits for: the
// collection's shards as the catalog lists them, or just this channel when
// the catalog never knew the collection.
func (a *packApplier) barrierChannels(st *collState) []string {
	if chs := st.shardChannels(); len(chs) > 0 {
		return chs
	}
	return []string{a.channel}
}
