package pipeline

import (
	"context"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// target is what the pipeline needs from the target Milvus. *sink.Writer is
// the implementation; tests substitute a recorder.
type target interface {
	CreateDatabase(ctx context.Context, db string) error
	DropDatabase(ctx context.Context, db string) error
	CreateCollection(ctx context.Context, db, coll string, spec sink.CollectionSpec) error
	DropCollection(ctx context.Context, db, coll string) error
	CreatePartition(ctx context.Context, db, coll, partition string) error
	DropPartition(ctx context.Context, db, coll, partition string) error
	Upsert(ctx context.Context, db, coll, partition string, columns []*schemapb.FieldData, numRows uint32) error
	Delete(ctx context.Context, db, coll, partition string, keys *schemapb.IDs) error
	CreateIndex(ctx context.Context, db, coll, field, indexName string, params []*commonpb.KeyValuePair) error
	DropIndex(ctx context.Context, db, coll, field, indexName string) error
	LoadCollection(ctx context.Context, db, coll string, replicas int32) error
	ReleaseCollection(ctx context.Context, db, coll string) error
	LoadPartitions(ctx context.Context, db, coll string, partitions []string, replicas int32) error
	ReleasePartitions(ctx context.Context, db, coll string, partitions []string) error
	Flush(ctx context.Context, db string, colls []string) error
}

var _ target = (*sink.Writer)(nil)
