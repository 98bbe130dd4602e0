package pipeline

import (
	"context"
	"fmt"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// applyOperation replays one message of the source's replicate channel
// (database, index, load/release and flush operations). It first waits until
// the data channels the operation depends on have been applied up to the
// operation's timestamp, so that, for example, a flush or an index build on
// the target covers every row the source had before it.
func (r *replicator) applyOperation(ctx context.Context, msg proto.Message, ts uint64) error {
	switch m := msg.(type) {
	case *milvuspb.CreateDatabaseRequest:
		if !r.scope.Database(m.GetDbName()) {
			return nil
		}
		return r.ensureDatabase(ctx, r.mapping.TargetDatabase(m.GetDbName()))
	case *milvuspb.DropDatabaseRequest:
		if !r.scope.Database(m.GetDbName()) {
			return nil
		}
		// Milvus drops only empty databases: wait for the collection drops before it.
		if err := r.progress.waitAll(ctx, r.progress.channels(), ts); err != nil {
			return err
		}
		return r.dropDatabase(ctx, r.mapping.TargetDatabase(m.GetDbName()))
	case *milvuspb.FlushRequest:
		for _, coll := range m.GetCollectionNames() {
			err := r.onCollection(ctx, m.GetDbName(), coll, ts, "Flush", func(ctx context.Context, st *collState) error {
				return r.target.Flush(ctx, st.targetDB, []string{st.target})
			})
			if err != nil {
				return err
			}
		}
		return nil
	case *milvuspb.CreateIndexRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "CreateIndex", func(ctx context.Context, st *collState) error {
			return r.target.CreateIndex(ctx, st.targetDB, st.target, m.GetFieldName(), m.GetIndexName(), m.GetExtraParams())
		})
	case *milvuspb.DropIndexRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "DropIndex", func(ctx context.Context, st *collState) error {
			return r.target.DropIndex(ctx, st.targetDB, st.target, m.GetFieldName(), m.GetIndexName())
		})
	case *milvuspb.LoadCollectionRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "LoadCollection", func(ctx context.Context, st *collState) error {
			return r.target.LoadCollection(ctx, st.targetDB, st.target, m.GetReplicaNumber())
		})
	case *milvuspb.ReleaseCollectionRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "ReleaseCollection", func(ctx context.Context, st *collState) error {
			return r.target.ReleaseCollection(ctx, st.targetDB, st.target)
		})
	case *milvuspb.LoadPartitionsRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "LoadPartitions", func(ctx context.Context, st *collState) error {
			return r.target.LoadPartitions(ctx, st.targetDB, st.target, m.GetPartitionNames(), m.GetReplicaNumber())
		})
	case *milvuspb.ReleasePartitionsRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "ReleasePartitions", func(ctx context.Context, st *collState) error {
			return r.target.ReleasePartitions(ctx, st.targetDB, st.target, m.GetPartitionNames())
		})
	default:
		r.health.skip(fmt.Sprintf("%T", msg))
		r.log.Debug("skipping replicate-channel operation", zap.String("type", fmt.Sprintf("%T", msg)))
		return nil
	}
}

// onCollection applies an operation on one source collection after the
// collection's channels reached ts and the collection exists on the target.
func (r *replicator) onCollection(ctx context.Context, db, coll string, ts uint64, op string, fn func(context.Context, *collState) error) error {
	if db == "" {
		db = DefaultDatabase
	}
	if !r.scope.Collection(db, coll) {
		return nil
	}
	c, ok := r.meta.collectionByName(ctx, db, coll, catalogWait)
	if !ok {
		r.log.Warn("skipping an operation on a collection the source catalog does not have", zap.String("op", op), zap.String("collection", db+"."+coll))
		r.health.skip(op + " on an unknown collection")
		return nil
	}
	st := r.resolve(c.ID, db, coll)
	if err := r.progress.waitAll(ctx, st.shardChannels(), ts); err != nil {
		return err
	}
	if st.isDropped() {
		return nil
	}
	if err := r.ensureCollection(ctx, st, nil); err != nil {
		return err
	}
	err := r.do(ctx, op+" "+st.target, func(ctx context.Context) error {
		if st.isDropped() { // dropped while this operation waited: nothing left to apply it to
			return nil
		}
		return fn(ctx, st)
	})
	if err == nil {
		st.ops.Add(1)
	}
	return err
}

// dropDatabase drops a target database. Milvus drops only empty databases, so
// while the drops of its collections are still on their way through the data
// channels the target refuses, and the drop is retried until they arrived.
func (r *replicator) dropDatabase(ctx context.Context, db string) error {
	if db == DefaultDatabase {
		return nil
	}
	err := r.do(ctx, "DropDatabase "+db, func(ctx context.Context) error { return r.target.DropDatabase(ctx, db) })
	if err == nil {
		r.mu.Lock()
		delete(r.dbs, db)
		r.mu.Unlock()
	}
	return err
}
