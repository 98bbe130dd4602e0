package sink

import (
	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// Collection is a source collection as the pipeline resolved it: which one
// it is on the source (collections are told apart by ID, since a name can be
// dropped and created again) and where the task puts it on the target.
// Writers must not modify it.
type Collection struct {
	ID             int64  // source collection ID
	Database, Name string // source names
	// TargetDatabase and TargetName are the names on the target after the
	// task's name mapping.
	TargetDatabase, TargetName string
	// Info is the source catalog's description (schema, shards, channels,
	// properties, partitions, creation time); nil when the catalog never
	// knew the collection.
	Info *source.Collection
	// PartitionKey is true when Milvus routes rows to partitions by a
	// partition-key field: partitions are not named in writes then.
	PartitionKey bool
}

// String is "db.name" on the source, for logs.
func (c *Collection) String() string { return c.Database + "." + c.Name }

// Target is "db.name" on the target, for logs and call names.
func (c *Collection) Target() string { return c.TargetDatabase + "." + c.TargetName }

// Batch is a run of changes of one source physical channel, in source
// order: a time-tick pack, or the part of one between two operations.
type Batch struct {
	Channel string // source physical channel
	// BeginTs and EndTs bound the timestamps of the pack the batch comes
	// from; Position is where the channel resumes once the pack is applied.
	BeginTs, EndTs uint64
	Position       source.Position
	Changes        []Change
}

// Change is one entry of a Batch: an Insert, Delete, Upsert or DropShard.
type Change interface {
	// Collection is the collection the change belongs to.
	Collection() *Collection
	// Rows is the number of rows the change carries (0 for DropShard).
	Rows() int64
}

// Insert adds rows to a collection.
type Insert struct {
	Coll *Collection
	// Msg is the source message; Msg.Body is a *msgpb.InsertRequest and
	// Msg.Raw its bytes as read (len(Msg.Raw) sizes it).
	Msg *source.Message
	// Read marks rows the initial snapshot copied from the source (what the
	// collection held, not a change): Msg is then built from the query's
	// columns and has no Raw bytes, row IDs or row timestamps.
	Read bool
	// Replay marks rows that may already be on the target: a previous run
	// may have written them before it stopped, or the initial snapshot
	// copied them. A writer that writes by key writes these idempotently
	// (an upsert); other inserts it may write as plain inserts.
	Replay bool
}

// Request is the source insert request.
func (c *Insert) Request() *msgpb.InsertRequest { return c.Msg.Body.(*msgpb.InsertRequest) }

func (c *Insert) Collection() *Collection { return c.Coll }
func (c *Insert) Rows() int64             { return int64(c.Request().GetNumRows()) }

// Delete removes rows by primary key.
type Delete struct {
	Coll *Collection
	// Msg.Body is a *msgpb.DeleteRequest.
	Msg *source.Message
}

// Request is the source delete request.
func (c *Delete) Request() *msgpb.DeleteRequest { return c.Msg.Body.(*msgpb.DeleteRequest) }

// Keys are the primary keys the delete names; messages of Milvus before 2.2
// carry int64 keys in a field of their own. Nil when it names none.
func (c *Delete) Keys() *schemapb.IDs {
	req := c.Request()
	keys := req.GetPrimaryKeys()
	if keys.GetIdField() == nil && len(req.GetInt64PrimaryKeys()) > 0 {
		keys = &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: req.GetInt64PrimaryKeys()}}}
	}
	if keys.GetIdField() == nil {
		return nil
	}
	return keys
}

func (c *Delete) Collection() *Collection { return c.Coll }

// Rows is the number of keys the delete names.
func (c *Delete) Rows() int64 {
	keys := c.Keys()
	if ints := keys.GetIntId(); ints != nil {
		return int64(len(ints.GetData()))
	}
	return int64(len(keys.GetStrId().GetData()))
}

// Upsert replaces rows by primary key. Milvus writes an upsert as a Delete
// and an Insert with the same timestamp; the pipeline pairs them so that
// writers can tell an upsert from a delete followed by an insert.
type Upsert struct {
	Delete *Delete
	Insert *Insert
}

func (c *Upsert) Collection() *Collection { return c.Insert.Coll }
func (c *Upsert) Rows() int64             { return c.Insert.Rows() }

