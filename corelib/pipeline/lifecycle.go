package pipeline

import (
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// A collection's life on the source, as the pipeline follows it: collections
// are told apart by source collection ID, because a name can be dropped and
// created again while the channels still carry the old collection's
// messages (a lagging shard, a paused task). The rules:
//
//   - Changes of a collection the source has dropped are skipped: its drop
//     follows, so they would not survive on the target anyway, and its
//     target name may already belong to the collection that took the name.
//   - The drop of such a collection drops its target collection only when
//     no live collection of the source claims the same target name.
//   - A collection created again under a name an earlier (dropped)
//     collection had, whose whole life the run replays, is created fresh:
//     the target's collection of that name, if any, holds the earlier
//     collection's rows, so it is dropped and created anew.

// isLive reports whether the catalog has the collection as created (or
// still being created).
func isLive(c *source.Collection) bool {
	return c.State == metapb.CollectionState_CollectionCreated || c.State == metapb.CollectionState_CollectionCreating
}

// droppedOnSource reports whether a collection's changes belong to history:
// the catalog has it dropping or dropped, or no longer has it at all while it
// knows a newer collection (IDs are allocated in increasing order).
func (r *run) droppedOnSource(st *collState) bool {
	c, ok := r.meta.collection(st.id)
	if ok {
		return !isLive(c)
	}
	return st.id < r.meta.maxID()
}

// claimant returns a live collection of the task, other than st, that maps
// to st's target name; nil when there is none.
func (r *run) claimant(st *collState) *source.Collection {
	me := st.coll()
	for _, c := range r.meta.all() {
		if c.ID == st.id || !isLive(c) {
			continue
		}
		db := r.meta.dbName(c.DBID)
		if !r.colls.scope.Collection(db, c.Name) {
			continue
		}
		if tdb, tname := r.colls.mapping.Target(db, c.Name); tdb == me.TargetDatabase && tname == me.TargetName {
			return c
		}
	}
	return nil
}

// skipChanges counts a change of a collection dropped on the source.
func (r *run) skipChanges(st *collState) {
	r.health.skip("changes of a collection dropped on the source", false)
}

// freshCreation reports whether a collection must be created anew on the
// target: an earlier collection had its target name and is dropped on the
// source, and this run replays the collection's whole life (every one of its
// channels resumes from before its creation), so nothing the target's
// collection of that name holds belongs to it.
func (r *run) freshCreation(st *collState, c *source.Collection) bool {
	me := st.coll()
	earlier := false
	for _, o := range r.meta.all() {
		if o.ID == c.ID || isLive(o) || o.CreateTime >= c.CreateTime {
			continue
		}
		db := r.meta.dbName(o.DBID)
		if tdb, tname := r.colls.mapping.Target(db, o.Name); tdb == me.TargetDatabase && tname == me.TargetName {
			earlier = true
			break
		}
	}
	if !earlier {
		return false
	}
	for _, ch := range distinct(c.PhysicalChannels) {
		if pos := r.resume[ch]; pos != nil && pos.Timestamp >= c.CreateTime {
			return false // this channel is past the creation: the target has its rows
		}
	}
	r.log.Info("creating a collection anew on the target: an earlier collection of the source had its name",
		zap.String("collection", me.String()), zap.Int64("sourceID", c.ID))
	return true
}
