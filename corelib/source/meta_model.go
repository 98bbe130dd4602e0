package source

import (
	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// Database is a source database as stored in the rootcoord catalog.
type Database struct {
	ID          int64
	Name        string
	State       metapb.DatabaseState
	CreatedTime uint64 // hybrid timestamp
	Properties  []*commonpb.KeyValuePair
}

// Collection is a source collection with its user schema rebuilt from the
// catalog's separate field and function keys.
type Collection struct {
	ID   int64
	DBID int64 // the default database (1) for collections under the legacy key
	Name string
	// Schema is the user schema: system fields (FieldID < 100) and the
	// "$meta" dynamic field are removed (the latter sets
	// EnableDynamicField), fields are ordered by FieldID, functions by ID.
	Schema           *schemapb.CollectionSchema
	CreateTime       uint64 // hybrid timestamp
	ShardsNum        int32
	VirtualChannels  []string // shard k at index k
	PhysicalChannels []string // shard k at index k
	// StartPositions maps each physical channel to the MQ message ID of the
	// collection's CreateCollection message on it.
	StartPositions   map[string][]byte
	ConsistencyLevel commonpb.ConsistencyLevel
	Properties       []*commonpb.KeyValuePair
	State            metapb.CollectionState
	// Partitions present in the catalog for this collection, by ID,
	// including ones not (or no longer) in state Created.
	Partitions map[int64]*Partition
}

// Partition is a source partition.
type Partition struct {
	ID           int64
	CollectionID int64
	Name         string
	CreatedTime  uint64 // hybrid timestamp
	State        metapb.PartitionState
}

// Snapshot is the source metadata at one etcd revision. Objects are keyed by
// ID because names can be reused after a drop. Snapshots and the objects in
// them are never modified after they are handed out.
type Snapshot struct {
	Revision    int64
	Databases   map[int64]*Database
	Collections map[int64]*Collection
}

// CollectionByName returns the collection with that name in the database
// whose state is Created, preferring the newest when a name repeats.
func (s *Snapshot) CollectionByName(dbID int64, name string) (*Collection, bool) {
	var best *Collection
	for _, c := range s.Collections {
		if c.DBID != dbID || c.Name != name || c.State != metapb.CollectionState_CollectionCreated {
			continue
		}
		if best == nil || c.CreateTime > best.CreateTime {
			best = c
		}
	}
	return best, best != nil
}

// MetaEventType names a lifecycle transition observed in the catalog.
type MetaEventType int

const (
	// DatabaseCreated: the database reached state Created.
	DatabaseCreated MetaEventType = iota + 1
	// DatabaseDropped: a database previously announced as created left state
	// Created (Dropping/Dropped) or its key was deleted.
	DatabaseDropped
	// CollectionCreated: the collection reached state Created. Event.Collection
	// carries its schema, channels and the partitions that exist at that
	// moment (no separate PartitionCreated is sent for those).
	CollectionCreated
	// CollectionDropping: a created collection entered state Dropping.
	CollectionDropping
	// CollectionDropped: a created or dropping collection was deleted from
	// the catalog (tombstone, DELETE or state Dropped).
	CollectionDropped
	// PartitionCreated: a partition reached state Created while its
	// collection is in state Created.
	PartitionCreated
	// PartitionDropped: a partition announced as created left state Created
	// or was deleted, while its collection is still in state Created.
	PartitionDropped
)

// String names the event type, e.g. "CollectionCreated".
func (t MetaEventType) String() string {
	switch t {
	case DatabaseCreated:
		return "DatabaseCreated"
	case DatabaseDropped:
		return "DatabaseDropped"
	case CollectionCreated:
		return "CollectionCreated"
	case CollectionDropping:
		return "CollectionDropping"
	case CollectionDropped:
		return "CollectionDropped"
	case PartitionCreated:
		return "PartitionCreated"
	case PartitionDropped:
		return "PartitionDropped"
	default:
		return "Unknown"
	}
}

// MetaEvent is one catalog transition. ID is the ID of the object the event
// is about; exactly one of Database, Collection, Partition is set. For drop
// events the object is its last known value.
type MetaEvent struct {
	Type       MetaEventType
	ID         int64
	Revision   int64 // etcd revision that caused the event (re-list revision after a resync)
	Database   *Database
	Collection *Collection
	Partition  *Partition
}
