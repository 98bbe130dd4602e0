package kafka

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/changelog"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// testWriter is a writer that only encodes.
func testWriter(format Format) *Writer {
	return &Writer{env: sink.Env{Log: zap.NewNop()}, cluster: "by-dev", format: format,
		topics: topicNamer{fixed: "cdc"}, schemaTopic: "cdc.schema", warned: map[string]bool{}}
}

func testCollection(pk *schemapb.FieldSchema) *sink.Collection {
	return &sink.Collection{ID: 7, Database: "db", Name: "c", TargetDatabase: "tdb", TargetName: "tc",
		Info: &source.Collection{ID: 7, Name: "c", Schema: &schemapb.CollectionSchema{Fields: []*schemapb.FieldSchema{pk}}}}
}

func msg(t testing.TB, body proto.Message) *source.Message {
	raw, err := proto.Marshal(body)
	require.NoError(t, err)
	m, err := source.DecodeMessage(raw)
	require.NoError(t, err)
	return m
}

func scalars(name string, typ schemapb.DataType, sf *schemapb.ScalarField) *schemapb.FieldData {
	return &schemapb.FieldData{FieldName: name, Type: typ, Field: &schemapb.FieldData_Scalars{Scalars: sf}}
}

func vectors(name string, typ schemapb.DataType, vf *schemapb.VectorField) *schemapb.FieldData {
	return &schemapb.FieldData{FieldName: name, Type: typ, Field: &schemapb.FieldData_Vectors{Vectors: vf}}
}

func le16(vals ...uint16) []byte {
	b := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

func sparseRow(pairs ...any) []byte {
	var b []byte
	for i := 0; i < len(pairs); i += 2 {
		b = binary.LittleEndian.AppendUint32(b, uint32(pairs[i].(int)))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(pairs[i+1].(float32)))
	}
	return b
}

func b64f32(vals ...float32) string {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// encodeInsert encodes a two-row insert of fields and returns each row's
// "after" object.
func encodeInsert(t *testing.T, format Format, fields ...*schemapb.FieldData) []map[string]json.RawMessage {
	t.Helper()
	pk := &schemapb.FieldSchema{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true}
	coll := testCollection(pk)
	all := append([]*schemapb.FieldData{scalars("id", schemapb.DataType_Int64, &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{1, 2}}}})}, fields...)
	req := &msgpb.InsertRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: 100 << 18},
		CollectionID: 7, PartitionName: "_default", NumRows: 2, Timestamps: []uint64{100 << 18, 100 << 18}, RowIDs: []int64{1, 2},
		FieldsData: all, Version: msgpb.InsertDataVersion_ColumnBased}
	enc := &batchEncoder{w: testWriter(format), channel: "by-dev-rootcoord-dml_0", position: "cG9z", nowMs: 5}
	require.NoError(t, enc.change(&sink.Insert{Coll: coll, Msg: msg(t, req)}))
	require.Len(t, enc.recs, 2)
	var out []map[string]json.RawMessage
	for _, r := range enc.recs {
		ev, err := changelog.Decode(r.Value)
		require.NoError(t, err, "%s", r.Value)
		out = append(out, ev.After)
	}
	return out
}

type fieldCase struct {
	name   string
	format Format
	field  *schemapb.FieldData
	want   [2]string // the JSON of row 0 and row 1
}

