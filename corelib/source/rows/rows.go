// Package rows reads the rows a source collection holds, through the source
// Milvus's query API, in primary-key order: what an initial snapshot copies
// and what verification compares. A query with a limit and the expression
// "pk > last" returns the next rows in primary-key order across shards and
// segments (confirmed on Milvus 2.3.5), so a collection is read in chunks
// that resume from the last key read.
package rows

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/grpc/metadata"
)

// Milvus error codes the reader interprets.
const (
	codeCollectionNotFound  = 100
	codeCollectionNotLoaded = 101
	codePartitionNotFound   = 200
)

var (
	// ErrGone: the collection (or partition) no longer exists on the source.
	ErrGone = errors.New("not on the source any more")
	// ErrNotLoaded: the source collection is not loaded, so its rows
	// cannot be queried.
	ErrNotLoaded = errors.New("not loaded on the source")
)

// Key is a primary key: an int64 or a string, as the schema says.
type Key struct {
	Int   int64
	Str   string
	IsStr bool
}

// String is the key as it is stored in progress records: decimal for
// int64 keys, the string itself for varchar keys.
func (k Key) String() string {
	if k.IsStr {
		return k.Str
	}
	return strconv.FormatInt(k.Int, 10)
}

// ParseKey reads a key stored with Key.String for a primary key of type pk.
func ParseKey(s string, pk schemapb.DataType) (Key, error) {
	if pk == schemapb.DataType_VarChar {
		return Key{Str: s, IsStr: true}, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return Key{}, fmt.Errorf("stored key %q is not an int64: %w", s, err)
	}
	return Key{Int: v}, nil
}

// Chunk is one query's worth of rows.
type Chunk struct {
	Columns []*schemapb.FieldData
	Rows    int
	// Last is the greatest primary key of the chunk.
	Last Key
}

// Reader reads rows from one source Milvus.
type Reader struct {
	svc milvuspb.MilvusServiceClient
}

// New returns a reader calling the source through svc.
func New(svc milvuspb.MilvusServiceClient) *Reader { return &Reader{svc: svc} }

// Table names what is read: a collection, optionally one partition of it,
// and its primary-key field.
type Table struct {
	Database, Collection string
	// Partition limits reads to one partition; "" reads them all.
	Partition string
	PK        *schemapb.FieldSchema
}

func (t Table) ctx(ctx context.Context) context.Context {
	if t.Database == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "dbname", t.Database)
}

func (t Table) partitions() []string {
	if t.Partition == "" {
		return nil
	}
	return []string{t.Partition}
}

// Count is the number of rows (distinct live primary keys) of the table.
func (r *Reader) Count(ctx context.Context, t Table) (int64, error) {
	resp, err := r.svc.Query(t.ctx(ctx), &milvuspb.QueryRequest{
		DbName: t.Database, CollectionName: t.Collection, PartitionNames: t.partitions(),
		OutputFields: []string{"count(*)"}, ConsistencyLevel: commonpb.ConsistencyLevel_Strong,
	})
	if err := check(t, resp.GetStatus(), err); err != nil {
		return 0, err
	}
	for _, f := range resp.GetFieldsData() {
		if data := f.GetScalars().GetLongData().GetData(); len(data) > 0 {
			return data[0], nil
		}
	}
	return 0, fmt.Errorf("count of %s: the source answered no count", t.Collection)
}

// Next reads up to limit rows with a primary key above after (every row
// when after is nil), in primary-key order, with every field including the
// dynamic one. A chunk of 0 rows means the table has been read to its end.
func (r *Reader) Next(ctx context.Context, t Table, after *Key, limit int) (*Chunk, error) {
	return r.NextFields(ctx, t, after, limit, nil)
}

// NextFields is Next reading only the named fields (the primary key is
// always read); nil reads every field.
func (r *Reader) NextFields(ctx context.Context, t Table, after *Key, limit int, fields []string) (*Chunk, error) {
	expr := "" // with a limit, an empty expression reads from the smallest key
	if after != nil {
		expr = t.PK.GetName() + " > " + literal(*after)
	}
	return r.query(ctx, t, expr, fields, []*commonpb.KeyValuePair{{Key: "limit", Value: strconv.Itoa(limit)}})
}

// MaxLookup is the most keys Lookup takes in one call.
const MaxLookup = 1000

// Lookup reads the rows of the given keys (at most MaxLookup), every field;
// keys the table does not hold are absent from the chunk, and the rows come
// in no particular order.
func (r *Reader) Lookup(ctx context.Context, t Table, keys []Key) (*Chunk, error) {
	if len(keys) == 0 {
		return &Chunk{}, nil
	}
	if len(keys) > MaxLookup {
		return nil, fmt.Errorf("lookup of %d keys in %s: at most %d at a time", len(keys), t.Collection, MaxLookup)
	}
	var b strings.Builder
	b.WriteString(t.PK.GetName())
	b.WriteString(" in [")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(literal(k))
	}
	b.WriteByte(']')
	return r.query(ctx, t, b.String(), nil, nil)
}

