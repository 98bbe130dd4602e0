package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// catalogWait bounds how long a data-channel CreateCollection waits for the
// catalog to mark the collection Created before the message's own schema is
// used instead.
const catalogWait = 10 * time.Second

// replicator holds what the channel workers share: the task's scope and
// mapping, the source catalog view, the target, and what has already been
// made to exist on the target.
type replicator struct {
	scope       Scope
	mapping     NameMapping
	defaultPart string
	target      target
	meta        *metaView
	progress    *progress
	drops       *barrier
	health      *health
	log         *zap.Logger

	mu          sync.Mutex
	collections map[int64]*collState // by source collection ID
	dbs         map[string]bool      // target databases known to exist
}

// collState is the pipeline's resolved view of one source collection. The
// identity fields are set once by resolve; the rest is guarded by mu, which
// also serialises the workers of a multi-shard collection while they create
// the collection or a partition on the target.
type collState struct {
	mu               sync.Mutex
	id               int64
	db, name         string // source names
	targetDB, target string // target names
	inScope          bool
	partitionKey     bool     // rows are routed by Milvus; partitions are not replicated
	channels         []string // distinct source physical channels
	created          bool     // the target collection exists
	dropped          bool     // the source dropped it and so did the target
	partitions       map[string]bool

	// What the target acknowledged for this collection since the pipeline
	// started (added once per target call, not per row).
	inserted, deleted, upserted, ops atomic.Int64
}

func newReplicator(scope Scope, mapping NameMapping, defaultPart string, t target, meta *metaView, log *zap.Logger) *replicator {
	prog := newProgress()
	return &replicator{
		scope: scope, mapping: mapping, defaultPart: defaultPart, target: t, meta: meta,
		progress: prog, drops: newBarrier(prog), health: newHealth(), log: log,
		collections: map[int64]*collState{}, dbs: map[string]bool{},
	}
}

// do runs one target call with retries, timing every attempt.
func (r *replicator) do(ctx context.Context, what string, fn func(context.Context) error) error {
	return retry(ctx, r.health, r.log, stageApply, what, func(ctx context.Context) error {
		start := time.Now()
		err := fn(ctx)
		r.health.metrics.observeApply(what, time.Since(start))
		return err
	})
}

// resolve returns the state of a source collection, building it from the
// catalog view (or, for a collection the catalog no longer knows, from the
// names the message carries).
func (r *replicator) resolve(id int64, msgDB, msgName string) *collState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.collections[id]; ok {
		return st
	}
	st := &collState{id: id, db: msgDB, name: msgName, partitions: map[string]bool{}}
	if st.db == "" {
		st.db = DefaultDatabase
	}
	if c, ok := r.meta.collection(id); ok {
		st.db, st.name = r.meta.dbName(c.DBID), c.Name
		st.partitionKey = hasPartitionKey(c.Schema)
		st.channels = distinct(c.PhysicalChannels)
	}
	st.inScope = r.scope.Collection(st.db, st.name)
	st.targetDB, st.target = r.mapping.Target(st.db, st.name)
	r.collections[id] = st
	return st
}

// markDropped records that the target collection was dropped. The state is
// kept (collection IDs are never reused) so that a late operation on the
// collection, such as an index build the replicate channel delivers after
// the data channels already applied the drop, does not recreate it.
func (st *collState) markDropped() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.dropped, st.created = true, false
}

func (st *collState) isDropped() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.dropped
}

func hasPartitionKey(s *schemapb.CollectionSchema) bool {
	for _, f := range s.GetFields() {
		if f.GetIsPartitionKey() {
			return true
		}
	}
	return false
}

func distinct(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// ensureDatabase creates a target database once per pipeline run.
func (r *replicator) ensureDatabase(ctx context.Context, db string) error {
	if db == DefaultDatabase {
		return nil
	}
	r.mu.Lock()
	known := r.dbs[db]
	r.mu.Unlock()
	if known {
		return nil
	}
	if err := r.do(ctx, "CreateDatabase "+db, func(ctx context.Context) error { return r.target.CreateDatabase(ctx, db) }); err != nil {
		return err
	}
	r.mu.Lock()
	r.dbs[db] = true
	r.mu.Unlock()
	return nil
}

// ensureCollection makes the target collection exist, created from the
// source catalog (schema, shards, consistency level, properties). hint is
// the CreateCollection message from a data channel, used when the catalog
// has not caught up within catalogWait.
func (r *replicator) ensureCollection(ctx context.Context, st *collState, hint *source.Collection) error {
	if !st.inScope {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.created || st.dropped {
		return nil
	}
	c, ok := r.meta.createdCollection(ctx, st.id, catalogWait)
	if !ok || c == nil {
		c = hint
	}
	if c == nil {
		return fmt.Errorf("collection %s.%s (id %d) is not in the source catalog", st.db, st.name, st.id)
	}
	if len(st.channels) == 0 { // resolved before the catalog knew it
		st.channels = distinct(c.PhysicalChannels)
		st.partitionKey = hasPartitionKey(c.Schema)
	}
	spec := sink.CollectionSpec{
		Schema:           c.Schema,
		ShardsNum:        c.ShardsNum,
		ConsistencyLevel: c.ConsistencyLevel,
		Properties:       c.Properties,
	}
	if st.partitionKey {
		spec.NumPartitions = int64(r.meta.partitionCount(st.id))
	}
	if err := r.ensureDatabase(ctx, st.targetDB); err != nil {
		return err
	}
	err := r.do(ctx, "CreateCollection "+st.target, func(ctx context.Context) error {
		return r.target.CreateCollection(ctx, st.targetDB, st.target, spec)
	})
	if err != nil {
		return err
	}
	r.log.Info("collection created on target", zap.String("source", st.db+"."+st.name), zap.String("target", st.targetDB+"."+st.target))
	st.created = true
	st.ops.Add(1)
	return nil
}

// ensurePartition makes a named partition exist on the target. The default
// partition always exists, and partition-key collections manage their own.
func (r *replicator) ensurePartition(ctx context.Context, st *collState, name string) error {
	if name == "" || name == r.defaultPart {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.partitionKey || st.partitions[name] || st.dropped {
		return nil
	}
	err := r.do(ctx, "CreatePartition "+st.target+"."+name, func(ctx context.Context) error {
		return r.target.CreatePartition(ctx, st.targetDB, st.target, name)
	})
	if err == nil {
		st.partitions[name] = true
		st.ops.Add(1)
	}
	return err
}

// targetPartition is the partition a row operation names on the target.
func (st *collState) targetPartition(name string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.partitionKey {
		return ""
	}
	return name
}

// shardChannels returns the collection's distinct source physical channels.
func (st *collState) shardChannels() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.channels
}

// collectionFromMessage builds a catalog-like description from a
// data-channel CreateCollection message, as a fallback for ensureCollection.
func collectionFromMessage(id int64, schemaBytes []byte, pchannels []string, vchannels []string) *source.Collection {
	s := &schemapb.CollectionSchema{}
	if err := proto.Unmarshal(schemaBytes, s); err != nil {
		return nil
	}
	return &source.Collection{ID: id, Name: s.GetName(), Schema: s, ShardsNum: int32(len(vchannels)),
		PhysicalChannels: pchannels, VirtualChannels: vchannels}
}
