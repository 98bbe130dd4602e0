package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// applyOperation replays one message of the source's replicate channel
// (database, index, load/release and flush operations). It first waits until
// the data channels the operation depends on have been applied up to the
// operation's timestamp, so that, for example, a flush or an index build on
// the target covers every row the source had before it.
func (r *run) applyOperation(ctx context.Context, msg proto.Message, ts uint64) error {
	at := sink.At{Ts: ts}
	switch m := msg.(type) {
	case *milvuspb.CreateDatabaseRequest:
		if !r.colls.scope.Database(m.GetDbName()) {
			return nil
		}
		return r.ensureDatabase(ctx, r.colls.mapping.TargetDatabase(m.GetDbName()), ts)
	case *milvuspb.DropDatabaseRequest:
		if !r.colls.scope.Database(m.GetDbName()) {
			return nil
		}
		// Milvus drops only empty databases: wait for the collection drops before it.
		if err := r.waitChannels(ctx, "DropDatabase of "+m.GetDbName(), r.progress.channels(), ts); err != nil {
			return err
		}
		return r.apply(ctx, nil, &sink.DropDatabase{At: at, Database: r.colls.mapping.TargetDatabase(m.GetDbName())})
	case *milvuspb.FlushRequest:
		for _, coll := range m.GetCollectionNames() {
			err := r.onCollection(ctx, m.GetDbName(), coll, ts, "Flush", func(c *sink.Collection) sink.Op {
				return &sink.Flush{At: at, Coll: c}
			})
			if err != nil {
				return err
			}
		}
		return nil
	case *milvuspb.CreateIndexRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "CreateIndex", func(c *sink.Collection) sink.Op {
			return &sink.CreateIndex{At: at, Coll: c, Field: m.GetFieldName(), Index: m.GetIndexName(), Params: m.GetExtraParams()}
		})
	case *milvuspb.DropIndexRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "DropIndex", func(c *sink.Collection) sink.Op {
			return &sink.DropIndex{At: at, Coll: c, Field: m.GetFieldName(), Index: m.GetIndexName()}
		})
	case *milvuspb.LoadCollectionRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "LoadCollection", func(c *sink.Collection) sink.Op {
			return &sink.LoadCollection{At: at, Coll: c, Replicas: m.GetReplicaNumber()}
		})
	case *milvuspb.ReleaseCollectionRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "ReleaseCollection", func(c *sink.Collection) sink.Op {
			return &sink.ReleaseCollection{At: at, Coll: c}
		})
	case *milvuspb.LoadPartitionsRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "LoadPartitions", func(c *sink.Collection) sink.Op {
			return &sink.LoadPartitions{At: at, Coll: c, Partitions: m.GetPartitionNames(), Replicas: m.GetReplicaNumber()}
		})
	case *milvuspb.ReleasePartitionsRequest:
		return r.onCollection(ctx, m.GetDbName(), m.GetCollectionName(), ts, "ReleasePartitions", func(c *sink.Collection) sink.Op {
			return &sink.ReleasePartitions{At: at, Coll: c, Partitions: m.GetPartitionNames()}
		})
	default:
		r.health.skip("unsupported operation "+opName(msg), r.opInScope(msg))
		r.log.Debug("skipping replicate-channel operation", zap.String("type", fmt.Sprintf("%T", msg)))
		return nil
	}
}

// onCollection applies an operation on one source collection after the
// collection's channels reached ts and the collection exists on the target.
// An operation on a collection the source drops meanwhile is abandoned.
func (r *run) onCollection(ctx context.Context, db, coll string, ts uint64, op string, build func(*sink.Collection) sink.Op) error {
	if db == "" {
		db = DefaultDatabase
	}
	if !r.colls.scope.Collection(db, coll) {
		return nil
	}
	c, ok := r.meta.collectionByName(ctx, db, coll, ts, catalogWait)
	if !ok {
		r.log.Warn("skipping an operation on a collection the source catalog does not have", zap.String("op", op), zap.String("collection", db+"."+coll))
		// Almost always a collection dropped right after the operation.
		r.health.skip(op+" on a collection the source catalog does not have (dropped)", false)
		return nil
	}
	st := r.colls.resolve(c.ID, db, coll)
	if !isLive(c) {
		return nil // an operation of a collection the source has dropped since
	}
	octx, cancel := st.untilDropped(ctx)
	defer cancel()
	err := r.waitChannels(octx, op+" on "+db+"."+coll, st.shardChannels(), ts)
	if err == nil && !st.isDropped() {
		err = r.ensureCollection(octx, st, nil, ts)
	}
	if err == nil && !st.isDropped() {
		err = r.apply(octx, st, build(st.coll()))
	}
	if err != nil && ctx.Err() == nil && st.isDropped() && errors.Is(err, context.Canceled) {
		return nil // dropped while this operation waited: nothing left to apply it to
	}
	return err
}

// opName is an operation's name from its request type, e.g. "CreateAlias".
func opName(msg proto.Message) string {
	name := string(msg.ProtoReflect().Descriptor().Name())
	return strings.TrimSuffix(name, "Request")
}

// opInScope reports whether an operation the pipeline does not replay
// concerns what the task replicates: a database or collection in scope, or
// users and roles when the task replicates them.
func (r *run) opInScope(msg proto.Message) bool {
	db := ""
	if m, ok := msg.(interface{ GetDbName() string }); ok {
		db = m.GetDbName()
	}
	if db == "" {
		db = DefaultDatabase
	}
	if m, ok := msg.(interface{ GetCollectionName() string }); ok && m.GetCollectionName() != "" {
		return r.colls.scope.Collection(db, m.GetCollectionName())
	}
	if _, ok := msg.(interface{ GetDbName() string }); ok {
		return r.colls.scope.Database(db)
	}
	return r.userRoles
}
