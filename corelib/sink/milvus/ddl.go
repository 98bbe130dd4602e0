package milvus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// CollectionSpec is what the target needs to recreate a source collection.
type CollectionSpec struct {
	Schema           *schemapb.CollectionSchema // user fields only (no RowID/Timestamp, no $meta)
	ShardsNum        int32
	ConsistencyLevel commonpb.ConsistencyLevel
	Properties       []*commonpb.KeyValuePair
	NumPartitions    int64 // partition-key collections only
}

// CreateDatabase creates db on the target unless it exists.
func (w *Client) CreateDatabase(ctx context.Context, db string) error {
	exists, err := w.hasDatabase(ctx, db)
	if err != nil || exists {
		return err
	}
	resp, err := w.svc.CreateDatabase(ctx, &milvuspb.CreateDatabaseRequest{DbName: db})
	if err = check("CreateDatabase", resp, err); isAlreadyExists(err) {
		return nil
	}
	return err
}

// DropDatabase drops db on the target; a database already gone is fine.
func (w *Client) DropDatabase(ctx context.Context, db string) error {
	resp, err := w.svc.DropDatabase(ctx, &milvuspb.DropDatabaseRequest{DbName: db})
	if err = check("DropDatabase", resp, err); isNotFound(err) {
		return nil
	}
	return err
}

func (w *Client) hasDatabase(ctx context.Context, db string) (bool, error) {
	resp, err := w.svc.ListDatabases(ctx, &milvuspb.ListDatabasesRequest{})
	if err := check("ListDatabases", resp.GetStatus(), err); err != nil {
		return false, err
	}
	return slices.Contains(resp.GetDbNames(), db), nil
}

// CreateCollection creates a collection on the target with the source's
// schema, shard number, consistency level and properties. The primary key is
// created without autoID so that the target keeps the source's keys. An
// existing collection with the same fields counts as done; one whose fields
// differ is an error, never silently written into.
func (w *Client) CreateCollection(ctx context.Context, db, coll string, spec CollectionSpec) error {
	schema := targetSchemaFor(coll, spec.Schema)
	existing, err := w.describeIfExists(ctx, db, coll)
	if err != nil {
		return err
	}
	if existing != nil {
		return sameFields(coll, schema, existing)
	}
	raw, err := proto.Marshal(schema)
	if err != nil {
		return fmt.Errorf("encode schema of %s: %w", coll, err)
	}
	req := &milvuspb.CreateCollectionRequest{
		DbName:           db,
		CollectionName:   coll,
		Schema:           raw,
		ShardsNum:        spec.ShardsNum,
		ConsistencyLevel: spec.ConsistencyLevel,
		Properties:       spec.Properties,
		NumPartitions:    spec.NumPartitions,
	}
	resp, err := w.svc.CreateCollection(withDB(ctx, db), req)
	if err = check("CreateCollection", resp, err); err != nil && !isAlreadyExists(err) {
		return err
	}
	w.cacheSchema(db, coll, nil)
	return nil
}

// targetSchemaFor copies a source schema for the target: same fields in the
// same order, no autoID anywhere, field IDs left to the target to assign.
func targetSchemaFor(coll string, src *schemapb.CollectionSchema) *schemapb.CollectionSchema {
	s := proto.Clone(src).(*schemapb.CollectionSchema)
	s.Name = coll
	s.AutoID = false
	fields := s.Fields[:0]
	for _, f := range s.Fields {
		if isSystemField(f.GetFieldID(), f.GetName()) || f.GetIsDynamic() {
			continue // system and dynamic fields are implied by the target
		}
		f.AutoID = false
		f.FieldID = 0
		f.State = 0
		fields = append(fields, f)
	}
	s.Fields = fields
	return s
}

// isSystemField recognises Milvus's RowID (0) and Timestamp (1) fields and the
// rest of the reserved ID range below 100. A schema built by a client carries
// ID 0 on every field, so ID 0 alone is not enough: the name must match too.
func isSystemField(id int64, name string) bool {
	switch {
	case id == 0:
		return name == "RowID"
	case id == 1:
		return name == "Timestamp"
	default:
		return id < 100
	}
}

func (w *Client) describeIfExists(ctx context.Context, db, coll string) (*schemapb.CollectionSchema, error) {
	resp, err := w.svc.DescribeCollection(withDB(ctx, db), &milvuspb.DescribeCollectionRequest{DbName: db, CollectionName: coll})
	err = check("DescribeCollection", resp.GetStatus(), err)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return resp.GetSchema(), nil
}

// sameFields checks that an existing target collection can receive the
// source's rows: the same user fields, by name and type, in the same order.
func sameFields(coll string, want, got *schemapb.CollectionSchema) error {
	describe := func(s *schemapb.CollectionSchema) []string {
		var out []string
		for _, f := range s.GetFields() {
			if isSystemField(f.GetFieldID(), f.GetName()) || f.GetIsDynamic() {
				continue
			}
			out = append(out, f.GetName()+":"+f.GetDataType().String())
		}
		return out
	}
	w, g := describe(want), describe(got)
	if !slices.Equal(w, g) {
		return &sink.TargetError{Op: "CreateCollection", Reason: fmt.Sprintf(
			"collection %q already exists on the target with fields [%s], the source has [%s]; drop or rename it on the target",
			coll, strings.Join(g, ", "), strings.Join(w, ", "))}
	}
	return nil
}

