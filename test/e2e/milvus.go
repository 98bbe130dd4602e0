//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
)

// Connect dials a Milvus proxy with milvus-sdk-go and closes the client when the
// test ends.
func Connect(t testing.TB, ctx context.Context, addr string) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.NewClient(ctx, client.Config{Address: addr})
	if err != nil {
		t.Fatalf("connect to Milvus at %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ConnectSource connects to the bed's source Milvus.
func (b *Bed) ConnectSource(t testing.TB, ctx context.Context) client.Client {
	t.Helper()
	return Connect(t, ctx, b.SourceAddr)
}

// ConnectTarget connects to the bed's target Milvus.
func (b *Bed) ConnectTarget(t testing.TB, ctx context.Context) client.Client {
	t.Helper()
	return Connect(t, ctx, b.TargetAddr)
}

// UniqueName returns prefix + a time-based suffix: tests share one bed, so
// every collection they create gets its own name.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1_000_000_000_000)
}

// DropCollectionOnCleanup drops the collection when the test ends (best effort:
// the bed is wiped on the next `up` anyway).
func DropCollectionOnCleanup(t testing.TB, c client.Client, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if ok, err := c.HasCollection(ctx, name); err == nil && ok {
			_ = c.DropCollection(ctx, name)
		}
	})
}

// CreateVectorIndexes creates a FLAT (float) / BIN_FLAT (binary) index on every
// vector field that has none: Milvus 2.3 loads a collection only when all its
// vector fields are indexed.
func CreateVectorIndexes(ctx context.Context, c client.Client, coll *entity.Collection) error {
	for _, f := range coll.Schema.Fields {
		var idx entity.Index
		var err error
		switch f.DataType {
		case entity.FieldTypeFloatVector:
			idx, err = entity.NewIndexFlat(entity.L2)
		case entity.FieldTypeBinaryVector:
			idx, err = entity.NewIndexBinFlat(entity.HAMMING, 1)
		default:
			continue
		}
		if err != nil {
			return err
		}
		existing, err := c.DescribeIndex(ctx, coll.Name, f.Name)
		if err == nil && len(existing) > 0 {
			continue
		}
		if err := c.CreateIndex(ctx, coll.Name, f.Name, idx, false); err != nil {
			return fmt.Errorf("create index on %s.%s: %w", coll.Name, f.Name, err)
		}
	}
	return nil
}

