package milvus

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// deleteChunk bounds the number of keys in one delete expression; Milvus
// parses the expression on the proxy and large IN lists are slow to plan.
const deleteChunk = 1000

// Upsert writes rows keyed by their primary key, so writing the same rows
// twice leaves one copy. columns are the source's column data, passed through
// unchanged except that field IDs are set to the target's (matched by name)
// and columns the target does not know as user fields (RowID, Timestamp) are
// dropped. partition is empty for partition-key collections, where Milvus
// routes each row itself.
func (w *Client) Upsert(ctx context.Context, db, coll, partition string, columns []*schemapb.FieldData, numRows uint32) error {
	return w.write(ctx, "Upsert", db, coll, partition, columns, numRows)
}

// Insert writes rows as plain inserts: the target does the least work, and
// a key written twice is there twice (as on the source, which accepts
// duplicate keys on insert). Rows that may already be on the target are
// written with Upsert instead.
func (w *Client) Insert(ctx context.Context, db, coll, partition string, columns []*schemapb.FieldData, numRows uint32) error {
	return w.write(ctx, "Insert", db, coll, partition, columns, numRows)
}

func (w *Client) write(ctx context.Context, op, db, coll, partition string, columns []*schemapb.FieldData, numRows uint32) error {
	if numRows == 0 {
		return nil
	}
	schema, err := w.targetSchema(ctx, db, coll)
	if err != nil {
		return err
	}
	data, err := alignColumns(coll, columns, schema)
	if err != nil {
		return err
	}
	var resp *milvuspb.MutationResult
	if op == "Insert" {
		resp, err = w.svc.Insert(withDB(ctx, db), &milvuspb.InsertRequest{DbName: db, CollectionName: coll, PartitionName: partition, FieldsData: data, NumRows: numRows})
	} else {
		resp, err = w.svc.Upsert(withDB(ctx, db), &milvuspb.UpsertRequest{DbName: db, CollectionName: coll, PartitionName: partition, FieldsData: data, NumRows: numRows})
	}
	if err := check(op, resp.GetStatus(), err); err != nil {
		if isNotFound(err) {
			w.cacheSchema(db, coll, nil) // recreated under the same name: describe again next time
		}
		return err
	}
	return nil
}

// alignColumns maps source columns onto the target schema by field name.
func alignColumns(coll string, columns []*schemapb.FieldData, schema *schemapb.CollectionSchema) ([]*schemapb.FieldData, error) {
	ids := make(map[string]int64, len(schema.GetFields()))
	for _, f := range schema.GetFields() {
		ids[f.GetName()] = f.GetFieldID()
	}
	out := make([]*schemapb.FieldData, 0, len(columns))
	for _, c := range columns {
		id, known := ids[c.GetFieldName()]
		switch {
		case known:
			if c.GetFieldId() != id {
				c.FieldId = id // the message is ours to adjust: it was decoded for this write
			}
		case c.GetIsDynamic() && schema.GetEnableDynamicField():
		case isSystemField(c.GetFieldId(), c.GetFieldName()):
			continue
		default:
			return nil, &sink.TargetError{Op: "Upsert", Reason: fmt.Sprintf(
				"source column %q (field id %d) has no field of that name in target collection %q", c.GetFieldName(), c.GetFieldId(), coll)}
		}
		out = append(out, c)
	}
	return out, nil
}

// Delete removes rows by primary key. Keys that are not on the target are
// ignored by Milvus, so replays are harmless.
func (w *Client) Delete(ctx context.Context, db, coll, partition string, keys *schemapb.IDs) error {
	schema, err := w.targetSchema(ctx, db, coll)
	if err != nil {
		return err
	}
	pk := primaryKeyName(schema)
	if pk == "" {
		return &sink.TargetError{Op: "Delete", Reason: fmt.Sprintf("target collection %q has no primary key", coll)}
	}
	for _, expr := range deleteExprs(pk, keys, deleteChunk) {
		req := &milvuspb.DeleteRequest{DbName: db, CollectionName: coll, PartitionName: partition, Expr: expr}
		resp, err := w.svc.Delete(withDB(ctx, db), req)
		if err := check("Delete", resp.GetStatus(), err); err != nil {
			return err
		}
	}
	return nil
}

func primaryKeyName(s *schemapb.CollectionSchema) string {
	for _, f := range s.GetFields() {
		if f.GetIsPrimaryKey() {
			return f.GetName()
		}
	}
	return ""
}

// deleteExprs renders primary keys as `pk in [...]` expressions of at most
// chunk keys each. String keys are quoted with escapes for backslashes and
// double quotes, which is what the Milvus expression grammar expects.
func deleteExprs(pk string, keys *schemapb.IDs, chunk int) []string {
	var lits []string
	switch k := keys.GetIdField().(type) {
	case *schemapb.IDs_IntId:
		for _, v := range k.IntId.GetData() {
			lits = append(lits, strconv.FormatInt(v, 10))
		}
	case *schemapb.IDs_StrId:
		for _, v := range k.StrId.GetData() {
			lits = append(lits, quoteString(v))
		}
	}
	var exprs []string
	for start := 0; start < len(lits); start += chunk {
		end := min(start+chunk, len(lits))
		exprs = append(exprs, pk+" in ["+strings.Join(lits[start:end], ",")+"]")
	}
	return exprs
}

func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
