package milvus

import (
	"context"
	"sync"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/grpc/metadata"
)

// Client makes the calls of writer mode "api" on one target Milvus through
// its public API. It is safe for concurrent use; calls for different
// collections may run in parallel. Every call is idempotent (see the
// package comment).
type Client struct {
	svc milvuspb.MilvusServiceClient

	mu      sync.Mutex
	schemas map[collectionKey]*schemapb.CollectionSchema // target schemas, for primary-key names
}

type collectionKey struct{ db, collection string }

// NewClient returns a Client that calls the target through svc. The connection
// behind svc (address, token, TLS) is the caller's; the Client never closes it.
func NewClient(svc milvuspb.MilvusServiceClient) *Client {
	return &Client{svc: svc, schemas: map[collectionKey]*schemapb.CollectionSchema{}}
}

// withDB scopes one call to a database. Milvus takes the database from the
// "dbname" request header for most RPCs, and ignores the header when empty.
func withDB(ctx context.Context, db string) context.Context {
	if db == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "dbname", db)
}

func (w *Client) cachedSchema(db, coll string) *schemapb.CollectionSchema {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.schemas[collectionKey{db, coll}]
}

func (w *Client) cacheSchema(db, coll string, s *schemapb.CollectionSchema) {
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
func (w *Client) targetSchema(ctx context.Context, db, coll string) (*schemapb.CollectionSchema, error) {
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
