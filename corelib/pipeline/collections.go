package pipeline

import (
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// collections is the pipeline's registry of the source collections it met,
// by source collection ID: a name can be dropped and created again, an ID
// never comes back. Each entry says whether the task replicates the
// collection, where it goes on the target, and what this run has made exist
// there.
type collections struct {
	scope   Scope
	mapping NameMapping
	meta    *metaView

	mu   sync.Mutex
	byID map[int64]*collState
}

func newCollections(scope Scope, mapping NameMapping, meta *metaView) *collections {
	return &collections{scope: scope, mapping: mapping, meta: meta, byID: map[int64]*collState{}}
}

// collState is one source collection. The identity (id, inScope, names) is
// fixed by resolve; the description the writer sees (view) is filled in once
// the catalog knows the collection. No lock is ever held across a call to the
// writer: creations are single-flight (onceFlight).
type collState struct {
	id      int64
	inScope bool

	mu         sync.Mutex
	view       *sink.Collection // immutable; replaced when the description is learned
	channels   []string         // distinct source physical channels
	partitions map[string]*onceFlight

	created   onceFlight
	dropped   atomic.Bool
	droppedCh chan struct{} // closed by markDropped

	// What the target acknowledged for this collection since the pipeline
	// started: rows by kind, and operations (DDL and DML messages).
	inserted, deleted, upserted, ops atomic.Int64
}

// resolve returns the state of a source collection, building it from the
// catalog view (or, for a collection the catalog does not know, from the
// names the message carries).
func (cs *collections) resolve(id int64, msgDB, msgName string) *collState {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if st, ok := cs.byID[id]; ok {
		return st
	}
	view := &sink.Collection{ID: id, Database: msgDB, Name: msgName}
	if view.Database == "" {
		view.Database = DefaultDatabase
	}
	st := &collState{id: id, partitions: map[string]*onceFlight{}, droppedCh: make(chan struct{})}
	if c, ok := cs.meta.collection(id); ok {
		view.Database, view.Name = cs.meta.dbName(c.DBID), c.Name
		describe(view, c)
		st.channels = distinct(c.PhysicalChannels)
	}
	st.inScope = cs.scope.Collection(view.Database, view.Name)
	view.TargetDatabase, view.TargetName = cs.mapping.Target(view.Database, view.Name)
	st.view = view
	cs.byID[id] = st
	return st
}

// describe fills a collection's source description in.
func describe(view *sink.Collection, c *source.Collection) {
	view.Info = c
	view.PartitionKey = hasPartitionKey(c.Schema)
}

// coll is the collection as the writer sees it.
func (st *collState) coll() *sink.Collection {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.view
}

// learn records the source description of a collection resolved before the
// catalog knew it.
func (st *collState) learn(c *source.Collection) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.view.Info != nil || c == nil {
		return
	}
	view := *st.view
	describe(&view, c)
	st.view = &view
	st.channels = distinct(c.PhysicalChannels)
}

// shardChannels returns the collection's distinct source physical channels.
func (st *collState) shardChannels() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.channels
}

// partition returns the single-flight creation of a named partition.
func (st *collState) partition(name string) *onceFlight {
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.partitions[name]
	if o == nil {
		o = &onceFlight{}
		st.partitions[name] = o
	}
	return o
}

// forgetPartition lets a dropped partition be created again.
func (st *collState) forgetPartition(name string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.partitions, name)
}

// markDropped records that the target collection was dropped. The state is
// kept (collection IDs are never reused) so that a late operation on the
// collection, such as an index build the replicate channel delivers after
// the data channels already applied the drop, does not recreate it.
func (st *collState) markDropped() {
	if st.dropped.CompareAndSwap(false, true) {
		close(st.droppedCh)
	}
}

func (st *collState) isDropped() bool { return st.dropped.Load() }

// untilDropped derives a context that also ends when the collection is
// dropped: an operation waiting for, or retrying on, a collection the
// source dropped meanwhile has nothing left to apply to.
func (st *collState) untilDropped(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-st.droppedCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// statuses lists the in-scope collections met so far, by id.
func (cs *collections) statuses() []corelib.CollectionStatus {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]corelib.CollectionStatus, 0, len(cs.byID))
	for _, st := range cs.byID {
		if !st.inScope {
			continue
		}
		v := st.coll()
		out = append(out, corelib.CollectionStatus{
			ID: st.id, Database: v.Database, Name: v.Name,
			Inserted: st.inserted.Load(), Deleted: st.deleted.Load(), Upserted: st.upserted.Load(), Operations: st.ops.Load(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// onceFlight runs a creation once: concurrent callers wait for the one
// running (without holding a lock across it), a failure lets the next caller
// try again, a success makes every later call return at once.
type onceFlight struct {
	mu      sync.Mutex
	done    bool
	running chan struct{}
}

func (o *onceFlight) isDone() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done
}

func (o *onceFlight) do(ctx context.Context, fn func() error) error {
	for {
		o.mu.Lock()
		if o.done {
			o.mu.Unlock()
			return nil
		}
		if wait := o.running; wait != nil {
			o.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		running := make(chan struct{})
		o.running = running
		o.mu.Unlock()

		err := fn()
		o.mu.Lock()
		o.running = nil
		o.done = err == nil
		o.mu.Unlock()
		close(running)
		return err
	}
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

// collectionFromMessage builds a catalog-like description from a
// data-channel CreateCollection message, as a fallback when the catalog has
// not caught up.
func collectionFromMessage(id int64, schemaBytes []byte, pchannels []string, vchannels []string) *source.Collection {
	s := &schemapb.CollectionSchema{}
	if err := proto.Unmarshal(schemaBytes, s); err != nil {
		return nil
	}
	return &source.Collection{ID: id, Name: s.GetName(), Schema: s, ShardsNum: int32(len(vchannels)),
		PhysicalChannels: pchannels, VirtualChannels: vchannels}
}
