// Package sink applies replicated operations to a target Milvus through its
// public API ("api" writer mode), so that the target stays a normal Milvus that
// accepts its own reads and writes.
//
// Every operation is idempotent: an operation whose intent is already met on
// the target (a database that already exists, a collection already dropped, a
// row already written) succeeds without changing anything. This is what lets
// the pipeline replay a batch after a crash without duplicating data: inserts
// are written as upserts keyed by the source primary key, so the target
// collection is always created with autoID off and receives the primary keys
// the source generated.
package sink

import (
	"context"
	"sync"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/grpc/metadata"
)

// Writer replays operations on one target Milvus. It is safe for concurrent
// use; calls for different collections may run in parallel.
type Writer struct {
	svc milvuspb.MilvusServiceClient

	mu      sync.Mutex
	schemas map[collectionKey]*schemapb.CollectionSchema // target schemas, for primary-key names
}

type collectionKey struct{ db, collection string }

// New returns a Writer that calls the target through svc. The connection
// behind svc (address, token, TLS) is the caller's; the Writer never closes it.
func New(svc milvuspb.MilvusServiceClient) *Writer {
	return &Writer{svc: svc, schemas: map[collectionKey]*schemapb.CollectionSchema{}}
}

// withDB scopes one call to a database. Milvus takes the database from the
// "dbname" request header for most RPCs, and ignores the header when empty.
func withDB(ctx context.Context, db string) context.Context {
	if db == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "dbname", db)
}

func (w *Writer) cachedSchema(db, coll string) *schemapb.CollectionSchema {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.schemas[collectionKey{db, coll}]
}

func (w *Writer) cacheSchema(db, coll string, s *schemapb.CollectionSchema) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s == nil {
		delete(w.schemas, collectionKey{db, coll})
		return
	}
	w.schemas[collectionKey{db, coll}] = s
}

// targetSchema returns the schema of a target collection, asking the target
// once and caching the answer until the collection is dropped or recreated.
func (w *Writer) targetSchema(ctx context.Context, db, coll string) (*schemapb.CollectionSchema, error) {
	if s := w.cachedSchema(db, coll); s != nil {
		return s, nil
	}
	resp, err := w.svc.DescribeCollection(withDB(ctx, db), &milvuspb.DescribeCollectionRequest{DbName: db, CollectionName: coll})
	if err := check("DescribeCollection", resp.GetStatus(), err); err != nil {
		return nil, err
	}
	w.cacheSchema(db, coll, resp.GetSchema())
	return resp.GetSchema(), nil
}