func (r *Reader) query(ctx context.Context, t Table, expr string, fields []string, params []*commonpb.KeyValuePair) (*Chunk, error) {
	if len(fields) == 0 {
		fields = []string{"*"}
	}
	resp, err := r.svc.Query(t.ctx(ctx), &milvuspb.QueryRequest{
		DbName: t.Database, CollectionName: t.Collection, PartitionNames: t.partitions(),
		Expr: expr, OutputFields: fields, ConsistencyLevel: commonpb.ConsistencyLevel_Strong,
		QueryParams: params,
	})
	if err := check(t, resp.GetStatus(), err); err != nil {
		return nil, err
	}
	c := &Chunk{Columns: resp.GetFieldsData()}
	for _, f := range c.Columns {
		if f.GetFieldName() != t.PK.GetName() {
			continue
		}
		if ints := f.GetScalars().GetLongData().GetData(); len(ints) > 0 {
			c.Rows, c.Last = len(ints), Key{Int: ints[len(ints)-1]}
		}
		if strs := f.GetScalars().GetStringData().GetData(); len(strs) > 0 {
			c.Rows, c.Last = len(strs), Key{Str: strs[len(strs)-1], IsStr: true}
		}
	}
	return c, nil
}

// literal renders a key in the Milvus expression grammar.
func literal(k Key) string {
	if !k.IsStr {
		return strconv.FormatInt(k.Int, 10)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range k.Str {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// check turns a query's answer into ErrGone, ErrNotLoaded or a plain error.
func check(t Table, st *commonpb.Status, err error) error {
	if err != nil {
		return fmt.Errorf("query %s on the source: %w", t.Collection, err)
	}
	if st.GetCode() == 0 && st.GetErrorCode() == commonpb.ErrorCode_Success {
		return nil
	}
	reason := strings.ToLower(st.GetReason())
	switch {
	case st.GetCode() == codeCollectionNotLoaded || strings.Contains(reason, "not loaded"):
		return fmt.Errorf("%s: %w", t.Collection, ErrNotLoaded)
	case st.GetCode() == codeCollectionNotFound || st.GetCode() == codePartitionNotFound ||
		strings.Contains(reason, "not found") || strings.Contains(reason, "not exist"):
		return fmt.Errorf("%s: %w", t.Collection, ErrGone)
	}
	return fmt.Errorf("query %s on the source failed (code %d): %s", t.Collection, st.GetCode(), st.GetReason())
}

// Schema is a collection's schema as the Milvus describes it.
func (r *Reader) Schema(ctx context.Context, db, coll string) (*schemapb.CollectionSchema, error) {
	t := Table{Database: db, Collection: coll}
	resp, err := r.svc.DescribeCollection(t.ctx(ctx), &milvuspb.DescribeCollectionRequest{DbName: db, CollectionName: coll})
	if err := check(t, resp.GetStatus(), err); err != nil {
		return nil, err
	}
	return resp.GetSchema(), nil
}

// Partitions lists a collection's partition names, sorted.
func (r *Reader) Partitions(ctx context.Context, db, coll string) ([]string, error) {
	t := Table{Database: db, Collection: coll}
	resp, err := r.svc.ShowPartitions(t.ctx(ctx), &milvuspb.ShowPartitionsRequest{DbName: db, CollectionName: coll})
	if err := check(t, resp.GetStatus(), err); err != nil {
		return nil, err
	}
	names := append([]string(nil), resp.GetPartitionNames()...)
	sort.Strings(names)
	return names, nil
}

// Index is an index of a source collection, as CreateIndex takes it.
type Index struct {
	Field, Name string
	Params      []*commonpb.KeyValuePair
}

// Indexes lists the indexes of a source collection.
func (r *Reader) Indexes(ctx context.Context, db, coll string) ([]Index, error) {
	t := Table{Database: db, Collection: coll}
	resp, err := r.svc.DescribeIndex(t.ctx(ctx), &milvuspb.DescribeIndexRequest{DbName: db, CollectionName: coll})
	if err := check(t, resp.GetStatus(), err); err != nil {
		if errors.Is(err, ErrGone) && strings.Contains(strings.ToLower(resp.GetStatus().GetReason()), "index") {
			return nil, nil // no index at all: Milvus answers "index not found"
		}
		return nil, err
	}
	out := make([]Index, 0, len(resp.GetIndexDescriptions()))
	for _, d := range resp.GetIndexDescriptions() {
		out = append(out, Index{Field: d.GetFieldName(), Name: d.GetIndexName(), Params: d.GetParams()})
	}
	return out, nil
}

// Loaded reports whether a source collection is loaded (or loading).
func (r *Reader) Loaded(ctx context.Context, db, coll string) (bool, error) {
	t := Table{Database: db, Collection: coll}
	resp, err := r.svc.GetLoadState(t.ctx(ctx), &milvuspb.GetLoadStateRequest{DbName: db, CollectionName: coll})
	if err := check(t, resp.GetStatus(), err); err != nil {
		return false, err
	}
	return resp.GetState() == commonpb.LoadState_LoadStateLoaded || resp.GetState() == commonpb.LoadState_LoadStateLoading, nil
}