// DropShard marks the end of a collection (or of one of its partitions) on
// one source channel: the source's DropCollection or DropPartition message
// as that channel carries it. The drop itself follows as an operation once
// every shard delivered its DropShard.
type DropShard struct {
	Coll *Collection
	// Partition is the dropped partition's name, "" for the whole collection;
	// PartitionID its source ID.
	Partition   string
	PartitionID int64
	// Msg.Body is a *msgpb.DropCollectionRequest or *msgpb.DropPartitionRequest.
	Msg *source.Message
}

func (c *DropShard) Collection() *Collection { return c.Coll }
func (c *DropShard) Rows() int64             { return 0 }

// Op is one operation the pipeline applies once: database, collection,
// partition, index, load and flush operations, in the source's order.
type Op interface {
	// Name is the operation's name, e.g. "CreateCollection".
	Name() string
	// SourceTs is the source timestamp of the operation (a replica records
	// it as the operation's own).
	SourceTs() uint64
}

// At is the source timestamp every operation carries.
type At struct{ Ts uint64 }

func (a At) SourceTs() uint64 { return a.Ts }

// CreateDatabase makes a target database exist. Database is the target name.
type CreateDatabase struct {
	At
	Database string
}

// DropDatabase drops a target database (Milvus drops only empty ones; the
// pipeline applies it after the drops of its collections).
type DropDatabase struct {
	At
	Database string
}

// CreateCollection makes a target collection exist with the source's schema,
// shards, consistency level and properties (Coll.Info).
type CreateCollection struct {
	At
	Coll *Collection
	// Fresh: a collection of the target name, if the target has one, holds
	// rows of an earlier source collection that had the name (dropped since);
	// drop it and create the collection anew.
	Fresh bool
}

// DropCollection drops a target collection.
type DropCollection struct {
	At
	Coll *Collection
}

// CreatePartition makes a partition of a target collection exist.
type CreatePartition struct {
	At
	Coll      *Collection
	Partition string
}

// DropPartition drops a partition of a target collection.
type DropPartition struct {
	At
	Coll      *Collection
	Partition string
}

// CreateIndex builds an index as the source did.
type CreateIndex struct {
	At
	Coll         *Collection
	Field, Index string
	Params       []*commonpb.KeyValuePair
}

// DropIndex drops an index.
type DropIndex struct {
	At
	Coll         *Collection
	Field, Index string
}

// LoadCollection loads a collection with the source's replica number.
type LoadCollection struct {
	At
	Coll     *Collection
	Replicas int32
}

// ReleaseCollection releases a collection.
type ReleaseCollection struct {
	At
	Coll *Collection
}

// LoadPartitions loads partitions of a collection.
type LoadPartitions struct {
	At
	Coll       *Collection
	Partitions []string
	Replicas   int32
}

// ReleasePartitions releases partitions of a collection.
type ReleasePartitions struct {
	At
	Coll       *Collection
	Partitions []string
}

// Flush seals the target's growing segments of a collection.
type Flush struct {
	At
	Coll *Collection
}

func (CreateDatabase) Name() string    { return "CreateDatabase" }
func (DropDatabase) Name() string      { return "DropDatabase" }
func (CreateCollection) Name() string  { return "CreateCollection" }
func (DropCollection) Name() string    { return "DropCollection" }
func (CreatePartition) Name() string   { return "CreatePartition" }
func (DropPartition) Name() string     { return "DropPartition" }
func (CreateIndex) Name() string       { return "CreateIndex" }
func (DropIndex) Name() string         { return "DropIndex" }
func (LoadCollection) Name() string    { return "LoadCollection" }
func (ReleaseCollection) Name() string { return "ReleaseCollection" }
func (LoadPartitions) Name() string    { return "LoadPartitions" }
func (ReleasePartitions) Name() string { return "ReleasePartitions" }
func (Flush) Name() string             { return "Flush" }

// CollectionOf returns the collection an operation is about, nil for
// database operations.
func CollectionOf(op Op) *Collection {
	switch o := op.(type) {
	case *CreateCollection:
		return o.Coll
	case *DropCollection:
		return o.Coll
	case *CreatePartition:
		return o.Coll
	case *DropPartition:
		return o.Coll
	case *CreateIndex:
		return o.Coll
	case *DropIndex:
		return o.Coll
	case *LoadCollection:
		return o.Coll
	case *ReleaseCollection:
		return o.Coll
	case *LoadPartitions:
		return o.Coll
	case *ReleasePartitions:
		return o.Coll
	case *Flush:
		return o.Coll
	}
	return nil
}
