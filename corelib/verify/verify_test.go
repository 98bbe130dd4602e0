package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/rows"
)

// fakeRow is one row of the fake: its key, partition and values.
type fakeRow struct {
	key  rows.Key
	part string
	num  int64
	vec  [2]float32
	doc  string // JSON
}

// fakeMilvus is a RowSource over rows held in memory, one collection "c".
type fakeMilvus struct {
	varchar   bool
	gone      bool
	notLoaded bool
	rows      map[rows.Key]fakeRow
	order     []fakeRow // rows sorted by key, built at the first read
	// reads counts the rows returned by NextFields and Lookup.
	reads, maxChunk int
}

func newFake(varchar bool, n int) *fakeMilvus {
	f := &fakeMilvus{varchar: varchar, rows: map[rows.Key]fakeRow{}}
	for i := 0; i < n; i++ {
		f.put(i, "_default", int64(i))
	}
	return f
}

func (f *fakeMilvus) key(i int) rows.Key {
	if f.varchar {
		return rows.Key{Str: fmt.Sprintf("k%05d", i), IsStr: true}
	}
	return rows.Key{Int: int64(i * 3)}
}

func (f *fakeMilvus) put(i int, part string, num int64) {
	k := f.key(i)
	f.rows[k] = fakeRow{key: k, part: part, num: num, vec: [2]float32{float32(i), 0.5}, doc: fmt.Sprintf(`{"a": %d, "b": "x"}`, i)}
}

func (f *fakeMilvus) clone() *fakeMilvus {
	c := *f
	c.order = nil
	c.rows = map[rows.Key]fakeRow{}
	for k, r := range f.rows {
		c.rows[k] = r
	}
	return &c
}

func (f *fakeMilvus) schema() *schemapb.CollectionSchema {
	pk := &schemapb.FieldSchema{Name: "id", IsPrimaryKey: true, DataType: schemapb.DataType_Int64}
	if f.varchar {
		pk.DataType = schemapb.DataType_VarChar
	}
	return &schemapb.CollectionSchema{Name: "c", EnableDynamicField: true, Fields: []*schemapb.FieldSchema{
		pk, {Name: "num", DataType: schemapb.DataType_Int64}, {Name: "vec", DataType: schemapb.DataType_FloatVector},
	}}
}

func (f *fakeMilvus) Schema(context.Context, string, string) (*schemapb.CollectionSchema, error) {
	if f.gone {
		return nil, fmt.Errorf("c: %w", rows.ErrGone)
	}
	return f.schema(), nil
}

func (f *fakeMilvus) Partitions(context.Context, string, string) ([]string, error) {
	seen := map[string]bool{"_default": true}
	for _, r := range f.rows {
		seen[r.part] = true
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func (f *fakeMilvus) Count(_ context.Context, t rows.Table) (int64, error) {
	if f.notLoaded {
		return 0, fmt.Errorf("c: %w", rows.ErrNotLoaded)
	}
	var n int64
	for _, r := range f.rows {
		if t.Partition == "" || r.part == t.Partition {
			n++
		}
	}
	return n, nil
}

func (f *fakeMilvus) sorted() []fakeRow {
	out := make([]fakeRow, 0, len(f.rows))
	for _, r := range f.rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return compareKeys(out[i].key, out[j].key) < 0 })
	return out
}

func (f *fakeMilvus) NextFields(_ context.Context, _ rows.Table, after *rows.Key, limit int, fields []string) (*rows.Chunk, error) {
	if len(f.order) != len(f.rows) { // rows are changed before the first read only
		f.order = f.sorted()
	}
	from := 0
	if after != nil {
		from = sort.Search(len(f.order), func(i int) bool { return compareKeys(f.order[i].key, *after) > 0 })
	}
	sel := f.order[from:min(from+limit, len(f.order))]
	f.maxChunk = max(f.maxChunk, len(sel))
	return f.chunk(sel, len(fields) == 0), nil
}

func (f *fakeMilvus) Lookup(_ context.Context, _ rows.Table, keys []rows.Key) (*rows.Chunk, error) {
	var sel []fakeRow
	for i := len(keys) - 1; i >= 0; i-- { // in no particular order
		if r, ok := f.rows[keys[i]]; ok {
			sel = append(sel, r)
		}
	}
	return f.chunk(sel, true), nil
}