// EnsureLoaded indexes the vector fields when needed and loads the collection,
// so that it can be queried.
func EnsureLoaded(ctx context.Context, c client.Client, name string) error {
	coll, err := c.DescribeCollection(ctx, name)
	if err != nil {
		return fmt.Errorf("describe %s: %w", name, err)
	}
	if err := CreateVectorIndexes(ctx, c, coll); err != nil {
		return err
	}
	state, err := c.GetLoadState(ctx, name, nil)
	if err == nil && state == entity.LoadStateLoaded {
		return nil
	}
	if err := c.LoadCollection(ctx, name, false); err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

// CountRows returns count(*) of a loaded collection, with strong consistency (it
// sees every acknowledged write).
func CountRows(ctx context.Context, c client.Client, name string) (int64, error) {
	rs, err := c.Query(ctx, name, nil, "", []string{"count(*)"},
		client.WithSearchQueryConsistencyLevel(entity.ClStrong))
	if err != nil {
		return 0, fmt.Errorf("count(*) on %s: %w", name, err)
	}
	col := rs.GetColumn("count(*)")
	if col == nil || col.Len() != 1 {
		return 0, fmt.Errorf("count(*) on %s: unexpected result %v", name, rs)
	}
	v, err := col.GetAsInt64(0)
	if err != nil {
		return 0, fmt.Errorf("count(*) on %s: %w", name, err)
	}
	return v, nil
}

// Row is one entity: field name -> normalized value (see normalizeValue). The
// dynamic field "$meta" holds the canonical JSON of the dynamic keys.
type Row map[string]string

// QueryAllRows reads every row of a loaded collection with strong consistency,
// keyed by the primary key's string form. All output fields are requested,
// vectors and the dynamic field included.
func QueryAllRows(ctx context.Context, c client.Client, name string) (map[string]Row, error) {
	return queryAllRowsBy(ctx, c, name, 500)
}

// queryAllRowsBy is QueryAllRows asking for the fields of batch keys a query.
func queryAllRowsBy(ctx context.Context, c client.Client, name string, batch int) (map[string]Row, error) {
	coll, err := c.DescribeCollection(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", name, err)
	}
	pk := primaryField(coll.Schema)
	if pk == nil {
		return nil, fmt.Errorf("%s has no primary key field", name)
	}
	pks, err := queryAllPKs(ctx, c, name, pk)
	if err != nil {
		return nil, err
	}
	outputs := make([]string, 0, len(coll.Schema.Fields)+1)
	for _, f := range coll.Schema.Fields {
		outputs = append(outputs, f.Name)
	}
	if coll.Schema.EnableDynamicField && !hasField(coll.Schema, "$meta") {
		outputs = append(outputs, "$meta")
	}
	rows := make(map[string]Row, len(pks))
	for start := 0; start < len(pks); start += batch {
		end := min(start+batch, len(pks))
		expr := fmt.Sprintf("%s in [%s]", pk.Name, strings.Join(pks[start:end], ","))
		rs, err := c.Query(ctx, name, nil, expr, outputs, client.WithSearchQueryConsistencyLevel(entity.ClStrong))
		if err != nil {
			return nil, fmt.Errorf("query %s rows %d..%d: %w", name, start, end, err)
		}
		if err := collectRows(rs, pk.Name, rows); err != nil {
			return nil, fmt.Errorf("query %s: %w", name, err)
		}
	}
	return rows, nil
}

// queryAllPKs lists every primary key as an expression literal (quoted for
// VarChar), sorted. Query without a limit is not bound by Milvus' 16384-row
// result window.
func queryAllPKs(ctx context.Context, c client.Client, name string, pk *entity.Field) ([]string, error) {
	var expr string
	switch pk.DataType {
	case entity.FieldTypeInt64:
		// Milvus' parser reads "-N" as minus N, and 9223372036854775808 overflows
		// int64: the lowest literal it accepts is -(2^63-1), so a row whose key is
		// exactly math.MinInt64 would not be listed.
		expr = fmt.Sprintf("%s >= %d", pk.Name, int64(-1<<63+1))
	case entity.FieldTypeVarChar:
		expr = fmt.Sprintf(`%s >= ""`, pk.Name)
	default:
		return nil, fmt.Errorf("%s: unsupported primary key type %v", name, pk.DataType)
	}
	rs, err := c.Query(ctx, name, nil, expr, []string{pk.Name}, client.WithSearchQueryConsistencyLevel(entity.ClStrong))
	if err != nil {
		return nil, fmt.Errorf("list primary keys of %s: %w", name, err)
	}
	col := rs.GetColumn(pk.Name)
	if col == nil {
		return nil, fmt.Errorf("list primary keys of %s: no %s column in the result", name, pk.Name)
	}
	out := make([]string, col.Len())
	for i := range out {
		switch pk.DataType {
		case entity.FieldTypeInt64:
			v, err := col.GetAsInt64(i)
			if err != nil {
				return nil, err
			}
			out[i] = strconv.FormatInt(v, 10)
		default:
			v, err := col.GetAsString(i)
			if err != nil {
				return nil, err
			}
			out[i] = strconv.Quote(v)
		}
	}
	sort.Strings(out)
	return out, nil
}

func collectRows(rs client.ResultSet, pkName string, into map[string]Row) error {
	pkCol := rs.GetColumn(pkName)
	if pkCol == nil {
		return fmt.Errorf("result lacks the primary key column %s", pkName)
	}
	for i := 0; i < pkCol.Len(); i++ {
		pkVal, err := pkCol.Get(i)
		if err != nil {
			return err
		}
		row := Row{}
		for _, col := range rs {
			v, err := col.Get(i)
			if err != nil {
				return fmt.Errorf("field %s row %d: %w", col.Name(), i, err)
			}
			norm, err := normalizeValue(col, v)
			if err != nil {
				return fmt.Errorf("field %s row %d: %w", col.Name(), i, err)
			}
			row[col.Name()] = norm
		}
		into[fmt.Sprint(pkVal)] = row
	}
	return nil
}

func primaryField(s *entity.Schema) *entity.Field {
	for _, f := range s.Fields {
		if f.PrimaryKey {
			return f
		}
	}
	return nil
}

func hasField(s *entity.Schema, name string) bool {
	for _, f := range s.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}
