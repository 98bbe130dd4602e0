package changelog

import (
	"fmt"
	"slices"
	"sort"
)

// State rebuilds the collections a stream of change events describes, the
// way docs/kafka-sink.md tells consumers to:
//
//   - a row's changes are ordered by (source.ts, source.seq); an event at
//     or below the last one applied for its key is a duplicate (equal, a
//     change sent again after a restart) or stale (lower) and is dropped,
//     so the order in which topics and partitions are read does not matter;
//   - c, u and r replace the row, d removes it; an r (a row an initial
//     snapshot read) ranks below every c, u and d of its key, as (0, 0):
//     the changes streamed after a snapshot start from a position before
//     it, so a change and the snapshot can each hold the other;
//   - a drop_partition at ts D removes the partition's rows changed before
//     D, and makes row events of that partition before D stale;
//   - collections are told apart by source.collection_id (a collection
//     created again under its name is a new one); creations and drops of
//     collections, partitions and indexes, loads and releases, are decided
//     by the latest timestamp, so a creation sent again after a restart
//     does not undo a later drop.
//
// The zero State is empty and ready; it is not safe for concurrent use.
type State struct {
	colls map[int64]*Collection
	dbs   map[string]*switchTs
	// Duplicates counts row events dropped because the same change (key,
	// ts, seq) was applied before; Stale those older than what was applied.
	Duplicates, Stale int
}

// Collection is one source collection as the events rebuilt it.
type Collection struct {
	ID int64
	// Database and Name are the source names, TargetDatabase and
	// TargetName those of the Kafka keys.
	Database, Name             string
	TargetDatabase, TargetName string
	// Schema is the latest create_collection's description (nil if none
	// was read).
	Schema     *CollectionDoc
	exists     switchTs
	partitions map[string]*switchTs
	indexes    map[string]*switchTs
	loaded     switchTs
	rows       map[string]*Row
}

// Row is the latest change applied to one primary key.
type Row struct {
	// PK is the primary key as JSON (a number or a string).
	PK string
	// Values is the row (event.after); nil once deleted.
	Values    map[string][]byte
	Partition string
	Deleted   bool
	// Ts and Seq order the row's changes ((0, 0) for a snapshot read);
	// SourceTs is the change's source.ts, which partition drops compare.
	Ts       uint64
	Seq      int
	SourceTs uint64
	// Received counts how often this change (same ts and seq) arrived: more
	// than 1 means it was sent again.
	Received int
}

// switchTs is something switched on and off at timestamps: it is on when
// the latest "on" is after the latest "off".
type switchTs struct{ on, off uint64 }

func (s *switchTs) set(on bool, ts uint64) {
	if on {
		s.on = max(s.on, ts)
	} else {
		s.off = max(s.off, ts)
	}
}

func (s switchTs) isOn() bool { return s.on > s.off }

func (s *State) coll(src Source, key Key) *Collection {
	if s.colls == nil {
		s.colls = map[int64]*Collection{}
	}
	c := s.colls[src.CollectionID]
	if c == nil {
		c = &Collection{ID: src.CollectionID, partitions: map[string]*switchTs{}, indexes: map[string]*switchTs{}, rows: map[string]*Row{}}
		s.colls[src.CollectionID] = c
	}
	if src.Collection != "" {
		c.Database, c.Name = src.Database, src.Collection
	}
	if key.Collection != "" {
		c.TargetDatabase, c.TargetName = key.Database, key.Collection
	}
	return c
}