func (f *fakeMilvus) chunk(sel []fakeRow, all bool) *rows.Chunk {
	f.reads += len(sel)
	pk := &schemapb.FieldData{FieldName: "id", Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{}}}
	var ints []int64
	var strs []string
	for _, r := range sel {
		ints, strs = append(ints, r.key.Int), append(strs, r.key.Str)
	}
	if f.varchar {
		pk.GetScalars().Data = &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: strs}}
	} else {
		pk.GetScalars().Data = &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: ints}}
	}
	c := &rows.Chunk{Columns: []*schemapb.FieldData{pk}, Rows: len(sel)}
	if len(sel) > 0 {
		c.Last = sel[len(sel)-1].key
	}
	if !all {
		return c
	}
	var nums []int64
	var vecs []float32
	var docs [][]byte
	for _, r := range sel {
		nums, vecs, docs = append(nums, r.num), append(vecs, r.vec[:]...), append(docs, []byte(r.doc))
	}
	c.Columns = append(c.Columns,
		&schemapb.FieldData{FieldName: "num", Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: nums}}}}},
		&schemapb.FieldData{FieldName: "vec", Field: &schemapb.FieldData_Vectors{Vectors: &schemapb.VectorField{Dim: 2, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: vecs}}}}},
		&schemapb.FieldData{FieldName: "$meta", IsDynamic: true, Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_JsonData{JsonData: &schemapb.JSONArray{Data: docs}}}}},
	)
	return c
}

func TestCompareNamesTheKeysThatDiffer(t *testing.T) {
	full := corelib.VerifyOptions{Mode: corelib.VerifyModeFull}
	tests := []struct {
		name    string
		varchar bool
		opts    corelib.VerifyOptions
		change  func(src, dst *fakeMilvus)
		equal   bool
		check   func(t *testing.T, cv corelib.CollectionVerify)
	}{
		{name: "equal int64", opts: full, equal: true},
		{name: "equal varchar, sample", varchar: true, opts: corelib.VerifyOptions{Mode: corelib.VerifyModeSample, Sample: 50}, equal: true,
			check: func(t *testing.T, cv corelib.CollectionVerify) { require.EqualValues(t, 50, cv.Compared) }},
		{name: "JSON key order and spaces do not matter", opts: full, equal: true, change: func(_, dst *fakeMilvus) {
			r := dst.rows[dst.key(7)]
			r.doc = `{"b":"x","a":7}`
			dst.rows[r.key] = r
		}},
		{name: "missing, extra and differing int64", opts: full, change: func(src, dst *fakeMilvus) {
			delete(dst.rows, dst.key(10))
			dst.put(5000, "_default", 1)
			r := dst.rows[dst.key(20)]
			r.num = -1
			dst.rows[r.key] = r
		}, check: func(t *testing.T, cv corelib.CollectionVerify) {
			require.Equal(t, []string{"30"}, cv.MissingKeys)
			require.Equal(t, []string{"15000"}, cv.ExtraKeys)
			require.Equal(t, []string{"60"}, cv.DifferingKeys)
			require.Equal(t, []string{"60: num"}, cv.DifferingFields)
			require.EqualValues(t, 3, cv.Mismatched())
			require.Equal(t, cv.SourceRows, cv.TargetRows) // one missing, one extra
			require.NotEqual(t, cv.SourceKeyHash, cv.TargetKeyHash)
		}},
		{name: "differing vector and dynamic field varchar", varchar: true, opts: full, change: func(_, dst *fakeMilvus) {
			r := dst.rows[dst.key(3)]
			r.vec[1], r.doc = 0.25, `{"a": 3, "b": "y"}`
			dst.rows[r.key] = r
		}, check: func(t *testing.T, cv corelib.CollectionVerify) {
			require.Equal(t, []string{"k00003: vec,$meta"}, cv.DifferingFields)
		}},
		{name: "sample of every row finds a differing value", opts: corelib.VerifyOptions{Mode: corelib.VerifyModeSample, Sample: 3000}, change: func(_, dst *fakeMilvus) {
			r := dst.rows[dst.key(999)]
			r.num = 7
			dst.rows[r.key] = r
		}, check: func(t *testing.T, cv corelib.CollectionVerify) {
			require.Equal(t, []string{"2997"}, cv.DifferingKeys)
			require.EqualValues(t, 2000, cv.Compared)
		}},
		{name: "sample mode still finds every missing key", opts: corelib.VerifyOptions{Mode: corelib.VerifyModeSample, Sample: 1}, change: func(_, dst *fakeMilvus) {
			delete(dst.rows, dst.key(0))
			delete(dst.rows, dst.key(1999))
		}, check: func(t *testing.T, cv corelib.CollectionVerify) {
			require.Equal(t, []string{"0", "5997"}, cv.MissingKeys)
			require.EqualValues(t, 1, cv.Compared)
		}},
		{name: "partition counts", opts: full, change: func(src, dst *fakeMilvus) {
			src.put(4, "p1", 4)
			dst.put(4, "_default", 4)
		}, check: func(t *testing.T, cv corelib.CollectionVerify) {
			require.Equal(t, []corelib.PartitionVerify{{Name: "_default", SourceRows: 1999, TargetRows: 2000}, {Name: "p1", SourceRows: 1, TargetRows: -1}}, cv.Partitions)
			require.Zero(t, cv.Mismatched())
			require.Equal(t, "partition _default holds 1999 rows on the source and 2000 rows on the target", cv.Reason)
		}},
		{name: "collection not loaded on the target", opts: full, change: func(_, dst *fakeMilvus) { dst.notLoaded = true },
			check: func(t *testing.T, cv corelib.CollectionVerify) {
				require.Equal(t, "the collection is not loaded on the target, so its rows cannot be compared; load it", cv.Reason)
			}},
		{name: "collection missing on the target", opts: full, change: func(_, dst *fakeMilvus) { dst.gone = true },
			check: func(t *testing.T, cv corelib.CollectionVerify) {
				require.Equal(t, "the collection is missing on the target", cv.Reason)
				require.EqualValues(t, 2000, cv.Missing)
				require.Len(t, cv.MissingKeys, corelib.MaxVerifyKeys)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFake(tt.varchar, 2000)
			dst := src.clone()
			if tt.change != nil {
				tt.change(src, dst)
			}
			opts, ferr := Normalize(tt.opts)
			require.Nil(t, ferr)
			cmp := &Comparer{Source: src, Target: dst, ChunkRows: 300}
			cv, err := cmp.Compare(context.Background(), Collection{Database: "default", Name: "c", TargetDatabase: "default", TargetName: "c"}, opts)
			require.NoError(t, err)
			require.Equal(t, tt.equal, cv.Equal, "%+v", cv)
			require.EqualValues(t, len(src.rows), cv.SourceRows)
			if tt.check != nil {
				tt.check(t, cv)
			}
		})
	}
}

