//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
)

// Field names of AllTypesSchema.
const (
	FieldID          = "id"
	FieldBool        = "f_bool"
	FieldInt8        = "f_int8"
	FieldInt16       = "f_int16"
	FieldInt32       = "f_int32"
	FieldInt64       = "f_int64"
	FieldFloat       = "f_float"
	FieldDouble      = "f_double"
	FieldVarChar     = "f_varchar"
	FieldJSON        = "f_json"
	FieldArrayInt64  = "f_arr_int64"
	FieldArrayVarChr = "f_arr_varchar"
	FieldArrayDouble = "f_arr_double"
	FieldArrayBool   = "f_arr_bool"
	FieldFloatVector = "f_float_vec"
	FieldBinVector   = "f_bin_vec"

	FloatVectorDim  = 8
	BinaryVectorDim = 32 // bits
	varCharMaxLen   = 256
	arrayMaxCap     = 8
)

// AllTypesSchema is a collection schema with every field type Milvus 2.3 offers:
// an Int64 primary key (not auto-generated, so rows can be matched across
// clusters), Bool, Int8/16/32/64, Float, Double, VarChar, JSON, Array (of Int64,
// VarChar, Double and Bool), a FloatVector and the dynamic field.
//
// Milvus 2.3 allows one vector field per collection ("multiple vector fields is
// not supported"), so the BinaryVector lives in AllTypesBinarySchema.
// Float16/BFloat16/sparse vectors arrived in 2.4 and are left out.
func AllTypesSchema(name string) *entity.Schema {
	return allTypesSchema(name, entity.NewField().WithName(FieldFloatVector).
		WithDataType(entity.FieldTypeFloatVector).WithDim(FloatVectorDim))
}

// AllTypesBinarySchema is AllTypesSchema with a BinaryVector instead of the
// FloatVector.
func AllTypesBinarySchema(name string) *entity.Schema {
	return allTypesSchema(name, entity.NewField().WithName(FieldBinVector).
		WithDataType(entity.FieldTypeBinaryVector).WithDim(BinaryVectorDim))
}

func allTypesSchema(name string, vector *entity.Field) *entity.Schema {
	f := func(n string, t entity.FieldType) *entity.Field {
		return entity.NewField().WithName(n).WithDataType(t)
	}
	return &entity.Schema{
		CollectionName:     name,
		Description:        "milvus-cdc e2e: every Milvus 2.3 data type",
		EnableDynamicField: true,
		Fields: []*entity.Field{
			f(FieldID, entity.FieldTypeInt64).WithIsPrimaryKey(true).WithIsAutoID(false),
			f(FieldBool, entity.FieldTypeBool),
			f(FieldInt8, entity.FieldTypeInt8),
			f(FieldInt16, entity.FieldTypeInt16),
			f(FieldInt32, entity.FieldTypeInt32),
			f(FieldInt64, entity.FieldTypeInt64),
			f(FieldFloat, entity.FieldTypeFloat),
			f(FieldDouble, entity.FieldTypeDouble),
			f(FieldVarChar, entity.FieldTypeVarChar).WithMaxLength(varCharMaxLen),
			f(FieldJSON, entity.FieldTypeJSON),
			f(FieldArrayInt64, entity.FieldTypeArray).WithElementType(entity.FieldTypeInt64).WithMaxCapacity(arrayMaxCap),
			f(FieldArrayVarChr, entity.FieldTypeArray).WithElementType(entity.FieldTypeVarChar).WithMaxCapacity(arrayMaxCap).WithMaxLength(64),
			f(FieldArrayDouble, entity.FieldTypeArray).WithElementType(entity.FieldTypeDouble).WithMaxCapacity(arrayMaxCap),
			f(FieldArrayBool, entity.FieldTypeArray).WithElementType(entity.FieldTypeBool).WithMaxCapacity(arrayMaxCap),
			vector,
		},
	}
}

// CreateCollection creates the collection described by schema with shards shards.
func CreateCollection(ctx context.Context, c client.Client, schema *entity.Schema, shards int32) error {
	opts := []client.CreateCollectionOption{client.WithConsistencyLevel(entity.ClBounded)}
	if schema.EnableDynamicField {
		opts = append(opts, client.WithEnableDynamicSchema(true))
	}
	if err := c.CreateCollection(ctx, schema, shards, opts...); err != nil {
		return fmt.Errorf("create collection %s: %w", schema.CollectionName, err)
	}
	return nil
}

// Dataset is a deterministic set of rows for a schema: row i (From <= i <
// From+Count) always has the same values, derived from i and the field name, so
// any test can recompute what it expects on either side. Works for any schema
// whose primary key is Int64 (value i) or VarChar (value "pk-%08d").
type Dataset struct {
	Schema *entity.Schema
	From   int
	Count  int
}