// Apply applies one event with its Kafka key. It returns an error only for
// an event it cannot read (a row event without a primary key, an unknown
// op); unknown DDL types are ignored, so newer writers stay readable.
func (s *State) Apply(ev *Event, key Key) error {
	if ev.Op != "" {
		return s.applyRow(ev, key)
	}
	src := ev.Source
	switch ev.Type {
	case TypeCreateDatabase, TypeDropDatabase:
		if s.dbs == nil {
			s.dbs = map[string]*switchTs{}
		}
		db := s.dbs[src.Database]
		if db == nil {
			db = &switchTs{}
			s.dbs[src.Database] = db
		}
		db.set(ev.Type == TypeCreateDatabase, src.Ts)
	case TypeCreateCollection:
		c := s.coll(src, key)
		c.exists.set(true, src.Ts)
		if ev.Collection != nil {
			c.Schema = ev.Collection
			for _, p := range ev.Collection.Partitions {
				c.partition(p.Name).set(true, max(p.CreatedTs, 1))
			}
		}
	case TypeDropCollection:
		s.coll(src, key).exists.set(false, src.Ts)
	case TypeCreatePartition:
		s.coll(src, key).partition(ev.Partition).set(true, src.Ts)
	case TypeDropPartition:
		c := s.coll(src, key)
		c.partition(ev.Partition).set(false, src.Ts)
		for pk, r := range c.rows {
			if r.Partition == ev.Partition && r.SourceTs < src.Ts {
				delete(c.rows, pk)
			}
		}
	case TypeCreateIndex, TypeDropIndex:
		if ev.Index != nil {
			c := s.coll(src, key)
			ix := c.indexes[ev.Index.Field]
			if ix == nil {
				ix = &switchTs{}
				c.indexes[ev.Index.Field] = ix
			}
			ix.set(ev.Type == TypeCreateIndex, src.Ts)
		}
	case TypeLoadCollection, TypeReleaseCollection:
		s.coll(src, key).loaded.set(ev.Type == TypeLoadCollection, src.Ts)
	}
	return nil
}

func (c *Collection) partition(name string) *switchTs {
	p := c.partitions[name]
	if p == nil {
		p = &switchTs{}
		c.partitions[name] = p
	}
	return p
}

func (s *State) applyRow(ev *Event, key Key) error {
	if len(key.PK) == 0 {
		return fmt.Errorf("row event without a primary key in its Kafka key")
	}
	src := ev.Source
	c := s.coll(src, key)
	if src.Partition != nil {
		if p := c.partitions[*src.Partition]; p != nil && p.off > src.Ts {
			s.Stale++ // the partition was dropped after this change
			return nil
		}
	}
	pk := string(key.PK)
	ts, seq := src.Ts, src.Seq
	if ev.Op == OpRead {
		ts, seq = 0, 0
	}
	if r := c.rows[pk]; r != nil {
		switch {
		case ts < r.Ts || (ts == r.Ts && seq < r.Seq):
			s.Stale++
			return nil
		case ts == r.Ts && seq == r.Seq:
			s.Duplicates++
			r.Received++
			return nil
		}
	}
	r := &Row{PK: pk, Ts: ts, Seq: seq, SourceTs: src.Ts, Received: 1}
	if src.Partition != nil {
		r.Partition = *src.Partition
	}
	switch ev.Op {
	case OpCreate, OpUpdate, OpRead:
		r.Values = make(map[string][]byte, len(ev.After))
		for k, v := range ev.After {
			r.Values[k] = v
		}
	case OpDelete:
		r.Deleted = true
	default:
		return fmt.Errorf("row event with unknown op %q", ev.Op)
	}
	c.rows[pk] = r
	return nil
}

// Collections returns the collections met, by source ID.
func (s *State) Collections() []*Collection {
	out := make([]*Collection, 0, len(s.colls))
	for _, c := range s.colls {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Collection returns the collection with a source ID, nil if no event named it.
func (s *State) Collection(id int64) *Collection { return s.colls[id] }

// DatabaseExists reports whether the latest event about a database created it.
func (s *State) DatabaseExists(name string) bool {
	db := s.dbs[name]
	return db != nil && db.isOn()
}

// Exists reports whether the collection exists: created and not dropped since.
func (c *Collection) Exists() bool { return c.exists.isOn() }

// Partitions lists the partitions that exist, sorted.
func (c *Collection) Partitions() []string {
	var out []string
	for name, p := range c.partitions {
		if p.isOn() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Indexed lists the fields with an index, sorted.
func (c *Collection) Indexed() []string {
	var out []string
	for field, ix := range c.indexes {
		if ix.isOn() {
			out = append(out, field)
		}
	}
	slices.Sort(out)
	return out
}

// Loaded reports whether the latest load or release of the collection loaded it.
func (c *Collection) Loaded() bool { return c.loaded.isOn() }

// Rows returns the live rows by primary key (as JSON); deleted keys are left out.
func (c *Collection) Rows() map[string]*Row {
	out := make(map[string]*Row, len(c.rows))
	for pk, r := range c.rows {
		if !r.Deleted {
			out[pk] = r
		}
	}
	return out
}