func TestCompareReadsInChunks(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		chunkRows int
		maxChunk  int
	}{
		{"full, fixed chunks", corelib.VerifyModeFull, 300, 300},
		{"full, chunks sized by bytes (small rows: the most a query answers)", corelib.VerifyModeFull, 0, keyChunkRows},
		{"sample reads keys only", corelib.VerifyModeSample, 300, keyChunkRows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFake(false, 40000)
			dst := src.clone()
			opts, _ := Normalize(corelib.VerifyOptions{Mode: tt.mode})
			cmp := &Comparer{Source: src, Target: dst, ChunkRows: tt.chunkRows}
			cv, err := cmp.Compare(context.Background(), Collection{Name: "c", TargetName: "c"}, opts)
			require.NoError(t, err)
			require.True(t, cv.Equal)
			require.Equal(t, tt.maxChunk, src.maxChunk)
			require.Equal(t, tt.maxChunk, dst.maxChunk)
		})
	}
}

func TestNormalizeNamesTheField(t *testing.T) {
	tests := []struct {
		in    corelib.VerifyOptions
		want  corelib.VerifyOptions
		field string
	}{
		{in: corelib.VerifyOptions{}, want: corelib.VerifyOptions{Mode: "sample", Sample: corelib.DefaultVerifySample}},
		{in: corelib.VerifyOptions{Mode: "full"}, want: corelib.VerifyOptions{Mode: "full"}},
		{in: corelib.VerifyOptions{Mode: "sample", Sample: 5}, want: corelib.VerifyOptions{Mode: "sample", Sample: 5}},
		{in: corelib.VerifyOptions{Mode: "quick"}, field: "mode"},
		{in: corelib.VerifyOptions{Sample: -1}, field: "sample"},
		{in: corelib.VerifyOptions{Sample: corelib.MaxVerifySample + 1}, field: "sample"},
		{in: corelib.VerifyOptions{Mode: "full", Sample: 10}, field: "sample"},
	}
	for _, tt := range tests {
		got, ferr := Normalize(tt.in)
		if tt.field != "" {
			require.NotNil(t, ferr, "%+v", tt.in)
			require.Equal(t, tt.field, ferr.Field)
			continue
		}
		require.Nil(t, ferr)
		require.Equal(t, tt.want, got)
	}
}

func TestVerifyTaskRefusesKafkaAndSetsTheGauge(t *testing.T) {
	s := &Service{}
	_, err := s.VerifyTask(context.Background(), corelib.TaskSpec{WriterMode: corelib.WriterModeKafka}, corelib.VerifyOptions{})
	require.True(t, errors.Is(err, corelib.ErrNoMilvusTarget))
	require.ErrorContains(t, err, "kafka")

	src := newFake(false, 100)
	dst := src.clone()
	delete(dst.rows, dst.key(1))
	s = &Service{
		Source: func(context.Context) (RowSource, func() error, error) { return src, func() error { return nil }, nil },
		Target: func(context.Context, corelib.Target) (RowSource, func() error, error) {
			return dst, func() error { return nil }, nil
		},
		Scope: func(context.Context, corelib.TaskSpec) ([]Collection, error) {
			return []Collection{{Database: "default", Name: "c", TargetDatabase: "default", TargetName: "c"}}, nil
		},
	}
	rep, err := s.VerifyTask(context.Background(), corelib.TaskSpec{ID: "t1"}, corelib.VerifyOptions{Mode: "full"})
	require.NoError(t, err)
	require.False(t, rep.Equal)
	require.Equal(t, []string{"3"}, rep.Collections[0].MissingKeys)
}
