package milvus

import (
	"context"
	"errors"
	"sync"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// defaultDatabase exists on every Milvus and is never created or dropped.
const defaultDatabase = "default"

// maxBatchBytes bounds one merged upsert: large enough that the target
// receives few calls, small enough to stay below Milvus's gRPC message limit
// (64 MiB by default) and keep the pipeline's memory bounded.
const maxBatchBytes = 16 << 20

// MergeBelowBytes: two messages of at least this size are not merged. Each
// already makes a call big enough to amortise its overhead, and merging would
// copy every vector once more and keep both copies alive until the call
// (measured: 22% of the daemon's allocated bytes at dim 768 x 5,000-row
// inserts). Small messages still merge with anything, so a trickle of small
// inserts between large ones does not add calls.
const MergeBelowBytes = 4 << 20

// apiWriter is writer mode "api": every change goes through the target's
// public API, inserts merged into upserts keyed by primary key.
type apiWriter struct {
	env sink.Env
	c   APITarget
	// closeConn closes the connection; nil when the writer does not own it.
	closeConn func() error

	mu  sync.Mutex
	dbs map[string]bool // target databases known to exist
}

var _ sink.Writer = (*apiWriter)(nil)

// APITarget is the part of the Milvus API the "api" writer calls; *Client
// implements it against a real Milvus, tests substitute a recorder.
type APITarget interface {
	CreateDatabase(ctx context.Context, db string) error
	DropDatabase(ctx context.Context, db string) error
	CreateCollection(ctx context.Context, db, coll string, spec CollectionSpec) error
	DropCollection(ctx context.Context, db, coll string) error
	CreatePartition(ctx context.Context, db, coll, partition string) error
	DropPartition(ctx context.Context, db, coll, partition string) error
	Upsert(ctx context.Context, db, coll, partition string, columns []*schemapb.FieldData, numRows uint32) error
	Insert(ctx context.Context, db, coll, partition string, columns []*schemapb.FieldData, numRows uint32) error
	Delete(ctx context.Context, db, coll, partition string, keys *schemapb.IDs) error
	CreateIndex(ctx context.Context, db, coll, field, indexName string, params []*commonpb.KeyValuePair) error
	DropIndex(ctx context.Context, db, coll, field, indexName string) error
	LoadCollection(ctx context.Context, db, coll string, replicas int32) error
	ReleaseCollection(ctx context.Context, db, coll string) error
	LoadPartitions(ctx context.Context, db, coll string, partitions []string, replicas int32) error
	ReleasePartitions(ctx context.Context, db, coll string, partitions []string) error
	Flush(ctx context.Context, db string, colls []string) error
}

var _ APITarget = (*Client)(nil)

// NewAPIWriter returns an "api" writer calling t; the caller owns t's
// connection.
func NewAPIWriter(env sink.Env, t APITarget) sink.Writer { return newAPIWriter(env, t, nil) }

func newAPIWriter(env sink.Env, c APITarget, closeConn func() error) *apiWriter {
	if env.Log == nil {
		env.Log = zap.NewNop()
	}
	return &apiWriter{env: env, c: c, closeConn: closeConn, dbs: map[string]bool{}}
}

func (w *apiWriter) Info() sink.Info { return sink.Info{} }

func (w *apiWriter) Close() error {
	if w.closeConn == nil {
		return nil
	}
	return w.closeConn()
}

// Apply performs one operation through the target's RPC of the same name.
func (w *apiWriter) Apply(ctx context.Context, op sink.Op) error {
	switch o := op.(type) {
	case *sink.CreateDatabase:
		return w.ensureDatabase(ctx, o.Database)
	case *sink.DropDatabase:
		return w.dropDatabase(ctx, o.Database)
	case *sink.CreateCollection:
		if o.Fresh {
			if err := w.env.Call(ctx, "DropCollection "+o.Coll.Target(), func(ctx context.Context) error {
				return w.c.DropCollection(ctx, o.Coll.TargetDatabase, o.Coll.TargetName)
			}); err != nil {
				return err
			}
		}
		return w.createCollection(ctx, o.Coll)
	case *sink.DropCollection:
		err := w.call(ctx, op, o.Coll.Target(), func(ctx context.Context) error {
			return w.c.DropCollection(ctx, o.Coll.TargetDatabase, o.Coll.TargetName)
		})
		if err == nil {
			w.env.Log.Info("collection dropped on target", zap.String("target", o.Coll.Target()))
		}
		return err
	case *sink.CreatePartition:
		return w.call(ctx, op, o.Coll.Target()+"."+o.Partition, func(ctx context.Context) error {
			return w.c.CreatePartition(ctx, o.Coll.TargetDatabase, o.Coll.TargetName, o.Partition)
		})
	case *sink.DropPartition:
		return w.call(ctx, op, o.Coll.Target()+"."+o.Partition, func(ctx context.Context) error {
			return w.c.DropPartition(ctx, o.Coll.TargetDatabase, o.Coll.TargetName, o.Partition)
		})
	case *sink.CreateIndex:
		return w.call(ctx, op, o.Coll.TargetName, func(ctx context.Context) error {
			return w.c.CreateIndex(ctx, o.Coll.TargetDatabase, o.Coll.TargetName, o.Field, o.Index, o.Params)
		})
	case *sink.DropIndex:
		return w.call(ctx, op, o.Coll.TargetName, func(ctx context.Context) error {
			return w.c.DropIndex(ctx, o.Coll.TargetDatabase, o.Coll.TargetName, o.Field, o.Index)
		})
	case *sink.LoadCollection:
		return w.call(ctx, op, o.Coll.TargetName, func(ctx context.Context) error {
			return w.c.LoadCollection(ctx, o.Coll.TargetDatabase, o.Coll.TargetName, o.Replicas)
		})
	case *sink.ReleaseCollection:
		return w.call(ctx, op, o.Coll.TargetName, func(ctx context.Context) error {
			return w.c.ReleaseCollection(ctx, o.Coll.TargetDatabase, o.Coll.TargetName)
		})
	case *sink.LoadPartitions:
		return w.call(ctx, op, o.Coll.TargetName, func(ctx context.Context) error {
			return w.c.LoadPartitions(ctx, o.Coll.TargetDatabase, o.Coll.TargetName, o.Partitions, o.Replicas)
		})
	case *sink.ReleasePartitions:
		return w.call(ctx, op, o.Coll.TargetName, func(ctx context.Context) error {
			return w.c.ReleasePartitions(ctx, o.Coll.TargetDatabase, o.Coll.TargetName, o.Partitions)
		})
	case *sink.Flush:
		return w.call(ctx, op, o.Coll.TargetName, func(ctx context.Context) error {
			return w.c.Flush(ctx, o.Coll.TargetDatabase, []string{o.Coll.TargetName})
		})
	}
	return errors.Join(sink.ErrUnsupported, errors.New(op.Name()))
}

// call runs one target call named after the operation and its object.
func (w *apiWriter) call(ctx context.Context, op sink.Op, object string, fn func(context.Context) error) error {
	return w.env.Call(ctx, op.Name()+" "+object, fn)
}

// ensureDatabase creates a target database once per run.
func (w *apiWriter) ensureDatabase(ctx context.Context, db string) error {
	if db == defaultDatabase || db == "" {
		return nil
	}
	w.mu.Lock()
	known := w.dbs[db]
	w.mu.Unlock()
	if known {
		return nil
	}
	if err := w.env.Call(ctx, "CreateDatabase "+db, func(ctx context.Context) error { return w.c.CreateDatabase(ctx, db) }); err != nil {
		return err
	}
	w.mu.Lock()
	w.dbs[db] = true
	w.mu.Unlock()
	return nil
}

// dropDatabase drops a target database. Milvus drops only empty databases,
// so while the drops of its collections are still on their way through the
// data channels the target refuses, and the call is retried until they
// arrived.
func (w *apiWriter) dropDatabase(ctx context.Context, db string) error {
	if db == defaultDatabase || db == "" {
		return nil
	}
	err := w.env.Call(ctx, "DropDatabase "+db, func(ctx context.Context) error { return w.c.DropDatabase(ctx, db) })
	if err == nil {
		w.mu.Lock()
		delete(w.dbs, db)
		w.mu.Unlock()
	}
	return err
}

// createCollection makes the target collection exist, created from the
// source catalog's description (schema, shards, consistency level,
// properties), in its target database.
func (w *apiWriter) createCollection(ctx context.Context, coll *sink.Collection) error {
	if coll.Info == nil {
		return &sink.TargetError{Op: "CreateCollection", Reason: "collection " + coll.String() + " has no source description to create it from"}
	}
	if err := w.ensureDatabase(ctx, coll.TargetDatabase); err != nil {
		return err
	}
	spec := collectionSpec(coll)
	err := w.env.Call(ctx, "CreateCollection "+coll.TargetName, func(ctx context.Context) error {
		return w.c.CreateCollection(ctx, coll.TargetDatabase, coll.TargetName, spec)
	})
	if err == nil {
		w.env.Log.Info("collection created on target", zap.String("source", coll.String()), zap.String("target", coll.Target()))
	}
	return err
}

// collectionSpec is what the target needs to recreate a source collection.
func collectionSpec(coll *sink.Collection) CollectionSpec {
	c := coll.Info
	spec := CollectionSpec{Schema: c.Schema, ShardsNum: c.ShardsNum, ConsistencyLevel: c.ConsistencyLevel, Properties: c.Properties}
	if coll.PartitionKey {
		for _, p := range c.Partitions {
			if p.State == metapb.PartitionState_PartitionCreated {
				spec.NumPartitions++
			}
		}
	}
	return spec
}

// Write replays a batch in order, merging consecutive inserts into the same
// collection and partition into one call: plain inserts, or upserts for rows
// that may already be on the target (Insert.Replay) and for the source's own
// upserts.
func (w *apiWriter) Write(ctx context.Context, b *sink.Batch) error {
	m := &merger{w: w}
	for _, ch := range b.Changes {
		var err error
		switch c := ch.(type) {
		case *sink.Insert:
			err = m.add(ctx, c)
		case *sink.Delete:
			err = m.delete(ctx, c)
		case *sink.Upsert:
			if err = m.delete(ctx, c.Delete); err == nil {
				err = m.addAs(ctx, c.Insert, true)
			}
		case *sink.DropShard:
			err = m.flush(ctx) // the drop follows as an operation
		}
		if err != nil {
			return err
		}
	}
	return m.flush(ctx)
}

// targetPartition is the partition a row operation names on the target:
// none for partition-key collections, where Milvus routes each row itself.
func targetPartition(coll *sink.Collection, name string) string {
	if coll.PartitionKey {
		return ""
	}
	return name
}

// merger accumulates consecutive inserts of one Write into one call.
type merger struct {
	w      *apiWriter
	coll   *sink.Collection
	upsert bool // the pending rows are written as an upsert
	batch  UpsertBatch
}

func (m *merger) add(ctx context.Context, c *sink.Insert) error {
	return m.addAs(ctx, c, c.Replay)
}

// addAs adds an insert's rows, to be written as an upsert or not.
func (m *merger) addAs(ctx context.Context, c *sink.Insert, upsert bool) error {
	req := c.Request()
	size := len(c.Msg.Raw)
	partition := targetPartition(c.Coll, req.GetPartitionName())
	if m.coll != nil && (m.coll != c.Coll || m.upsert != upsert || m.batch.Partition != partition || m.batch.Bytes+size > maxBatchBytes ||
		(size >= MergeBelowBytes && m.batch.Bytes >= MergeBelowBytes)) {
		if err := m.flush(ctx); err != nil {
			return err
		}
	}
	if m.coll == nil {
		m.start(c.Coll, partition)
		m.upsert = upsert
	}
	err := m.batch.Append(req.GetFieldsData(), uint32(req.GetNumRows()), size)
	if errors.Is(err, ErrColumnsDiffer) {
		if err := m.flush(ctx); err != nil {
			return err
		}
		m.start(c.Coll, partition)
		m.upsert = upsert
		err = m.batch.Append(req.GetFieldsData(), uint32(req.GetNumRows()), size)
	}
	return err
}

func (m *merger) start(coll *sink.Collection, partition string) {
	m.coll = coll
	m.batch = UpsertBatch{DB: coll.TargetDatabase, Collection: coll.TargetName, Partition: partition}
}

// flush writes the pending merged upsert, if any.
func (m *merger) flush(ctx context.Context) error {
	if m.coll == nil {
		return nil
	}
	b, upsert := m.batch, m.upsert
	m.coll, m.batch = nil, UpsertBatch{}
	if !upsert {
		return m.w.env.Call(ctx, "Insert "+b.Collection, func(ctx context.Context) error {
			return m.w.c.Insert(ctx, b.DB, b.Collection, b.Partition, b.Columns, b.Rows)
		})
	}
	return m.w.env.Call(ctx, "Upsert "+b.Collection, func(ctx context.Context) error {
		return m.w.c.Upsert(ctx, b.DB, b.Collection, b.Partition, b.Columns, b.Rows)
	})
}

func (m *merger) delete(ctx context.Context, c *sink.Delete) error {
	if err := m.flush(ctx); err != nil {
		return err
	}
	keys := c.Keys()
	if keys == nil {
		return nil
	}
	partition := targetPartition(c.Coll, c.Request().GetPartitionName())
	return m.w.env.Call(ctx, "Delete "+c.Coll.TargetName, func(ctx context.Context) error {
		return m.w.c.Delete(ctx, c.Coll.TargetDatabase, c.Coll.TargetName, partition, keys)
	})
}