// NewDataset returns rows [from, from+count) of schema.
func NewDataset(schema *entity.Schema, from, count int) Dataset {
	return Dataset{Schema: schema, From: from, Count: count}
}

// Columns builds one insert column per schema field, plus the dynamic "$meta"
// column when the schema has the dynamic field.
func (d Dataset) Columns() ([]entity.Column, error) {
	var cols []entity.Column
	for _, f := range d.Schema.Fields {
		if f.AutoID {
			continue
		}
		col, err := d.column(f)
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
	}
	if d.Schema.EnableDynamicField {
		vals := make([][]byte, d.Count)
		for k := range vals {
			vals[k] = DynamicValue(d.From + k)
		}
		cols = append(cols, entity.NewColumnJSONBytes("$meta", vals).WithIsDynamic(true))
	}
	return cols, nil
}

// Insert writes the dataset in batches of at most batch rows and returns the
// number of rows inserted.
func (d Dataset) Insert(ctx context.Context, c client.Client, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	inserted := 0
	for from := d.From; from < d.From+d.Count; from += batch {
		part := Dataset{Schema: d.Schema, From: from, Count: min(batch, d.From+d.Count-from)}
		cols, err := part.Columns()
		if err != nil {
			return inserted, err
		}
		if _, err := c.Insert(ctx, d.Schema.CollectionName, "", cols...); err != nil {
			return inserted, fmt.Errorf("insert rows %d..%d into %s: %w", part.From, part.From+part.Count, d.Schema.CollectionName, err)
		}
		inserted += part.Count
	}
	return inserted, nil
}

// ExpectedRows is what QueryAllRows must return for this dataset (same
// normalization), keyed by primary key.
func (d Dataset) ExpectedRows() (map[string]Row, error) {
	cols, err := d.Columns()
	if err != nil {
		return nil, err
	}
	pk := primaryField(d.Schema)
	if pk == nil {
		return nil, fmt.Errorf("schema %s has no primary key", d.Schema.CollectionName)
	}
	rows := make(map[string]Row, d.Count)
	for k := 0; k < d.Count; k++ {
		row := Row{}
		var key string
		for _, col := range cols {
			v, err := col.Get(k)
			if err != nil {
				return nil, err
			}
			norm, err := normalizeValue(col, v)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", col.Name(), err)
			}
			row[col.Name()] = norm
			if col.Name() == pk.Name {
				key = fmt.Sprint(v)
			}
		}
		rows[key] = row
	}
	return rows, nil
}

