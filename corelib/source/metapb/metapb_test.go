package metapb

import (
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The expected bytes are built field by field with protowire from the field
// numbers in Milvus's etcd_meta.proto, with go-api types for the embedded
// messages, so a wrong number or wire type in etcd_meta.proto fails here.

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func milvusCollectionInfoBytes(t *testing.T) []byte {
	schema := &schemapb.CollectionSchema{Name: "books", Description: "d", EnableDynamicField: true}
	var b []byte
	b = appendVarintField(b, 1, 449000000000000001)
	b = appendBytesField(b, 2, mustMarshal(t, schema))
	b = appendVarintField(b, 3, 449000000000000777)
	b = appendBytesField(b, 7, []byte("by-dev-rootcoord-dml_0_449000000000000001v0"))
	b = appendBytesField(b, 7, []byte("by-dev-rootcoord-dml_1_449000000000000001v1"))
	b = appendBytesField(b, 8, []byte("by-dev-rootcoord-dml_0"))
	b = appendBytesField(b, 8, []byte("by-dev-rootcoord-dml_1"))
	b = appendVarintField(b, 10, 2)
	b = appendBytesField(b, 11, mustMarshal(t, &commonpb.KeyDataPair{Key: "by-dev-rootcoord-dml_0", Data: []byte{8, 1, 16, 2}}))
	b = appendVarintField(b, 12, uint64(commonpb.ConsistencyLevel_Bounded))
	b = appendVarintField(b, 13, uint64(CollectionState_CollectionCreating))
	b = appendBytesField(b, 14, mustMarshal(t, &commonpb.KeyValuePair{Key: "collection.ttl.seconds", Value: "60"}))
	b = appendVarintField(b, 15, 1)
	b = appendVarintField(b, 16, 449000000000000999)
	return b
}

func TestCollectionInfoDecodesMilvusWireFormat(t *testing.T) {
	info := &CollectionInfo{}
	require.NoError(t, proto.Unmarshal(milvusCollectionInfoBytes(t), info))

	require.Equal(t, int64(449000000000000001), info.GetID())
	require.Equal(t, uint64(449000000000000777), info.GetCreateTime())
	require.Equal(t, []string{"by-dev-rootcoord-dml_0_449000000000000001v0", "by-dev-rootcoord-dml_1_449000000000000001v1"}, info.GetVirtualChannelNames())
	require.Equal(t, []string{"by-dev-rootcoord-dml_0", "by-dev-rootcoord-dml_1"}, info.GetPhysicalChannelNames())
	require.Equal(t, int32(2), info.GetShardsNum())
	require.Equal(t, map[string][]byte{"by-dev-rootcoord-dml_0": {8, 1, 16, 2}}, info.StartPositionsByChannel())
	require.Equal(t, commonpb.ConsistencyLevel_Bounded, info.ConsistencyLevelValue())
	require.Equal(t, CollectionState_CollectionCreating, info.GetState())
	require.Equal(t, []*commonpb.KeyValuePair{{Key: "collection.ttl.seconds", Value: "60"}}, ToCommonKeyValuePairs(info.GetProperties()))
	require.Equal(t, int64(1), info.GetDbId())
	require.Equal(t, uint64(449000000000000999), info.GetUpdateTimestamp())
	require.Empty(t, info.ProtoReflect().GetUnknown(), "every Milvus field must be declared")

	schema, err := info.DecodeSchema()
	require.NoError(t, err)
	require.Equal(t, "books", schema.GetName())
	require.Equal(t, "d", schema.GetDescription())
	require.True(t, schema.GetEnableDynamicField())
}

func TestCollectionInfoEncodesAsGoAPITypes(t *testing.T) {
	info := &CollectionInfo{
		StartPositions:   []*KeyDataPair{{Key: "ch", Data: []byte{1, 2, 3}}},
		Properties:       []*KeyValuePair{{Key: "k", Value: "v"}},
		ConsistencyLevel: int32(commonpb.ConsistencyLevel_Strong),
	}
	b := mustMarshal(t, info)

	// Read back fields 11, 12 and 14 with the go-api types Milvus uses.
	var starts []*commonpb.KeyDataPair
	var props []*commonpb.KeyValuePair
	var level commonpb.ConsistencyLevel
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		require.Positive(t, n)
		b = b[n:]
		switch {
		case num == 11 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			p := &commonpb.KeyDataPair{}
			require.NoError(t, proto.Unmarshal(v, p))
			starts, b = append(starts, p), b[m:]
		case num == 14 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			p := &commonpb.KeyValuePair{}
			require.NoError(t, proto.Unmarshal(v, p))
			props, b = append(props, p), b[m:]
		case num == 12 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			level, b = commonpb.ConsistencyLevel(v), b[m:]
		default:
			t.Fatalf("unexpected field %d type %d", num, typ)
		}
	}
	require.Equal(t, "ch", starts[0].GetKey())
	require.Equal(t, []byte{1, 2, 3}, starts[0].GetData())
	require.Equal(t, "v", props[0].GetValue())
	require.Equal(t, commonpb.ConsistencyLevel_Strong, level)
}

