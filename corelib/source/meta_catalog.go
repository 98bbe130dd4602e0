package source

import (
	"fmt"
	"sort"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// Field IDs below startOfUserFieldID are Milvus system fields (0 RowID,
// 1 Timestamp) and never part of a user schema.
const startOfUserFieldID = 100

// dynamicFieldName is the hidden JSON field that backs a dynamic schema.
const dynamicFieldName = "$meta"

// collectionEntry is a decoded collection key.
type collectionEntry struct {
	info   *metapb.CollectionInfo
	dbID   int64
	legacy bool
}

// catalog is the decoded content of the rootcoord catalog keys the reader
// cares about. It is owned by one goroutine.
type catalog struct {
	databases   map[int64]*metapb.DatabaseInfo
	collections map[int64]*collectionEntry
	partitions  map[int64]map[int64]*metapb.PartitionInfo    // collection ID -> partition ID
	fields      map[int64]map[int64]*schemapb.FieldSchema    // collection ID -> field ID
	functions   map[int64]map[int64]*schemapb.FunctionSchema // collection ID -> function ID
}

func newCatalog() *catalog {
	return &catalog{
		databases:   map[int64]*metapb.DatabaseInfo{},
		collections: map[int64]*collectionEntry{},
		partitions:  map[int64]map[int64]*metapb.PartitionInfo{},
		fields:      map[int64]map[int64]*schemapb.FieldSchema{},
		functions:   map[int64]map[int64]*schemapb.FunctionSchema{},
	}
}

// apply records a PUT (value) or a deletion (deleted, or a tombstone value)
// of one parsed key. A value that fails to decode leaves the catalog
// unchanged and returns an error naming the key's object.
func (c *catalog) apply(k catalogKey, value []byte, deleted bool) error {
	if isTombstone(value) {
		deleted = true
	}
	switch k.kind {
	case keyDatabase:
		if deleted {
			delete(c.databases, k.dbID)
			return nil
		}
		db := &metapb.DatabaseInfo{}
		if err := proto.Unmarshal(value, db); err != nil {
			return fmt.Errorf("decode database %d: %w", k.dbID, err)
		}
		c.databases[k.dbID] = db
	case keyCollection:
		return c.applyCollection(k, value, deleted)
	case keyPartition:
		if deleted {
			deleteChild(c.partitions, k.collectionID, k.childID)
			return nil
		}
		p := &metapb.PartitionInfo{}
		if err := proto.Unmarshal(value, p); err != nil {
			return fmt.Errorf("decode partition %d of collection %d: %w", k.childID, k.collectionID, err)
		}
		putChild(c.partitions, k.collectionID, k.childID, p)
	case keyField:
		if deleted {
			deleteChild(c.fields, k.collectionID, k.childID)
			return nil
		}
		f := &schemapb.FieldSchema{}
		if err := proto.Unmarshal(value, f); err != nil {
			return fmt.Errorf("decode field %d of collection %d: %w", k.childID, k.collectionID, err)
		}
		putChild(c.fields, k.collectionID, k.childID, f)
	case keyFunction:
		if deleted {
			deleteChild(c.functions, k.collectionID, k.childID)
			return nil
		}
		f := &schemapb.FunctionSchema{}
		if err := proto.Unmarshal(value, f); err != nil {
			return fmt.Errorf("decode function %d of collection %d: %w", k.childID, k.collectionID, err)
		}
		putChild(c.functions, k.collectionID, k.childID, f)
	}
	return nil
}

// applyCollection handles both key forms. When a collection exists under
// both (an upgraded 2.1 cluster), the database-scoped key wins.
func (c *catalog) applyCollection(k catalogKey, value []byte, deleted bool) error {
	cur, exists := c.collections[k.collectionID]
	if k.legacy && exists && !cur.legacy {
		return nil
	}
	if deleted {
		if exists && cur.legacy == k.legacy {
			delete(c.collections, k.collectionID)
		}
		return nil
	}
	info := &metapb.CollectionInfo{}
	if err := proto.Unmarshal(value, info); err != nil {
		return fmt.Errorf("decode collection %d: %w", k.collectionID, err)
	}
	if _, err := info.DecodeSchema(); err != nil {
		return err
	}
	dbID := k.dbID
	if k.legacy && info.GetDbId() != 0 {
		dbID = info.GetDbId()
	}
	c.collections[k.collectionID] = &collectionEntry{info: info, dbID: dbID, legacy: k.legacy}
	return nil
}

func putChild[T any](m map[int64]map[int64]T, parent, child int64, v T) {
	if m[parent] == nil {
		m[parent] = map[int64]T{}
	}
	m[parent][child] = v
}

func deleteChild[T any](m map[int64]map[int64]T, parent, child int64) {
	delete(m[parent], child)
	if len(m[parent]) == 0 {
		delete(m, parent)
	}
}

// database builds the public view of one database, nil when absent.
func (c *catalog) database(id int64) *Database {
	info, ok := c.databases[id]
	if !ok {
		return nil
	}
	return &Database{
		ID:          id,
		Name:        info.GetName(),
		State:       info.GetState(),
		CreatedTime: info.GetCreatedTime(),
		Properties:  metapb.ToCommonKeyValuePairs(info.GetProperties()),
	}
}

// collection builds the public view of one collection, nil when absent.
func (c *catalog) collection(id int64) *Collection {
	e, ok := c.collections[id]
	if !ok {
		return nil
	}
	info := e.info
	base, _ := info.DecodeSchema() // validated in applyCollection
	schema := userSchema(base, c.fields[id], c.functions[id])
	return &Collection{
		ID:               id,
		DBID:             e.dbID,
		Name:             schema.GetName(),
		Schema:           schema,
		CreateTime:       info.GetCreateTime(),
		ShardsNum:        info.GetShardsNum(),
		VirtualChannels:  append([]string(nil), info.GetVirtualChannelNames()...),
		PhysicalChannels: append([]string(nil), info.GetPhysicalChannelNames()...),
		StartPositions:   info.StartPositionsByChannel(),
		ConsistencyLevel: info.ConsistencyLevelValue(),
		Properties:       metapb.ToCommonKeyValuePairs(info.GetProperties()),
		State:            info.GetState(),
		Partitions:       c.collectionPartitions(id),
	}
}

// collectionPartitions returns the partitions of a collection, falling back
// to the 2.0 layout (partitions embedded in CollectionInfo, all Created)
// when the collection has no partition keys.
func (c *catalog) collectionPartitions(collID int64) map[int64]*Partition {
	out := map[int64]*Partition{}
	for pid := range c.partitions[collID] {
		out[pid] = c.partition(collID, pid)
	}
	if len(out) > 0 {
		return out
	}
	e, ok := c.collections[collID]
	if !ok {
		return out
	}
	ids, names, times := e.info.GetPartitionIDs(), e.info.GetPartitionNames(), e.info.GetPartitionCreatedTimestamps()
	for i, pid := range ids {
		p := &Partition{ID: pid, CollectionID: collID, State: metapb.PartitionState_PartitionCreated}
		if i < len(names) {
			p.Name = names[i]
		}
		if i < len(times) {
			p.CreatedTime = times[i]
		}
		out[pid] = p
	}
	return out
}

// partition builds the public view of one partition key, nil when absent.
func (c *catalog) partition(collID, partID int64) *Partition {
	info, ok := c.partitions[collID][partID]
	if !ok {
		return nil
	}
	return &Partition{
		ID:           partID,
		CollectionID: collID,
		Name:         info.GetPartitionName(),
		CreatedTime:  info.GetPartitionCreatedTimestamp(),
		State:        info.GetState(),
	}
}

// snapshot builds the public view of the whole catalog.
func (c *catalog) snapshot(rev int64) *Snapshot {
	s := &Snapshot{Revision: rev, Databases: map[int64]*Database{}, Collections: map[int64]*Collection{}}
	for id := range c.databases {
		s.Databases[id] = c.database(id)
	}
	for id := range c.collections {
		s.Collections[id] = c.collection(id)
	}
	return s
}

// userSchema rebuilds the schema a user would pass to CreateCollection:
// fields come from the separate field keys (or, for 2.0 collections, from the
// stored schema), ordered by FieldID, without system fields; the "$meta"
// field turns into EnableDynamicField.
func userSchema(base *schemapb.CollectionSchema, fields map[int64]*schemapb.FieldSchema, functions map[int64]*schemapb.FunctionSchema) *schemapb.CollectionSchema {
	schema := proto.Clone(base).(*schemapb.CollectionSchema)
	all := schema.GetFields()
	if len(fields) > 0 {
		all = make([]*schemapb.FieldSchema, 0, len(fields))
		for _, f := range fields {
			all = append(all, proto.Clone(f).(*schemapb.FieldSchema))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].GetFieldID() < all[j].GetFieldID() })
	schema.Fields = nil
	for _, f := range all {
		switch {
		case f.GetFieldID() < startOfUserFieldID:
			continue
		case f.GetIsDynamic() || f.GetName() == dynamicFieldName:
			schema.EnableDynamicField = true
			continue
		}
		schema.Fields = append(schema.Fields, f)
	}
	if len(functions) > 0 {
		schema.Functions = make([]*schemapb.FunctionSchema, 0, len(functions))
		for _, f := range functions {
			schema.Functions = append(schema.Functions, proto.Clone(f).(*schemapb.FunctionSchema))
		}
		sort.Slice(schema.Functions, func(i, j int) bool { return schema.Functions[i].GetId() < schema.Functions[j].GetId() })
	}
	return schema
}
