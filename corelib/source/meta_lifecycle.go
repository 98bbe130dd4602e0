package source

import (
	"sort"

	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// lifecycle remembers which objects have been announced as created, so that
// every catalog change (a watch event, or a whole re-list after a watch
// failure) turns into exactly the transitions consumers have not seen yet.
// It is owned by one goroutine.
type lifecycle struct {
	databases   map[int64]*Database
	collections map[int64]*announcedCollection
	partitions  map[int64]*Partition // partition ID -> last known value
}

type announcedCollection struct {
	last     *Collection
	dropping bool
}

// newLifecycle seeds the announced sets from a snapshot the consumer already
// has, so that nothing in it is announced again.
func newLifecycle(s *Snapshot) *lifecycle {
	l := &lifecycle{
		databases:   map[int64]*Database{},
		collections: map[int64]*announcedCollection{},
		partitions:  map[int64]*Partition{},
	}
	if s == nil {
		return l
	}
	for id, db := range s.Databases {
		if db.State == metapb.DatabaseState_DatabaseCreated {
			l.databases[id] = db
		}
	}
	for id, c := range s.Collections {
		switch c.State {
		case metapb.CollectionState_CollectionCreated:
			l.collections[id] = &announcedCollection{last: c}
			l.adoptPartitions(c)
		case metapb.CollectionState_CollectionDropping:
			l.collections[id] = &announcedCollection{last: c, dropping: true}
		}
	}
	return l
}

// adoptPartitions marks the Created partitions of a newly announced
// collection as announced: CollectionCreated already carries them.
func (l *lifecycle) adoptPartitions(c *Collection) {
	for id, p := range c.Partitions {
		if p.State == metapb.PartitionState_PartitionCreated {
			l.partitions[id] = p
		}
	}
}

func (l *lifecycle) forgetPartitions(collID int64) {
	for id, p := range l.partitions {
		if p.CollectionID == collID {
			delete(l.partitions, id)
		}
	}
}

func (l *lifecycle) collectionLive(collID int64) bool {
	a, ok := l.collections[collID]
	return ok && !a.dropping
}

// database turns the current value of a database (nil when absent) into
// events.
func (l *lifecycle) database(id int64, cur *Database, rev int64) []MetaEvent {
	prev, announced := l.databases[id]
	live := cur != nil && cur.State == metapb.DatabaseState_DatabaseCreated
	switch {
	case live && !announced:
		l.databases[id] = cur
		return []MetaEvent{{Type: DatabaseCreated, ID: id, Revision: rev, Database: cur}}
	case live:
		l.databases[id] = cur
	case announced:
		delete(l.databases, id)
		last := prev
		if cur != nil {
			last = cur
		}
		return []MetaEvent{{Type: DatabaseDropped, ID: id, Revision: rev, Database: last}}
	}
	return nil
}

// collection turns the current value of a collection (nil when absent) into
// events. A collection that never reached Created (an aborted create) yields
// none.
func (l *lifecycle) collection(id int64, cur *Collection, rev int64) []MetaEvent {
	prev, announced := l.collections[id]
	state := metapb.CollectionState_CollectionDropped
	if cur != nil {
		state = cur.State
	}
	switch state {
	case metapb.CollectionState_CollectionCreated:
		if !announced {
			l.collections[id] = &announcedCollection{last: cur}
			l.adoptPartitions(cur)
			return []MetaEvent{{Type: CollectionCreated, ID: id, Revision: rev, Collection: cur}}
		}
		prev.last = cur
	case metapb.CollectionState_CollectionDropping:
		if announced && !prev.dropping {
			prev.last, prev.dropping = cur, true
			l.forgetPartitions(id)
			return []MetaEvent{{Type: CollectionDropping, ID: id, Revision: rev, Collection: cur}}
		}
	case metapb.CollectionState_CollectionDropped:
		if announced {
			delete(l.collections, id)
			l.forgetPartitions(id)
			last := prev.last
			if cur != nil {
				last = cur
			}
			return []MetaEvent{{Type: CollectionDropped, ID: id, Revision: rev, Collection: last}}
		}
	}
	// CollectionCreating: nothing to announce yet.
	return nil
}

// partition turns the current value of a partition (nil when absent) into
// events; only partitions of a live collection are announced.
func (l *lifecycle) partition(collID, id int64, cur *Partition, rev int64) []MetaEvent {
	prev, announced := l.partitions[id]
	collLive := l.collectionLive(collID)
	live := cur != nil && cur.State == metapb.PartitionState_PartitionCreated && collLive
	switch {
	case live && !announced:
		l.partitions[id] = cur
		return []MetaEvent{{Type: PartitionCreated, ID: id, Revision: rev, Partition: cur}}
	case live:
		l.partitions[id] = cur
	case announced:
		delete(l.partitions, id)
		if !collLive {
			return nil
		}
		last := prev
		if cur != nil {
			last = cur
		}
		return []MetaEvent{{Type: PartitionDropped, ID: id, Revision: rev, Partition: last}}
	}
	return nil
}

// resync compares a freshly listed catalog with what was announced and
// returns the missing transitions: first the drops, children first
// (partitions, collections, databases), then the creations, parents first
// (databases, collections oldest first, partitions). Drops go first because
// a name freed by a drop may have been reused by a creation while the watch
// was down.
func (l *lifecycle) resync(c *catalog, rev int64) []MetaEvent {
	var creates, drops []MetaEvent
	route := func(evs []MetaEvent) {
		for _, ev := range evs {
			switch ev.Type {
			case DatabaseCreated, CollectionCreated, PartitionCreated:
				creates = append(creates, ev)
			default:
				drops = append(drops, ev)
			}
		}
	}

	dbIDs := unionIDs(c.databases, l.databases)
	for _, id := range dbIDs {
		if cur := c.database(id); cur != nil && cur.State == metapb.DatabaseState_DatabaseCreated {
			route(l.database(id, cur, rev))
		}
	}

	collections := map[int64]*Collection{}
	for id := range c.collections {
		collections[id] = c.collection(id)
	}
	collIDs := unionIDs(collections, l.collections)
	sort.SliceStable(collIDs, func(i, j int) bool {
		return createTimeOf(collections[collIDs[i]]) < createTimeOf(collections[collIDs[j]])
	})
	for _, id := range collIDs {
		route(l.collection(id, collections[id], rev))
	}

	partitions := map[int64]*Partition{}
	for _, c := range collections {
		for id, p := range c.Partitions {
			partitions[id] = p
		}
	}
	for _, id := range unionIDs(partitions, l.partitions) {
		cur := partitions[id]
		collID := int64(0)
		if cur != nil {
			collID = cur.CollectionID
		} else {
			collID = l.partitions[id].CollectionID
		}
		route(l.partition(collID, id, cur, rev))
	}

	for _, id := range dbIDs {
		route(l.database(id, c.database(id), rev))
	}

	// Partition drops first, then collections, then databases.
	sort.SliceStable(drops, func(i, j int) bool { return dropRank(drops[i].Type) < dropRank(drops[j].Type) })
	return append(drops, creates...)
}

func dropRank(t MetaEventType) int {
	switch t {
	case PartitionDropped:
		return 0
	case CollectionDropping, CollectionDropped:
		return 1
	default:
		return 2
	}
}

func createTimeOf(c *Collection) uint64 {
	if c == nil {
		return 0
	}
	return c.CreateTime
}

// unionIDs returns the sorted union of two maps' keys.
func unionIDs[A, B any](a map[int64]A, b map[int64]B) []int64 {
	seen := make(map[int64]struct{}, len(a)+len(b))
	for id := range a {
		seen[id] = struct{}{}
	}
	for id := range b {
		seen[id] = struct{}{}
	}
	ids := make([]int64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