// fieldCases holds two rows of every field type the writer encodes.
func fieldCases() []fieldCase {
	nan := float32(math.NaN())
	return []fieldCase{
		{"bool", FormatJSON, scalars("f", schemapb.DataType_Bool, &schemapb.ScalarField{Data: &schemapb.ScalarField_BoolData{BoolData: &schemapb.BoolArray{Data: []bool{true, false}}}}), [2]string{`true`, `false`}},
		{"int8", FormatJSON, scalars("f", schemapb.DataType_Int8, &schemapb.ScalarField{Data: &schemapb.ScalarField_IntData{IntData: &schemapb.IntArray{Data: []int32{-128, 127}}}}), [2]string{`-128`, `127`}},
		{"int16", FormatJSON, scalars("f", schemapb.DataType_Int16, &schemapb.ScalarField{Data: &schemapb.ScalarField_IntData{IntData: &schemapb.IntArray{Data: []int32{-32768, 32767}}}}), [2]string{`-32768`, `32767`}},
		{"int32", FormatJSON, scalars("f", schemapb.DataType_Int32, &schemapb.ScalarField{Data: &schemapb.ScalarField_IntData{IntData: &schemapb.IntArray{Data: []int32{math.MinInt32, math.MaxInt32}}}}), [2]string{`-2147483648`, `2147483647`}},
		{"int64", FormatJSON, scalars("f", schemapb.DataType_Int64, &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{math.MinInt64, math.MaxInt64}}}}), [2]string{`-9223372036854775808`, `9223372036854775807`}},
		{"float", FormatJSON, scalars("f", schemapb.DataType_Float, &schemapb.ScalarField{Data: &schemapb.ScalarField_FloatData{FloatData: &schemapb.FloatArray{Data: []float32{0.1, -3.25e38}}}}), [2]string{`0.1`, `-3.25e+38`}},
		{"float NaN and infinity", FormatJSON, scalars("f", schemapb.DataType_Float, &schemapb.ScalarField{Data: &schemapb.ScalarField_FloatData{FloatData: &schemapb.FloatArray{Data: []float32{nan, float32(math.Inf(-1))}}}}), [2]string{`"NaN"`, `"-Infinity"`}},
		{"double", FormatJSON, scalars("f", schemapb.DataType_Double, &schemapb.ScalarField{Data: &schemapb.ScalarField_DoubleData{DoubleData: &schemapb.DoubleArray{Data: []float64{math.Pi, 1e-300}}}}), [2]string{`3.141592653589793`, `1e-300`}},
		{"varchar", FormatJSON, scalars("f", schemapb.DataType_VarChar, &schemapb.ScalarField{Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: []string{"é \"q\" \\ \n\t\x01</>", "line \u2028 sep"}}}}), [2]string{`"é \"q\" \\ \n\t\u0001</>"`, `"line \u2028 sep"`}},
		{"json", FormatJSON, scalars("f", schemapb.DataType_JSON, &schemapb.ScalarField{Data: &schemapb.ScalarField_JsonData{JsonData: &schemapb.JSONArray{Data: [][]byte{[]byte(`{"a":[1,{"b":null}]}`), []byte(`not json`)}}}}), [2]string{`{"a":[1,{"b":null}]}`, `"not json"`}},
		{"dynamic field", FormatJSON, &schemapb.FieldData{FieldName: "$meta", Type: schemapb.DataType_JSON, IsDynamic: true, Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_JsonData{JsonData: &schemapb.JSONArray{Data: [][]byte{[]byte(`{"dyn":1}`), []byte(`{}`)}}}}}}, [2]string{`{"dyn":1}`, `{}`}},
		{"array of int64", FormatJSON, scalars("f", schemapb.DataType_Array, &schemapb.ScalarField{Data: &schemapb.ScalarField_ArrayData{ArrayData: &schemapb.ArrayArray{ElementType: schemapb.DataType_Int64, Data: []*schemapb.ScalarField{
			{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{1, -2}}}}, {Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{}}}}}}}), [2]string{`[1,-2]`, `[]`}},
		{"array of varchar", FormatJSON, scalars("f", schemapb.DataType_Array, &schemapb.ScalarField{Data: &schemapb.ScalarField_ArrayData{ArrayData: &schemapb.ArrayArray{ElementType: schemapb.DataType_VarChar, Data: []*schemapb.ScalarField{
			{Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: []string{"a", "b\"c"}}}}, {Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: []string{"x"}}}}}}}}), [2]string{`["a","b\"c"]`, `["x"]`}},
		{"array of bool and double", FormatJSON, scalars("f", schemapb.DataType_Array, &schemapb.ScalarField{Data: &schemapb.ScalarField_ArrayData{ArrayData: &schemapb.ArrayArray{ElementType: schemapb.DataType_Bool, Data: []*schemapb.ScalarField{
			{Data: &schemapb.ScalarField_BoolData{BoolData: &schemapb.BoolArray{Data: []bool{true}}}}, {Data: &schemapb.ScalarField_DoubleData{DoubleData: &schemapb.DoubleArray{Data: []float64{0.5}}}}}}}}), [2]string{`[true]`, `[0.5]`}},
		{"float vector", FormatJSON, vectors("v", schemapb.DataType_FloatVector, &schemapb.VectorField{Dim: 2, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: []float32{0.5, -1, 3.25, 1e-7}}}}), [2]string{`[0.5,-1]`, `[3.25,1e-7]`}},
		{"float vector base64", FormatJSONBase64, vectors("v", schemapb.DataType_FloatVector, &schemapb.VectorField{Dim: 2, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: []float32{0.5, -1, 3.25, 1e-7}}}}), [2]string{`"` + b64f32(0.5, -1) + `"`, `"` + b64f32(3.25, 1e-7) + `"`}},
		{"binary vector", FormatJSON, vectors("v", schemapb.DataType_BinaryVector, &schemapb.VectorField{Dim: 16, Data: &schemapb.VectorField_BinaryVector{BinaryVector: []byte{0, 255, 7, 128}}}), [2]string{`[0,255]`, `[7,128]`}},
		{"binary vector base64", FormatJSONBase64, vectors("v", schemapb.DataType_BinaryVector, &schemapb.VectorField{Dim: 16, Data: &schemapb.VectorField_BinaryVector{BinaryVector: []byte{0, 255, 7, 128}}}), [2]string{`"AP8="`, `"B4A="`}},
		// 0x3c00 = 1, 0xc000 = -2, 0x3555 ~ 0.33325, 0x0001 = the smallest subnormal.
		{"float16 vector", FormatJSON, vectors("v", schemapb.DataType_Float16Vector, &schemapb.VectorField{Dim: 2, Data: &schemapb.VectorField_Float16Vector{Float16Vector: le16(0x3c00, 0xc000, 0x3555, 0x0001)}}), [2]string{`[1,-2]`, `[0.33325195,5.9604645e-8]`}},
		{"float16 vector base64", FormatJSONBase64, vectors("v", schemapb.DataType_Float16Vector, &schemapb.VectorField{Dim: 2, Data: &schemapb.VectorField_Float16Vector{Float16Vector: le16(0x3c00, 0xc000, 0x3555, 0x0001)}}), [2]string{`"` + base64.StdEncoding.EncodeToString(le16(0x3c00, 0xc000)) + `"`, `"` + base64.StdEncoding.EncodeToString(le16(0x3555, 0x0001)) + `"`}},
		// bfloat16 is the upper half of a float32: 0x3f80 = 1, 0xc040 = -3.
		{"bfloat16 vector", FormatJSON, vectors("v", schemapb.DataType_BFloat16Vector, &schemapb.VectorField{Dim: 2, Data: &schemapb.VectorField_Bfloat16Vector{Bfloat16Vector: le16(0x3f80, 0xc040, 0x4000, 0x3f00)}}), [2]string{`[1,-3]`, `[2,0.5]`}},
		{"sparse vector", FormatJSON, vectors("v", schemapb.DataType_SparseFloatVector, &schemapb.VectorField{Dim: 100, Data: &schemapb.VectorField_SparseFloatVector{SparseFloatVector: &schemapb.SparseFloatArray{Dim: 100, Contents: [][]byte{sparseRow(3, float32(0.5), 99, float32(-1)), sparseRow()}}}}), [2]string{`{"3":0.5,"99":-1}`, `{}`}},
		{"sparse vector base64", FormatJSONBase64, vectors("v", schemapb.DataType_SparseFloatVector, &schemapb.VectorField{Dim: 100, Data: &schemapb.VectorField_SparseFloatVector{SparseFloatVector: &schemapb.SparseFloatArray{Contents: [][]byte{sparseRow(3, float32(0.5)), sparseRow()}}}}), [2]string{`"` + base64.StdEncoding.EncodeToString(sparseRow(3, float32(0.5))) + `"`, `""`}},
		{"nullable, values of every row", FormatJSON, &schemapb.FieldData{FieldName: "f", Type: schemapb.DataType_Int32, ValidData: []bool{false, true}, Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_IntData{IntData: &schemapb.IntArray{Data: []int32{0, 42}}}}}}, [2]string{`null`, `42`}},
		{"nullable, values of the valid rows", FormatJSON, &schemapb.FieldData{FieldName: "f", Type: schemapb.DataType_VarChar, ValidData: []bool{false, true}, Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: []string{"only"}}}}}}, [2]string{`null`, `"only"`}},
	}
}