// DropCollection drops a collection on the target; one already gone is fine.
func (w *Client) DropCollection(ctx context.Context, db, coll string) error {
	resp, err := w.svc.DropCollection(withDB(ctx, db), &milvuspb.DropCollectionRequest{DbName: db, CollectionName: coll})
	w.cacheSchema(db, coll, nil)
	if err = check("DropCollection", resp, err); isNotFound(err) {
		return nil
	}
	return err
}

// CreatePartition creates a partition unless it exists.
func (w *Client) CreatePartition(ctx context.Context, db, coll, partition string) error {
	has, err := w.svc.HasPartition(withDB(ctx, db), &milvuspb.HasPartitionRequest{DbName: db, CollectionName: coll, PartitionName: partition})
	if err := check("HasPartition", has.GetStatus(), err); err != nil {
		return err
	}
	if has.GetValue() {
		return nil
	}
	resp, err := w.svc.CreatePartition(withDB(ctx, db), &milvuspb.CreatePartitionRequest{DbName: db, CollectionName: coll, PartitionName: partition})
	if err = check("CreatePartition", resp, err); isAlreadyExists(err) {
		return nil
	}
	return err
}

// DropPartition drops a partition; one already gone is fine. Milvus refuses
// to drop a loaded partition, and the source's release of it is not always
// replicated (Milvus 2.3 does not publish ReleasePartitions), so a partition
// still loaded on the target is released first.
func (w *Client) DropPartition(ctx context.Context, db, coll, partition string) error {
	drop := func() error {
		resp, err := w.svc.DropPartition(withDB(ctx, db), &milvuspb.DropPartitionRequest{DbName: db, CollectionName: coll, PartitionName: partition})
		return check("DropPartition", resp, err)
	}
	err := drop()
	if err != nil && isLoadedRefusal(err) {
		if err = w.ReleasePartitions(ctx, db, coll, []string{partition}); err == nil {
			err = drop()
		}
	}
	if isNotFound(err) {
		return nil
	}
	return err
}

func isLoadedRefusal(err error) bool {
	var te *sink.TargetError
	if !errors.As(err, &te) {
		return false
	}
	r := strings.ToLower(te.Reason)
	return strings.Contains(r, "loaded") || strings.Contains(r, "release")
}

// CreateIndex creates an index with the source's name and parameters. The
// target answers success for an identical index, so replays are harmless.
func (w *Client) CreateIndex(ctx context.Context, db, coll, field, indexName string, params []*commonpb.KeyValuePair) error {
	req := &milvuspb.CreateIndexRequest{DbName: db, CollectionName: coll, FieldName: field, IndexName: indexName, ExtraParams: params}
	resp, err := w.svc.CreateIndex(withDB(ctx, db), req)
	return check("CreateIndex", resp, err)
}

// DropIndex drops an index; one already gone, or a collection already gone,
// is fine.
func (w *Client) DropIndex(ctx context.Context, db, coll, field, indexName string) error {
	req := &milvuspb.DropIndexRequest{DbName: db, CollectionName: coll, FieldName: field, IndexName: indexName}
	resp, err := w.svc.DropIndex(withDB(ctx, db), req)
	if err = check("DropIndex", resp, err); isNotFound(err) {
		return nil
	}
	return err
}

// LoadCollection asks the target to load a collection. Loading proceeds in
// the background on the target; the call does not wait for it.
func (w *Client) LoadCollection(ctx context.Context, db, coll string, replicas int32) error {
	req := &milvuspb.LoadCollectionRequest{DbName: db, CollectionName: coll, ReplicaNumber: replicas}
	resp, err := w.svc.LoadCollection(withDB(ctx, db), req)
	return check("LoadCollection", resp, err)
}

// ReleaseCollection releases a collection; one already gone is fine.
func (w *Client) ReleaseCollection(ctx context.Context, db, coll string) error {
	resp, err := w.svc.ReleaseCollection(withDB(ctx, db), &milvuspb.ReleaseCollectionRequest{DbName: db, CollectionName: coll})
	if err = check("ReleaseCollection", resp, err); isNotFound(err) {
		return nil
	}
	return err
}

// LoadPartitions asks the target to load partitions of a collection.
func (w *Client) LoadPartitions(ctx context.Context, db, coll string, partitions []string, replicas int32) error {
	req := &milvuspb.LoadPartitionsRequest{DbName: db, CollectionName: coll, PartitionNames: partitions, ReplicaNumber: replicas}
	resp, err := w.svc.LoadPartitions(withDB(ctx, db), req)
	return check("LoadPartitions", resp, err)
}

// ReleasePartitions releases partitions; ones already gone are fine.
func (w *Client) ReleasePartitions(ctx context.Context, db, coll string, partitions []string) error {
	req := &milvuspb.ReleasePartitionsRequest{DbName: db, CollectionName: coll, PartitionNames: partitions}
	resp, err := w.svc.ReleasePartitions(withDB(ctx, db), req)
	if err = check("ReleasePartitions", resp, err); isNotFound(err) {
		return nil
	}
	return err
}

// Flush seals the target's growing segments of the given collections.
func (w *Client) Flush(ctx context.Context, db string, colls []string) error {
	resp, err := w.svc.Flush(withDB(ctx, db), &milvuspb.FlushRequest{DbName: db, CollectionNames: colls})
	return check("Flush", resp.GetStatus(), err)
}
