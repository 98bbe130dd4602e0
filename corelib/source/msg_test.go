package source

import (
	"errors"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func base(t commonpb.MsgType, ts uint64) *commonpb.MsgBase {
	return &commonpb.MsgBase{MsgType: t, MsgID: 77, Timestamp: ts, SourceID: 3}
}

func TestDecodeMessageByType(t *testing.T) {
	insert := &msgpb.InsertRequest{
		Base: base(commonpb.MsgType_Insert, 500), ShardName: "by-dev-rootcoord-dml_0_10v0",
		CollectionID: 10, PartitionID: 11, Timestamps: []uint64{105, 101, 109}, RowIDs: []int64{1, 2, 3}, NumRows: 3,
		FieldsData: []*schemapb.FieldData{{FieldName: "pk", FieldId: 100, Type: schemapb.DataType_Int64,
			Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{7, 8, 9}}}}}}},
		Version: msgpb.InsertDataVersion_ColumnBased,
	}
	replicated := base(commonpb.MsgType_CreateIndex, 900)
	replicated.ReplicateInfo = &commonpb.ReplicateInfo{IsReplicate: true, MsgTimestamp: 333, ReplicateID: "r1"}

	tests := []struct {
		name       string
		msg        proto.Message
		wantType   commonpb.MsgType
		begin, end uint64
		shard      string
		collection int64
		replicate  bool
	}{
		{"insert uses row timestamps", insert, commonpb.MsgType_Insert, 101, 109, "by-dev-rootcoord-dml_0_10v0", 10, false},
		{"delete", &msgpb.DeleteRequest{Base: base(commonpb.MsgType_Delete, 1), ShardName: "c_5v1", CollectionID: 5, Timestamps: []uint64{44}}, commonpb.MsgType_Delete, 44, 44, "c_5v1", 5, false},
		{"delete without rows uses base ts", &msgpb.DeleteRequest{Base: base(commonpb.MsgType_Delete, 12)}, commonpb.MsgType_Delete, 12, 12, "", 0, false},
		{"time tick", &msgpb.TimeTickMsg{Base: base(commonpb.MsgType_TimeTick, 600)}, commonpb.MsgType_TimeTick, 600, 600, "", 0, false},
		{"create collection", &msgpb.CreateCollectionRequest{Base: base(commonpb.MsgType_CreateCollection, 7), CollectionID: 9}, commonpb.MsgType_CreateCollection, 7, 7, "", 9, false},
		{"drop collection", &msgpb.DropCollectionRequest{Base: base(commonpb.MsgType_DropCollection, 8), CollectionID: 9}, commonpb.MsgType_DropCollection, 8, 8, "", 9, false},
		{"create partition", &msgpb.CreatePartitionRequest{Base: base(commonpb.MsgType_CreatePartition, 8), CollectionID: 9}, commonpb.MsgType_CreatePartition, 8, 8, "", 9, false},
		{"drop partition", &msgpb.DropPartitionRequest{Base: base(commonpb.MsgType_DropPartition, 8), CollectionID: 9, PartitionID: 4}, commonpb.MsgType_DropPartition, 8, 8, "", 9, false},
		{"create database", &milvuspb.CreateDatabaseRequest{Base: base(commonpb.MsgType_CreateDatabase, 20), DbName: "db"}, commonpb.MsgType_CreateDatabase, 20, 20, "", 0, false},
		{"drop database", &milvuspb.DropDatabaseRequest{Base: base(commonpb.MsgType_DropDatabase, 21), DbName: "db"}, commonpb.MsgType_DropDatabase, 21, 21, "", 0, false},
		{"flush", &milvuspb.FlushRequest{Base: base(commonpb.MsgType_Flush, 22), CollectionNames: []string{"a"}}, commonpb.MsgType_Flush, 22, 22, "", 0, false},
		{"create index replicated uses msgTimestamp", &milvuspb.CreateIndexRequest{Base: replicated, CollectionName: "a", FieldName: "v"}, commonpb.MsgType_CreateIndex, 333, 333, "", 0, true},
		{"drop index", &milvuspb.DropIndexRequest{Base: base(commonpb.MsgType_DropIndex, 23)}, commonpb.MsgType_DropIndex, 23, 23, "", 0, false},
		{"load collection", &milvuspb.LoadCollectionRequest{Base: base(commonpb.MsgType_LoadCollection, 24), ReplicaNumber: 1}, commonpb.MsgType_LoadCollection, 24, 24, "", 0, false},
		{"release collection", &milvuspb.ReleaseCollectionRequest{Base: base(commonpb.MsgType_ReleaseCollection, 25)}, commonpb.MsgType_ReleaseCollection, 25, 25, "", 0, false},
		{"load partitions", &milvuspb.LoadPartitionsRequest{Base: base(commonpb.MsgType_LoadPartitions, 26), PartitionNames: []string{"p"}}, commonpb.MsgType_LoadPartitions, 26, 26, "", 0, false},
		{"release partitions", &milvuspb.ReleasePartitionsRequest{Base: base(commonpb.MsgType_ReleasePartitions, 27)}, commonpb.MsgType_ReleasePartitions, 27, 27, "", 0, false},
		{"create credential", &milvuspb.CreateCredentialRequest{Base: base(commonpb.MsgType_CreateCredential, 28), Username: "u"}, commonpb.MsgType_CreateCredential, 28, 28, "", 0, false},
		{"replicate msg", &msgpb.ReplicateMsg{Base: base(commonpb.MsgType_Replicate, 29), IsEnd: true}, commonpb.MsgType_Replicate, 29, 29, "", 0, false},
		{"import", &msgpb.ImportMsg{Base: base(commonpb.MsgType_Import, 30), CollectionID: 12}, commonpb.MsgType_Import, 30, 30, "", 12, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := marshal(t, tt.msg)
			m, err := DecodeMessage(raw)
			require.NoError(t, err)
			require.True(t, m.Supported())
			require.Equal(t, tt.wantType, m.Type)
			require.True(t, proto.Equal(tt.msg, m.Body), "body differs: %v", m.Body)
			require.IsType(t, tt.msg, m.Body)
			require.Equal(t, tt.begin, m.BeginTs)
			require.Equal(t, tt.end, m.EndTs)
			require.Equal(t, tt.shard, m.ShardName())
			require.Equal(t, tt.collection, m.CollectionID())
			require.Equal(t, tt.replicate, m.IsReplicate())
			require.Equal(t, int64(77), m.MsgID())
			require.Equal(t, raw, m.Raw)
		})
	}
}