// everyFieldType is one column of each case, each under its own name.
func everyFieldType() []*schemapb.FieldData {
	var out []*schemapb.FieldData
	for i, c := range fieldCases() {
		f := proto.Clone(c.field).(*schemapb.FieldData)
		if !f.GetIsDynamic() {
			f.FieldName = fmt.Sprintf("%s_%d", f.GetFieldName(), i)
		}
		out = append(out, f)
	}
	return out
}

func TestEncodeEveryFieldType(t *testing.T) {
	for _, tt := range fieldCases() {
		t.Run(tt.name, func(t *testing.T) {
			rows := encodeInsert(t, tt.format, tt.field)
			for i, want := range tt.want {
				require.JSONEq(t, want, string(rows[i][tt.field.GetFieldName()]), "row %d", i)
				require.JSONEq(t, []string{"1", "2"}[i], string(rows[i]["id"]))
			}
		})
	}
}

// TestEncodeMalformedMessage: a field with fewer values than rows is a
// permanent refusal naming the field, never a panic.
func TestEncodeMalformedMessage(t *testing.T) {
	pk := &schemapb.FieldSchema{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true}
	for _, fd := range []*schemapb.FieldData{
		scalars("f", schemapb.DataType_Int32, &schemapb.ScalarField{Data: &schemapb.ScalarField_IntData{IntData: &schemapb.IntArray{Data: []int32{1}}}}),
		vectors("v", schemapb.DataType_FloatVector, &schemapb.VectorField{Dim: 4, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: []float32{1, 2, 3, 4, 5}}}}),
		vectors("v", schemapb.DataType_FloatVector, &schemapb.VectorField{Dim: 0, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: []float32{1, 2}}}}),
		{FieldName: "f", Type: schemapb.DataType_Bool, ValidData: []bool{true}, Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_BoolData{BoolData: &schemapb.BoolArray{Data: []bool{true, true}}}}}},
		scalars("f", schemapb.DataType_Int64, &schemapb.ScalarField{}),
	} {
		req := &msgpb.InsertRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: 1 << 18}, NumRows: 2, Timestamps: []uint64{1 << 18, 1 << 18},
			FieldsData: []*schemapb.FieldData{scalars("id", schemapb.DataType_Int64, &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{1, 2}}}}), fd}}
		enc := &batchEncoder{w: testWriter(FormatJSON), channel: "ch", position: "cG9z"}
		err := enc.change(&sink.Insert{Coll: testCollection(pk), Msg: msg(t, req)})
		require.Error(t, err)
		require.True(t, sink.IsPermanent(err), "%v", err)
		require.Contains(t, err.Error(), "field "+fd.GetFieldName())
	}
}

