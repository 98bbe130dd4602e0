package pipeline

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// metaView is the pipeline's picture of the source catalog: the listing it
// started from, kept current by the catalog watch. Collections stay in the
// view after the source drops them, because the drop messages on the data
// channels may arrive after the catalog forgot the collection and the drop
// barrier still needs its channel list.
type metaView struct {
	mu          sync.Mutex
	databases   map[int64]*source.Database
	collections map[int64]*source.Collection
	partitions  map[int64]map[string]*source.Partition // collection ID → live partitions by name
	changed     chan struct{}
}

func newMetaView(s *source.Snapshot) *metaView {
	v := &metaView{
		databases:   map[int64]*source.Database{},
		collections: map[int64]*source.Collection{},
		partitions:  map[int64]map[string]*source.Partition{},
		changed:     make(chan struct{}),
	}
	for id, db := range s.Databases {
		v.databases[id] = db
	}
	for id, c := range s.Collections {
		v.putCollectionLocked(id, c)
	}
	return v
}

func (v *metaView) putCollectionLocked(id int64, c *source.Collection) {
	v.collections[id] = c
	parts := map[string]*source.Partition{}
	for _, p := range c.Partitions {
		if p.State == metapb.PartitionState_PartitionCreated {
			parts[p.Name] = p
		}
	}
	v.partitions[id] = parts
}

// apply folds one catalog event into the view.
func (v *metaView) apply(ev source.MetaEvent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch ev.Type {
	case source.DatabaseCreated:
		v.databases[ev.ID] = ev.Database
	case source.DatabaseDropped:
		// Kept (with its last state): the collections of a dropped database
		// still resolve to its name while their drops arrive.
		if ev.Database != nil {
			v.databases[ev.ID] = ev.Database
		}
	case source.CollectionCreated, source.CollectionDropping, source.CollectionDropped:
		v.putCollectionLocked(ev.ID, ev.Collection)
	case source.PartitionCreated:
		if parts, ok := v.partitions[ev.Partition.CollectionID]; ok {
			parts[ev.Partition.Name] = ev.Partition
		}
	case source.PartitionDropped:
		if parts, ok := v.partitions[ev.Partition.CollectionID]; ok {
			delete(parts, ev.Partition.Name)
		}
	}
	close(v.changed)
	v.changed = make(chan struct{})
}

func (v *metaView) collection(id int64) (*source.Collection, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.collections[id]
	return c, ok
}

// createdCollection waits up to timeout for the catalog to show the
// collection in state Created. Milvus writes the catalog entry as Creating,
// broadcasts the CreateCollection message to the data channels and only then
// marks it Created, so a reader of the data channel can be ahead of the
// catalog by a moment.
func (v *metaView) createdCollection(ctx context.Context, id int64, timeout time.Duration) (*source.Collection, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		v.mu.Lock()
		c, ok := v.collections[id]
		changed := v.changed
		v.mu.Unlock()
		if ok && c.State == metapb.CollectionState_CollectionCreated {
			return c, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return c, ok
		case <-ctx.Done():
			return c, ok
		}
	}
}

// collectionByName finds the collection with that name, preferring one in
// state Created (the newest when a name was reused), else the newest of any
// state: an operation can name a collection the source dropped a moment
// later. When the catalog does not know the name yet, it waits up to timeout
// for the catalog watch to catch up: an operation on the replicate channel
// can arrive before the catalog event of the collection it names.
func (v *metaView) collectionByName(ctx context.Context, db, name string, ts uint64, timeout time.Duration) (*source.Collection, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		v.mu.Lock()
		c := v.byNameAtLocked(db, name, ts)
		if c == nil {
			c = v.byNameLocked(db, name)
		}
		changed := v.changed
		v.mu.Unlock()
		if c != nil {
			return c, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// byNameAtLocked is the collection that had the name at ts: the newest one
// created before ts. An operation the replicate channel delivers late (its
// data channels were behind) belongs to the collection of its time, not to
// a newer one that took the name since.
func (v *metaView) byNameAtLocked(db, name string, ts uint64) *source.Collection {
	if ts == 0 {
		return nil
	}
	var best *source.Collection
	for _, c := range v.collections {
		if c.Name == name && v.dbNameLocked(c.DBID) == db && c.CreateTime < ts && (best == nil || c.CreateTime > best.CreateTime) {
			best = c
		}
	}
	return best
}

func (v *metaView) byNameLocked(db, name string) *source.Collection {
	var best *source.Collection
	better := func(c *source.Collection) bool {
		if best == nil {
			return true
		}
		cCreated := c.State == metapb.CollectionState_CollectionCreated
		bCreated := best.State == metapb.CollectionState_CollectionCreated
		if cCreated != bCreated {
			return cCreated
		}
		return c.CreateTime > best.CreateTime
	}
	for _, c := range v.collections {
		if c.Name == name && v.dbNameLocked(c.DBID) == db && better(c) {
			best = c
		}
	}
	return best
}

// dbName returns the name of a source database; the legacy layout has no
// database record, and its collections live in the default database.
func (v *metaView) dbName(id int64) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.dbNameLocked(id)
}

func (v *metaView) dbNameLocked(id int64) string {
	if db, ok := v.databases[id]; ok && db.Name != "" {
		return db.Name
	}
	return DefaultDatabase
}

// partition returns a live partition of a collection by name.
func (v *metaView) partition(collID int64, name string) (*source.Partition, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.partitions[collID][name]
	return p, ok
}

// channelInUse reports whether a live collection of the source (in scope
// or not) has a shard on the physical channel: Milvus ticks only such
// channels.
func (v *metaView) channelInUse(channel string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range v.collections {
		if c.State == metapb.CollectionState_CollectionCreated && slices.Contains(c.PhysicalChannels, channel) {
			return true
		}
	}
	return false
}

// maxID is the greatest collection ID the view knows. Milvus allocates
// collection IDs in increasing order, so a collection the view does not know
// whose ID is below it existed before a known one and has since been
// removed from the catalog.
func (v *metaView) maxID() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	var m int64
	for id := range v.collections {
		m = max(m, id)
	}
	return m
}

// all returns the collections of the view.
func (v *metaView) all() []*source.Collection {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]*source.Collection, 0, len(v.collections))
	for _, c := range v.collections {
		out = append(out, c)
	}
	return out
}
