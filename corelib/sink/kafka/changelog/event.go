// Package changelog is the change-event format writer mode "kafka"
// publishes (docs/kafka-sink.md, docs/kafka-sink.schema.json), seen from
// both sides: the envelope and key types with their version, decoding, and
// a State that rebuilds each collection from the events the way a consumer
// should (changes applied per key in (ts, seq) order, duplicates and
// stale events dropped, partition and collection drops applied by
// timestamp). The writer encodes with these types; tests and consumers
// decode with them.
package changelog

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SchemaVersion is the version of the envelope, the "schema_version" of
// every event. It changes only when a change would break a consumer
// (removing or renaming a field, changing a value's encoding); adding an
// optional field keeps it.
const SchemaVersion = 1

// Connector is source.connector of every event.
const Connector = "milvus-cdc"

// Row operations (Event.Op).
const (
	OpCreate = "c" // insert: after holds the row
	OpUpdate = "u" // upsert: after holds the new row, before is null
	OpDelete = "d" // delete: before holds the primary key only
	OpRead   = "r" // a row an initial sync read: after holds it
)

// DDL event types (Event.Type), published on the schema topic.
const (
	TypeCreateDatabase    = "create_database"
	TypeDropDatabase      = "drop_database"
	TypeCreateCollection  = "create_collection"
	TypeDropCollection    = "drop_collection"
	TypeCreatePartition   = "create_partition"
	TypeDropPartition     = "drop_partition"
	TypeCreateIndex       = "create_index"
	TypeDropIndex         = "drop_index"
	TypeLoadCollection    = "load_collection"
	TypeReleaseCollection = "release_collection"
	TypeLoadPartitions    = "load_partitions"
	TypeReleasePartitions = "release_partitions"
	TypeFlush             = "flush"
)

// Event is one change event: a row event (Op set) on a data topic, or a
// DDL event (Type set) on the schema topic.
type Event struct {
	SchemaVersion int `json:"schema_version"`
	// Op is c, u, d or r for a row event; empty for a DDL event.
	Op string `json:"op,omitempty"`
	// Type is the DDL event's type; empty for a row event.
	Type string `json:"type,omitempty"`
	// TsMs is when the writer made the event (Unix milliseconds).
	TsMs   int64  `json:"ts_ms"`
	Source Source `json:"source"`
	// Before and After are the row before and after a row event: after for
	// c, u and r, before (the primary key alone) for d; the other is null.
	// Absent in DDL events.
	Before map[string]json.RawMessage `json:"before,omitempty"`
	After  map[string]json.RawMessage `json:"after,omitempty"`

	// DDL events carry what the operation is about.
	Collection *CollectionDoc `json:"collection,omitempty"` // create_collection
	Partition  string         `json:"partition,omitempty"`  // create_partition, drop_partition
	Partitions []string       `json:"partitions,omitempty"` // load_partitions, release_partitions
	Index      *IndexDoc      `json:"index,omitempty"`      // create_index, drop_index
	Replicas   int32          `json:"replicas,omitempty"`   // load_collection, load_partitions
}

// Source says where and when a change happened on the source Milvus.
type Source struct {
	Connector string `json:"connector"`
	// Cluster names the source Milvus (the daemon's source.clusterName).
	Cluster string `json:"cluster"`
	// Database and Collection are the source names; the Kafka key and the
	// topic carry the names on the target after the task's name mapping.
	Database   string `json:"database"`
	Collection string `json:"collection,omitempty"`
	// CollectionID tells apart collections of the same name: a collection
	// dropped and created again has a new ID.
	CollectionID int64 `json:"collection_id,omitempty"`
	// Partition is the row's partition; null for a delete that names none
	// (it applies to every partition). DDL events leave it out.
	Partition *string `json:"partition,omitempty"`
	// Channel is the source physical channel the change was read from and
	// Position (base64 of a msgpb.MsgPosition) where that channel resumes
	// once the batch holding the change is applied: the same for every
	// event of the batch. Row events only.
	Channel  string `json:"channel,omitempty"`
	Position string `json:"position,omitempty"`
	// Ts is the change's hybrid timestamp on the source and TsMs its
	// physical part (Unix milliseconds).
	Ts   uint64 `json:"ts"`
	TsMs int64  `json:"ts_ms"`
	// Seq numbers the row events of one timestamp on one channel, from 0,
	// in source order: (Ts, Seq) orders all changes of one key, and is the
	// same when a change is sent again after a restart.
	Seq int `json:"seq,omitempty"`
}

// CollectionDoc describes a collection in create_collection.
type CollectionDoc struct {
	Name               string            `json:"name"`
	Description        string            `json:"description"`
	Fields             []FieldDoc        `json:"fields"`
	EnableDynamicField bool              `json:"enable_dynamic_field"`
	Shards             int32             `json:"shards"`
	ConsistencyLevel   string            `json:"consistency_level"`
	Properties         map[string]string `json:"properties"`
	// Partitions are the collection's partitions when the event was made,
	// sorted by name, each with its creation timestamp.
	Partitions []PartitionDoc `json:"partitions"`
	// CreatedTs is the collection's creation timestamp on the source.
	CreatedTs uint64 `json:"created_ts"`
}

// FieldDoc is one field of a collection's schema.
type FieldDoc struct {
	Name          string `json:"name"`
	FieldID       int64  `json:"field_id"`
	Type          string `json:"type"`                   // Milvus's name: Int64, VarChar, FloatVector, ...
	ElementType   string `json:"element_type,omitempty"` // of an Array
	Description   string `json:"description,omitempty"`
	PrimaryKey    bool   `json:"primary_key,omitempty"`
	AutoID        bool   `json:"auto_id,omitempty"`
	PartitionKey  bool   `json:"partition_key,omitempty"`
	ClusteringKey bool   `json:"clustering_key,omitempty"`
	Nullable      bool   `json:"nullable,omitempty"`
	// Params are the type parameters: dim, max_length, max_capacity.
	Params map[string]string `json:"params,omitempty"`
}

// PartitionDoc is one partition of a collection.
type PartitionDoc struct {
	Name      string `json:"name"`
	ID        int64  `json:"id"`
	CreatedTs uint64 `json:"created_ts"`
}

// IndexDoc is an index in create_index and drop_index.
type IndexDoc struct {
	Field  string            `json:"field"`
	Name   string            `json:"name,omitempty"`
	Params map[string]string `json:"params,omitempty"`
}

// Key is the Kafka key of an event: the target database and collection,
// and for a row event its primary key, so every change of one row goes to
// one partition in order.
type Key struct {
	Database   string          `json:"database"`
	Collection string          `json:"collection,omitempty"`
	PK         json.RawMessage `json:"pk,omitempty"`
}

// Decode reads an event and checks its version.
func Decode(value []byte) (*Event, error) {
	var ev Event
	if err := json.Unmarshal(value, &ev); err != nil {
		return nil, fmt.Errorf("change event: %w", err)
	}
	if ev.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("change event: schema_version %d, this reader knows %d", ev.SchemaVersion, SchemaVersion)
	}
	if (ev.Op == "") == (ev.Type == "") {
		return nil, fmt.Errorf("change event: exactly one of op and type must be set")
	}
	return &ev, nil
}

// DecodeKey reads an event's Kafka key.
func DecodeKey(key []byte) (Key, error) {
	var k Key
	if err := json.Unmarshal(key, &k); err != nil {
		return Key{}, fmt.Errorf("change event key: %w", err)
	}
	k.PK = compact(k.PK)
	return k, nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