func TestDecodeMessageReplicateInfo(t *testing.T) {
	b := base(commonpb.MsgType_Insert, 1)
	b.ReplicateInfo = &commonpb.ReplicateInfo{IsReplicate: true, MsgTimestamp: 5, ReplicateID: "cluster-a"}
	m, err := DecodeMessage(marshal(t, &msgpb.InsertRequest{Base: b, Timestamps: []uint64{40, 41}}))
	require.NoError(t, err)
	require.True(t, m.IsReplicate())
	require.Equal(t, "cluster-a", m.ReplicateID())
	require.Equal(t, uint64(40), m.BeginTs, "DML keeps its row timestamps even when replicated")
	require.True(t, m.IsDML())
}

func TestDecodeMessageUnsupportedType(t *testing.T) {
	// A Search request never travels on these channels, and 9999 is no type.
	for _, typ := range []commonpb.MsgType{commonpb.MsgType_Search, commonpb.MsgType_Upsert, 9999} {
		m, err := DecodeMessage(marshal(t, &commonpb.MsgHeader{Base: base(typ, 42)}))
		require.NoError(t, err)
		require.False(t, m.Supported())
		require.Nil(t, m.Body)
		require.Equal(t, typ, m.Type)
		require.Equal(t, uint64(42), m.EndTs)
	}
}

func TestDecodeMessageMalformed(t *testing.T) {
	tests := map[string][]byte{
		"not protobuf":         {0xff, 0xff, 0xff},
		"empty payload":        {},
		"no base":              marshal(t, &msgpb.InsertRequest{ShardName: "x"}),
		"base is not a struct": {0x0a, 0x02, 0xff, 0xff},
		// Insert header with a broken field 10 (timestamps) in the body.
		"body breaks": append(marshal(t, &commonpb.MsgHeader{Base: base(commonpb.MsgType_Insert, 1)}), 0x52, 0x05, 0x01),
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := DecodeMessage(raw)
			require.Nil(t, m)
			require.True(t, errors.Is(err, ErrMalformedMessage), "err = %v", err)
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(marshal(f, &msgpb.InsertRequest{Base: base(commonpb.MsgType_Insert, 1), Timestamps: []uint64{3, 2}}))
	f.Add(marshal(f, &msgpb.TimeTickMsg{Base: base(commonpb.MsgType_TimeTick, 9)}))
	f.Add(marshal(f, &milvuspb.CreateIndexRequest{Base: base(commonpb.MsgType_CreateIndex, 9)}))
	f.Add(marshal(f, &msgpb.DeleteRequest{Base: base(commonpb.MsgType_Delete, 9), PrimaryKeys: &schemapb.IDs{}}))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := DecodeMessage(raw)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedMessage)
			require.Nil(t, m)
			return
		}
		require.NotNil(t, m.Base())
		require.Equal(t, m.Base().GetMsgType(), m.Type)
		require.LessOrEqual(t, m.BeginTs, m.EndTs)
		_ = m.ShardName()
		_ = m.CollectionID()
		_ = m.IsReplicate()
	})
}