func TestSmallMessagesDecodeMilvusWireFormat(t *testing.T) {
	tests := []struct {
		name  string
		wire  func() []byte
		into  proto.Message
		check func(t *testing.T, m proto.Message)
	}{
		{
			name: "PartitionInfo",
			wire: func() []byte {
				var b []byte
				b = appendVarintField(b, 1, 7)
				b = appendBytesField(b, 2, []byte("p1"))
				b = appendVarintField(b, 3, 99)
				b = appendVarintField(b, 4, 5)
				return appendVarintField(b, 5, uint64(PartitionState_PartitionDropping))
			},
			into: &PartitionInfo{},
			check: func(t *testing.T, m proto.Message) {
				p := m.(*PartitionInfo)
				require.Equal(t, int64(7), p.GetPartitionID())
				require.Equal(t, "p1", p.GetPartitionName())
				require.Equal(t, uint64(99), p.GetPartitionCreatedTimestamp())
				require.Equal(t, int64(5), p.GetCollectionId())
				require.Equal(t, PartitionState_PartitionDropping, p.GetState())
			},
		},
		{
			name: "DatabaseInfo",
			wire: func() []byte {
				var b []byte
				b = appendBytesField(b, 1, []byte("tenant"))
				b = appendBytesField(b, 2, []byte("db1"))
				b = appendVarintField(b, 3, 3)
				b = appendVarintField(b, 4, uint64(DatabaseState_DatabaseCreated))
				b = appendVarintField(b, 5, 42)
				kv, _ := proto.Marshal(&commonpb.KeyValuePair{Key: "database.replica.number", Value: "1"})
				return appendBytesField(b, 6, kv)
			},
			into: &DatabaseInfo{},
			check: func(t *testing.T, m proto.Message) {
				d := m.(*DatabaseInfo)
				require.Equal(t, "tenant", d.GetTenantId())
				require.Equal(t, "db1", d.GetName())
				require.Equal(t, int64(3), d.GetId())
				require.Equal(t, DatabaseState_DatabaseCreated, d.GetState())
				require.Equal(t, uint64(42), d.GetCreatedTime())
				require.Equal(t, "database.replica.number", d.GetProperties()[0].GetKey())
			},
		},
		{
			name: "AliasInfo",
			wire: func() []byte {
				var b []byte
				b = appendBytesField(b, 1, []byte("a1"))
				b = appendVarintField(b, 2, 11)
				b = appendVarintField(b, 3, 12)
				b = appendVarintField(b, 4, uint64(AliasState_AliasCreating))
				return appendVarintField(b, 5, 1)
			},
			into: &AliasInfo{},
			check: func(t *testing.T, m proto.Message) {
				a := m.(*AliasInfo)
				require.Equal(t, "a1", a.GetAliasName())
				require.Equal(t, int64(11), a.GetCollectionId())
				require.Equal(t, uint64(12), a.GetCreatedTime())
				require.Equal(t, AliasState_AliasCreating, a.GetState())
				require.Equal(t, int64(1), a.GetDbId())
			},
		},
		{
			name: "FieldIndexInfo",
			wire: func() []byte {
				return appendVarintField(appendVarintField(nil, 1, 100), 2, 200)
			},
			into: &FieldIndexInfo{},
			check: func(t *testing.T, m proto.Message) {
				f := m.(*FieldIndexInfo)
				require.Equal(t, int64(100), f.GetFiledID())
				require.Equal(t, int64(200), f.GetIndexID())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, proto.Unmarshal(tt.wire(), tt.into))
			require.Empty(t, tt.into.ProtoReflect().GetUnknown())
			tt.check(t, tt.into)
		})
	}
}

func TestEnumValuesMatchMilvus(t *testing.T) {
	require.Equal(t, int32(0), int32(CollectionState_CollectionCreated))
	require.Equal(t, int32(3), int32(CollectionState_CollectionDropped))
	require.Equal(t, int32(0), int32(PartitionState_PartitionCreated))
	require.Equal(t, int32(3), int32(PartitionState_PartitionDropped))
	require.Equal(t, int32(0), int32(AliasState_AliasCreated))
	require.Equal(t, int32(0), int32(DatabaseState_DatabaseUnknown))
	require.Equal(t, int32(1), int32(DatabaseState_DatabaseCreated))
	require.Equal(t, int32(4), int32(DatabaseState_DatabaseDropped))
}

func TestUnknownFieldsSurviveRoundTrip(t *testing.T) {
	// Field 99 stands for a field a newer Milvus may add.
	wire := appendBytesField(milvusCollectionInfoBytes(t), 99, []byte("future"))

	info := &CollectionInfo{}
	require.NoError(t, proto.Unmarshal(wire, info))
	require.NotEmpty(t, info.ProtoReflect().GetUnknown())

	again := &CollectionInfo{}
	require.NoError(t, proto.Unmarshal(mustMarshal(t, info), again))
	require.True(t, proto.Equal(info, again))

	unknown := again.ProtoReflect().GetUnknown()
	num, typ, n := protowire.ConsumeTag(unknown)
	require.Equal(t, protowire.Number(99), num)
	require.Equal(t, protowire.BytesType, typ)
	v, _ := protowire.ConsumeBytes(unknown[n:])
	require.Equal(t, []byte("future"), v)
}

func TestDecodeSchemaRejectsGarbage(t *testing.T) {
	info := &CollectionInfo{ID: 5, Schema: []byte{0xff, 0xff, 0xff}}
	_, err := info.DecodeSchema()
	require.ErrorContains(t, err, "collection 5: decode schema")
}