func (d Dataset) column(f *entity.Field) (entity.Column, error) {
	n := d.Count
	h := fieldSalt(f.Name)
	idx := func(k int) int { return d.From + k }
	switch f.DataType {
	case entity.FieldTypeBool:
		v := make([]bool, n)
		for k := range v {
			v[k] = (idx(k)+h)%3 == 0
		}
		return entity.NewColumnBool(f.Name, v), nil
	case entity.FieldTypeInt8:
		v := make([]int8, n)
		for k := range v {
			v[k] = int8((idx(k)*31 + h) % 256)
		}
		return entity.NewColumnInt8(f.Name, v), nil
	case entity.FieldTypeInt16:
		v := make([]int16, n)
		for k := range v {
			v[k] = int16((idx(k)*1021 + h) % 65536)
		}
		return entity.NewColumnInt16(f.Name, v), nil
	case entity.FieldTypeInt32:
		v := make([]int32, n)
		for k := range v {
			v[k] = int32(int64(idx(k))*104729 - int64(h))
		}
		return entity.NewColumnInt32(f.Name, v), nil
	case entity.FieldTypeInt64:
		v := make([]int64, n)
		for k := range v {
			if f.PrimaryKey {
				v[k] = int64(idx(k))
			} else {
				v[k] = int64(idx(k))*1_000_000_007 - int64(h)<<20
			}
		}
		return entity.NewColumnInt64(f.Name, v), nil
	case entity.FieldTypeFloat:
		v := make([]float32, n)
		for k := range v {
			v[k] = float32(idx(k))*0.5 - float32(h%97)/3
		}
		return entity.NewColumnFloat(f.Name, v), nil
	case entity.FieldTypeDouble:
		v := make([]float64, n)
		for k := range v {
			v[k] = float64(idx(k))*math.Pi - float64(h)/7
		}
		return entity.NewColumnDouble(f.Name, v), nil
	case entity.FieldTypeVarChar:
		v := make([]string, n)
		for k := range v {
			if f.PrimaryKey {
				v[k] = fmt.Sprintf("pk-%08d", idx(k))
			} else {
				// Non-ASCII on purpose: the replication must keep bytes, not characters.
				v[k] = fmt.Sprintf("%s-%d-%s", f.Name, idx(k), strings.Repeat("é", idx(k)%5))
			}
		}
		return entity.NewColumnVarChar(f.Name, v), nil
	case entity.FieldTypeJSON:
		v := make([][]byte, n)
		for k := range v {
			i := idx(k)
			b, err := json.Marshal(map[string]any{
				"i": i, "name": fmt.Sprintf("row %d", i), "even": i%2 == 0,
				"tags":   []string{"t" + strconv.Itoa(i%3), "t" + strconv.Itoa(i%5)},
				"nested": map[string]any{"x": float64(i) / 4, "null": nil},
			})
			if err != nil {
				return nil, err
			}
			v[k] = b
		}
		return entity.NewColumnJSONBytes(f.Name, v), nil
	case entity.FieldTypeArray:
		return d.arrayColumn(f, h)
	case entity.FieldTypeFloatVector:
		dim, err := fieldDim(f)
		if err != nil {
			return nil, err
		}
		v := make([][]float32, n)
		for k := range v {
			vec := make([]float32, dim)
			for j := range vec {
				vec[j] = float32(math.Sin(float64(idx(k)*int(dim)+j+h) * 0.37))
			}
			v[k] = vec
		}
		return entity.NewColumnFloatVector(f.Name, int(dim), v), nil
	case entity.FieldTypeBinaryVector:
		dim, err := fieldDim(f)
		if err != nil {
			return nil, err
		}
		v := make([][]byte, n)
		for k := range v {
			vec := make([]byte, dim/8)
			for j := range vec {
				vec[j] = byte(idx(k)*13 + j*7 + h)
			}
			v[k] = vec
		}
		return entity.NewColumnBinaryVector(f.Name, int(dim), v), nil
	default:
		return nil, fmt.Errorf("field %s: Dataset cannot generate type %s", f.Name, f.DataType.Name())
	}
}

// arrayColumn: row i holds i%arrayMaxCap+... elements (0 to 4, so empty arrays too).
func (d Dataset) arrayColumn(f *entity.Field, h int) (entity.Column, error) {
	n := d.Count
	length := func(i int) int { return (i + h) % 5 }
	switch f.ElementType {
	case entity.FieldTypeInt64:
		v := make([][]int64, n)
		for k := range v {
			i := d.From + k
			v[k] = make([]int64, length(i))
			for j := range v[k] {
				v[k][j] = int64(i*10 + j - h)
			}
		}
		return entity.NewColumnInt64Array(f.Name, v), nil
	case entity.FieldTypeVarChar:
		v := make([][][]byte, n)
		for k := range v {
			i := d.From + k
			v[k] = make([][]byte, length(i))
			for j := range v[k] {
				v[k][j] = []byte(fmt.Sprintf("e%d.%d", i, j))
			}
		}
		return entity.NewColumnVarCharArray(f.Name, v), nil
	case entity.FieldTypeDouble:
		v := make([][]float64, n)
		for k := range v {
			i := d.From + k
			v[k] = make([]float64, length(i))
			for j := range v[k] {
				v[k][j] = float64(i) + float64(j)/3
			}
		}
		return entity.NewColumnDoubleArray(f.Name, v), nil
	case entity.FieldTypeBool:
		v := make([][]bool, n)
		for k := range v {
			i := d.From + k
			v[k] = make([]bool, length(i))
			for j := range v[k] {
				v[k][j] = (i+j)%2 == 0
			}
		}
		return entity.NewColumnBoolArray(f.Name, v), nil
	default:
		return nil, fmt.Errorf("field %s: Dataset cannot generate arrays of %s", f.Name, f.ElementType.Name())
	}
}

func fieldDim(f *entity.Field) (int64, error) {
	dim, err := strconv.ParseInt(f.TypeParams[entity.TypeParamDim], 10, 64)
	if err != nil || dim <= 0 {
		return 0, fmt.Errorf("field %s: bad dim %q", f.Name, f.TypeParams[entity.TypeParamDim])
	}
	return dim, nil
}

// DynamicValue is the dynamic-field JSON of row i: keys that are not in the schema.
func DynamicValue(i int) []byte {
	b, _ := json.Marshal(map[string]any{"dyn_int": i, "dyn_str": fmt.Sprintf("dyn-%d", i), "dyn_odd": i%2 == 1})
	return b
}

// fieldSalt makes fields of the same type differ from each other.
func fieldSalt(name string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return int(h.Sum32() % 1000)
}