// TestEncodeRowEvents: the envelope of an insert, an upsert and deletes of
// int and varchar keys; (ts, seq) numbers the changes of one timestamp.
func TestEncodeRowEvents(t *testing.T) {
	intPK := &schemapb.FieldSchema{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true}
	coll := testCollection(intPK)
	ts := uint64(1_700_000_000_000) << 18
	long := func(v ...int64) *schemapb.FieldData {
		return scalars("id", schemapb.DataType_Int64, &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: v}}})
	}
	ins := &msgpb.InsertRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: ts}, PartitionName: "p1", NumRows: 2, Timestamps: []uint64{ts, ts}, FieldsData: []*schemapb.FieldData{long(1, 2)}}
	del := &msgpb.DeleteRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Delete, Timestamp: ts + 1}, PartitionID: -1, NumRows: 1, Timestamps: []uint64{ts + 1},
		PrimaryKeys: &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: []int64{2}}}}}
	upsIns := &msgpb.InsertRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: ts + 2}, PartitionName: "_default", NumRows: 1, Timestamps: []uint64{ts + 2}, FieldsData: []*schemapb.FieldData{long(1)}}
	upsDel := &msgpb.DeleteRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Delete, Timestamp: ts + 2}, NumRows: 1, Timestamps: []uint64{ts + 2},
		PrimaryKeys: &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: []int64{1}}}}}
	again := &msgpb.InsertRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: ts}, PartitionName: "p1", NumRows: 1, Timestamps: []uint64{ts}, FieldsData: []*schemapb.FieldData{long(3)}}

	enc := &batchEncoder{w: testWriter(FormatJSON), channel: "by-dev-rootcoord-dml_0", position: "cG9z", nowMs: 42}
	for _, c := range []sink.Change{
		&sink.Insert{Coll: coll, Msg: msg(t, ins)},
		&sink.Delete{Coll: coll, Msg: msg(t, del)},
		&sink.Upsert{Delete: &sink.Delete{Coll: coll, Msg: msg(t, upsDel)}, Insert: &sink.Insert{Coll: coll, Msg: msg(t, upsIns)}},
		&sink.Insert{Coll: coll, Msg: msg(t, again)}, // the same ts as the first insert: seq goes on
	} {
		require.NoError(t, enc.change(c))
	}
	require.Len(t, enc.recs, 5)
	type want struct {
		op, key, before, after, partition string
		ts                                uint64
		seq                               int
	}
	p1, def := `"p1"`, `"_default"`
	for i, w := range []want{
		{"c", `{"database":"tdb","collection":"tc","pk":1}`, ``, `{"id":1}`, p1, ts, 0},
		{"c", `{"database":"tdb","collection":"tc","pk":2}`, ``, `{"id":2}`, p1, ts, 1},
		{"d", `{"database":"tdb","collection":"tc","pk":2}`, `{"id":2}`, ``, `null`, ts + 1, 0},
		{"u", `{"database":"tdb","collection":"tc","pk":1}`, ``, `{"id":1}`, def, ts + 2, 0},
		{"c", `{"database":"tdb","collection":"tc","pk":3}`, ``, `{"id":3}`, p1, ts, 2},
	} {
		r := enc.recs[i]
		require.Equal(t, "cdc", r.Topic)
		require.JSONEq(t, w.key, string(r.Key))
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(r.Value, &raw), "%s", r.Value)
		require.JSONEq(t, `"`+w.op+`"`, string(raw["op"]))
		require.JSONEq(t, `1`, string(raw["schema_version"]))
		require.JSONEq(t, `42`, string(raw["ts_ms"]))
		for field, v := range map[string]string{"before": w.before, "after": w.after} {
			if v == "" {
				v = "null"
			}
			require.JSONEq(t, v, string(raw[field]), "%s of event %d", field, i)
		}
		var src map[string]any
		require.NoError(t, json.Unmarshal(raw["source"], &src))
		var part any
		require.NoError(t, json.Unmarshal([]byte(w.partition), &part))
		require.Equal(t, map[string]any{"connector": "milvus-cdc", "cluster": "by-dev", "database": "db", "collection": "c", "collection_id": 7.0,
			"partition": part, "channel": "by-dev-rootcoord-dml_0", "position": "cG9z", "ts": float64(w.ts), "ts_ms": float64(w.ts >> 18), "seq": float64(w.seq)}, src, "event %d", i)
	}

	// A varchar primary key is a JSON string in the key and in before.
	strPK := &schemapb.FieldSchema{FieldID: 100, Name: "pk", DataType: schemapb.DataType_VarChar, IsPrimaryKey: true}
	sdel := &msgpb.DeleteRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Delete, Timestamp: ts}, PartitionName: "p1", PartitionID: 9, NumRows: 1, Timestamps: []uint64{ts},
		PrimaryKeys: &schemapb.IDs{IdField: &schemapb.IDs_StrId{StrId: &schemapb.StringArray{Data: []string{`a"b`}}}}}
	enc = &batchEncoder{w: testWriter(FormatJSON), channel: "ch", position: "cG9z"}
	require.NoError(t, enc.change(&sink.Delete{Coll: testCollection(strPK), Msg: msg(t, sdel)}))
	require.JSONEq(t, `{"database":"tdb","collection":"tc","pk":"a\"b"}`, string(enc.recs[0].Key))
	ev, err := changelog.Decode(enc.recs[0].Value)
	require.NoError(t, err)
	require.JSONEq(t, `"a\"b"`, string(ev.Before["pk"]))
	require.Equal(t, "p1", *ev.Source.Partition)
}

// TestAppendString: what protobuf cannot carry (invalid UTF-8) still gives
// valid JSON, as encoding/json would write it.
func TestAppendString(t *testing.T) {
	for _, s := range []string{"bad \xff utf8", "\u2028\u2029", "\x00\x1f\x7f", "ok"} {
		got := appendString(nil, s)
		require.True(t, json.Valid(got), "%q", got)
		want, err := json.Marshal(s)
		require.NoError(t, err)
		var a, b string
		require.NoError(t, json.Unmarshal(got, &a))
		require.NoError(t, json.Unmarshal(want, &b))
		require.Equal(t, b, a)
	}
}

func TestTopicNames(t *testing.T) {
	n := topicNamer{template: "{cluster}.{database}.{collection}", cluster: "by-dev"}
	require.Equal(t, "by-dev.db.coll", n.topic("db", "coll"))
	require.Equal(t, "by-dev.d_b.c_ll", n.topic("d b", "c$ll"), "characters Kafka refuses become '_'")
	require.Equal(t, "one", topicNamer{fixed: "one", template: "x.{collection}"}.topic("db", "coll"))
}
