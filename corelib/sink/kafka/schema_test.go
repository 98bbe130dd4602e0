package kafka

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/kafkatest"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

func eventSchema(t *testing.T) *kafkatest.EventSchema {
	s, err := kafkatest.LoadEventSchema(filepath.Join("..", "..", "..", "docs", "kafka-sink.schema.json"))
	require.NoError(t, err)
	return s
}

// TestEventsMatchTheJSONSchema checks docs/kafka-sink.schema.json against
// events the writer made: rows of every field type in both formats, an
// upsert, deletes of both key types, and the DDL event of every operation.
func TestEventsMatchTheJSONSchema(t *testing.T) {
	schema := eventSchema(t)
	var values [][]byte

	// Rows: one insert carrying every field type, in each format.
	fields := everyFieldType()
	for _, format := range []Format{FormatJSON, FormatJSONBase64} {
		for _, after := range encodeInsert(t, format, fields...) {
			require.Len(t, after, len(fields)+1)
		}
		values = append(values, rowEvents(t, format, fields)...)
	}

	// DDL: every operation.
	coll := testCollection(&schemapb.FieldSchema{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true, Description: "key"})
	coll.Info.Schema.Fields = append(coll.Info.Schema.Fields,
		&schemapb.FieldSchema{FieldID: 101, Name: "vec", DataType: schemapb.DataType_FloatVector, TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: "4"}}},
		&schemapb.FieldSchema{FieldID: 102, Name: "tags", DataType: schemapb.DataType_Array, ElementType: schemapb.DataType_VarChar, Nullable: true})
	coll.Info.ShardsNum, coll.Info.CreateTime = 2, 5<<18
	coll.Info.Properties = []*commonpb.KeyValuePair{{Key: "collection.ttl.seconds", Value: "60"}}
	coll.Info.Partitions = map[int64]*source.Partition{1: {ID: 1, Name: "_default", CreatedTime: 5 << 18, State: metapb.PartitionState_PartitionCreated}}
	at := sink.At{Ts: 6 << 18}
	w := testWriter(FormatJSON)
	for _, op := range []sink.Op{
		&sink.CreateDatabase{At: at, Database: "db"}, &sink.DropDatabase{At: at, Database: "db"},
		&sink.CreateCollection{At: at, Coll: coll}, &sink.DropCollection{At: at, Coll: coll},
		&sink.CreatePartition{At: at, Coll: coll, Partition: "p"}, &sink.DropPartition{At: at, Coll: coll, Partition: "p"},
		&sink.CreateIndex{At: at, Coll: coll, Field: "vec", Index: "ix", Params: []*commonpb.KeyValuePair{{Key: "index_type", Value: "FLAT"}}},
		&sink.DropIndex{At: at, Coll: coll, Field: "vec", Index: "ix"},
		&sink.LoadCollection{At: at, Coll: coll, Replicas: 1}, &sink.ReleaseCollection{At: at, Coll: coll},
		&sink.LoadPartitions{At: at, Coll: coll, Partitions: []string{"p"}, Replicas: 1}, &sink.ReleasePartitions{At: at, Coll: coll, Partitions: []string{"p"}},
		&sink.Flush{At: at, Coll: coll},
	} {
		rec, err := w.ddlEvent(op)
		require.NoError(t, err, op.Name())
		require.Equal(t, "cdc.schema", rec.Topic)
		values = append(values, rec.Value)
	}
	for _, v := range values {
		require.NoError(t, schema.Check(v))
	}

	// The schema is not vacuous: damaged events fail it.
	for _, bad := range []string{
		strings.Replace(string(values[0]), `"op":"c"`, `"op":"x"`, 1),
		strings.Replace(string(values[0]), `"position":`, `"pos":`, 1),
		strings.Replace(string(values[0]), `"before":null`, `"before":{"id":1}`, 1),
		strings.Replace(string(values[len(values)-1]), `"type":"flush"`, `"type":"rename"`, 1),
		`{"schema_version":2,"op":"c"}`,
	} {
		require.Error(t, schema.Check([]byte(bad)), bad)
	}
}

// rowEvents encodes an insert of fields, an upsert and deletes by int and
// varchar keys, and returns the event values.
func rowEvents(t *testing.T, format Format, fields []*schemapb.FieldData) [][]byte {
	pk := &schemapb.FieldSchema{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true}
	coll := testCollection(pk)
	all := append([]*schemapb.FieldData{scalars("id", schemapb.DataType_Int64, &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{1, 2}}}})}, fields...)
	ins := func(ts uint64) *msgpb.InsertRequest {
		return &msgpb.InsertRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: ts}, PartitionName: "_default", NumRows: 2,
			Timestamps: []uint64{ts, ts}, FieldsData: all}
	}
	del := func(ts uint64, ids *schemapb.IDs) *msgpb.DeleteRequest {
		return &msgpb.DeleteRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Delete, Timestamp: ts}, PartitionID: -1, NumRows: 1, Timestamps: []uint64{ts}, PrimaryKeys: ids}
	}
	strColl := testCollection(&schemapb.FieldSchema{FieldID: 100, Name: "pk", DataType: schemapb.DataType_VarChar, IsPrimaryKey: true})
	enc := &batchEncoder{w: testWriter(format), channel: "by-dev-rootcoord-dml_0", position: "CgJjaA==", nowMs: 1}
	for _, c := range []sink.Change{
		&sink.Insert{Coll: coll, Msg: msg(t, ins(10<<18))},
		&sink.Insert{Coll: coll, Msg: msg(t, ins(10<<18)), Read: true},
		&sink.Upsert{Delete: &sink.Delete{Coll: coll, Msg: msg(t, del(11<<18, &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: []int64{1}}}}))},
			Insert: &sink.Insert{Coll: coll, Msg: msg(t, ins(11<<18))}},
		&sink.Delete{Coll: coll, Msg: msg(t, del(12<<18, &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: []int64{2}}}}))},
		&sink.Delete{Coll: strColl, Msg: msg(t, del(13<<18, &schemapb.IDs{IdField: &schemapb.IDs_StrId{StrId: &schemapb.StringArray{Data: []string{"k"}}}}))},
	} {
		require.NoError(t, enc.change(c))
	}
	out := make([][]byte, 0, len(enc.recs))
	for _, r := range enc.recs {
		out = append(out, r.Value)
	}
	require.Len(t, out, 8)
	require.Contains(t, string(out[2]), `"op":"r"`, "rows the initial snapshot read are op r")
	return out
}
