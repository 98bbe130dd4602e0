package milvus

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
)

// fakeReplica answers like Milvus 2.3.5 in either mode (confirmed on the
// bed): a normal instance refuses every ReplicateMessage with code 1900; one
// with ttMsgEnabled=false refuses an empty channel name as an invalid
// parameter and takes messages for a named channel.
type fakeReplica struct {
	milvuspb.UnimplementedMilvusServiceServer
	replicaMode bool

	mu        sync.Mutex
	replicate []*milvuspb.ReplicateMessageRequest
	creates   []*milvuspb.CreateCollectionRequest
	describes []*milvuspb.DescribeCollectionRequest
	parts     []string // partition names ShowPartitions answers (IDs 10, 11, ...)
}

func (f *fakeReplica) ReplicateMessage(_ context.Context, r *milvuspb.ReplicateMessageRequest) (*milvuspb.ReplicateMessageResponse, error) {
	if !f.replicaMode {
		return &milvuspb.ReplicateMessageResponse{Status: &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 1900, Reason: "deny to use the replicate message in the normal instance"}}, nil
	}
	if r.GetChannelName() == "" {
		return &milvuspb.ReplicateMessageResponse{Status: &commonpb.Status{ErrorCode: commonpb.ErrorCode_IllegalArgument, Code: 1100, Reason: "invalid channel name for the replicate message request"}}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replicate = append(f.replicate, r)
	return &milvuspb.ReplicateMessageResponse{Status: &commonpb.Status{}}, nil
}

func (f *fakeReplica) CreateCollection(_ context.Context, r *milvuspb.CreateCollectionRequest) (*commonpb.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates = append(f.creates, r)
	return &commonpb.Status{}, nil
}

func (f *fakeReplica) DescribeCollection(_ context.Context, r *milvuspb.DescribeCollectionRequest) (*milvuspb.DescribeCollectionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describes = append(f.describes, r)
	return &milvuspb.DescribeCollectionResponse{
		Status: &commonpb.Status{}, CollectionID: 900, ShardsNum: 2,
		VirtualChannelNames:  []string{"dst-dml_3_900v0", "dst-dml_0_900v1"},
		PhysicalChannelNames: []string{"dst-dml_3", "dst-dml_0"},
	}, nil
}

func (f *fakeReplica) ShowPartitions(context.Context, *milvuspb.ShowPartitionsRequest) (*milvuspb.ShowPartitionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &milvuspb.ShowPartitionsResponse{Status: &commonpb.Status{}}
	for i, p := range f.parts {
		resp.PartitionNames = append(resp.PartitionNames, p)
		resp.PartitionIDs = append(resp.PartitionIDs, int64(10+i))
	}
	return resp, nil
}

// dialFake serves f over bufconn and returns a client whose connection
// carries extra dial options.
func dialFake(t *testing.T, f milvuspb.MilvusServiceServer, extra ...grpc.DialOption) milvuspb.MilvusServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	milvuspb.RegisterMilvusServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	opts := append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, extra...)
	conn, err := grpc.NewClient("passthrough:///bufnet", opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return milvuspb.NewMilvusServiceClient(conn)
}

type unimplementedOnly struct {
	milvuspb.UnimplementedMilvusServiceServer
}

func TestProbeReplicaMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  milvuspb.MilvusServiceServer
		want bool
	}{
		{"normal instance answers 1900", &fakeReplica{replicaMode: false}, false},
		{"replica instance refuses the empty channel", &fakeReplica{replicaMode: true}, true},
		{"Milvus without the RPC is a normal one", &unimplementedOnly{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ProbeReplicaMode(context.Background(), dialFake(t, tc.srv))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestProbeLeavesTheTargetUntouched(t *testing.T) {
	f := &fakeReplica{replicaMode: true}
	_, err := ProbeReplicaMode(context.Background(), dialFake(t, f))
	require.NoError(t, err)
	require.Empty(t, f.replicate, "the probe must not write to any channel")
}

func TestInterceptorStampsDDLWithTheSourceTimestamp(t *testing.T) {
	f := &fakeReplica{replicaMode: true}
	svc := dialFake(t, f, grpc.WithChainUnaryInterceptor(ReplicateInfoInterceptor(func() uint64 { return 77 })))
	ctx := context.Background()

	_, err := svc.CreateCollection(WithSourceTs(ctx, 4242), &milvuspb.CreateCollectionRequest{CollectionName: "a"})
	require.NoError(t, err)
	_, err = svc.CreateCollection(ctx, &milvuspb.CreateCollectionRequest{CollectionName: "b", Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_CreateCollection}})
	require.NoError(t, err)
	_, err = svc.DescribeCollection(WithSourceTs(ctx, 4242), &milvuspb.DescribeCollectionRequest{CollectionName: "a"})
	require.NoError(t, err)

	require.Len(t, f.creates, 2)
	require.True(t, f.creates[0].GetBase().GetReplicateInfo().GetIsReplicate())
	require.EqualValues(t, 4242, f.creates[0].GetBase().GetReplicateInfo().GetMsgTimestamp())
	require.EqualValues(t, 77, f.creates[1].GetBase().GetReplicateInfo().GetMsgTimestamp(), "no timestamp in the context: the fallback")
	require.Equal(t, commonpb.MsgType_CreateCollection, f.creates[1].GetBase().GetMsgType(), "the rest of an existing base is kept")
	require.Nil(t, f.describes[0].GetBase().GetReplicateInfo(), "reads are not marked")
}

func TestReplicateToANormalTargetIsNotRetried(t *testing.T) {
	w := NewReplicaClient(dialFake(t, &fakeReplica{replicaMode: false}))
	err := w.Replicate(context.Background(), "dst-dml_0", 1, 2, [][]byte{{1}})
	require.ErrorIs(t, err, ErrTargetNotReplicaMode)
	require.False(t, isRetryable(err))
	require.Contains(t, err.Error(), "common.ttMsgEnabled=false")
}

func TestTimeTickIsAMessageOfItsTimestamp(t *testing.T) {
	f := &fakeReplica{replicaMode: true}
	w := NewReplicaClient(dialFake(t, f))
	require.NoError(t, w.TimeTick(context.Background(), "dst-dml_3", 123456))
	require.Len(t, f.replicate, 1)
	r := f.replicate[0]
	require.Equal(t, "dst-dml_3", r.GetChannelName())
	require.EqualValues(t, 123456, r.GetBeginTs())
	require.EqualValues(t, 123456, r.GetEndTs())
	require.Len(t, r.GetMsgs(), 1)
	tt := &msgpb.TimeTickMsg{}
	require.NoError(t, proto.Unmarshal(r.GetMsgs()[0], tt))
	require.Equal(t, commonpb.MsgType_TimeTick, tt.GetBase().GetMsgType())
	require.EqualValues(t, 123456, tt.GetBase().GetTimestamp())
}

func TestShardIndex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"by-dev-rootcoord-dml_3_447v1", 1, true},
		{"cdc-src-rootcoord-dml_0_470677568425558299v0", 0, true},
		{"x_1v12", 12, true},
		{"no-shard", 0, false},
		{"ends-with-v", 0, false},
		{"dml_1_5vx", 0, false},
	} {
		got, err := ShardIndex(tc.in)
		if !tc.ok {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestCollectionAddressMapsShardsAndPartitions(t *testing.T) {
	f := &fakeReplica{replicaMode: true, parts: []string{"_default", "p1"}}
	w := NewReplicaClient(dialFake(t, f))
	ctx := context.Background()
	tc, err := w.Collection(ctx, "db1", "c1", false)
	require.NoError(t, err)
	_, err = w.Collection(ctx, "db1", "c1", false)
	require.NoError(t, err)
	require.Len(t, f.describes, 1, "descriptions are cached")
	require.ElementsMatch(t, []string{"dst-dml_3", "dst-dml_0"}, w.PhysicalChannels())

	a, err := tc.Address("src-dml_2_5v1", "p1", 2)
	require.NoError(t, err)
	require.Equal(t, Address{DB: "db1", Collection: "c1", CollectionID: 900, Partition: "p1", PartitionID: 11, ShardName: "dst-dml_0_900v1"}, a)
	require.Equal(t, "dst-dml_0", tc.PhysicalChannel(a.ShardName))

	a, err = tc.Address("src-dml_1_5v0", "", 2)
	require.NoError(t, err)
	require.EqualValues(t, -1, a.PartitionID, "a delete without partition covers all")
	require.Equal(t, "dst-dml_3_900v0", a.ShardName)

	_, err = tc.Address("src-dml_1_5v0", "p2", 2)
	require.True(t, IsPartitionUnknown(err))
	_, err = tc.Address("src-dml_1_5v0", "p1", 4)
	require.ErrorIs(t, err, ErrShardsDiffer)
	require.Contains(t, err.Error(), "has 2 shards, the source 4")

	w.Forget("db1", "c1")
	require.Empty(t, w.PhysicalChannels())
}

func TestEncodeReaddressesAndKeepsTheSourceRows(t *testing.T) {
	a := Address{DB: "tdb", Collection: "tc", CollectionID: 900, Partition: "p1", PartitionID: 11, ShardName: "dst-dml_0_900v1"}
	ins := &msgpb.InsertRequest{
		Base:      &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, MsgID: 5, Timestamp: 300},
		ShardName: "src-dml_2_5v1", DbName: "sdb", CollectionName: "sc", PartitionName: "p1",
		DbID: 1, CollectionID: 5, PartitionID: 6, SegmentID: 7,
		Timestamps: []uint64{300, 300}, RowIDs: []int64{1, 2}, NumRows: 2,
		Version: msgpb.InsertDataVersion_ColumnBased,
		FieldsData: []*schemapb.FieldData{{FieldName: "id", FieldId: 100, Type: schemapb.DataType_Int64,
			Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{41, 42}}}}}}},
	}
	src, err := proto.Marshal(ins)
	require.NoError(t, err)
	raw, err := EncodeInsert(src, a)
	require.NoError(t, err)
	got := &msgpb.InsertRequest{}
	require.NoError(t, proto.Unmarshal(raw, got))
	require.Equal(t, "dst-dml_0_900v1", got.GetShardName())
	require.Equal(t, "tdb", got.GetDbName())
	require.Equal(t, "tc", got.GetCollectionName())
	require.EqualValues(t, 900, got.GetCollectionID())
	require.EqualValues(t, 11, got.GetPartitionID())
	require.Zero(t, got.GetSegmentID(), "the target assigns segments")
	require.Equal(t, []uint64{300, 300}, got.GetTimestamps())
	require.Equal(t, []int64{1, 2}, got.GetRowIDs())
	require.Equal(t, []int64{41, 42}, got.GetFieldsData()[0].GetScalars().GetLongData().GetData())
	require.EqualValues(t, 5, got.GetBase().GetMsgID())
	require.EqualValues(t, 5, ins.GetCollectionID(), "the source message is not modified")
	require.Zero(t, got.GetDbID())
	// Everything but the address is the source's, field for field.
	want := proto.Clone(ins).(*msgpb.InsertRequest)
	want.DbName, want.CollectionName, want.PartitionName, want.ShardName = "tdb", "tc", "p1", "dst-dml_0_900v1"
	want.DbID, want.CollectionID, want.PartitionID, want.SegmentID = 0, 900, 11, 0
	require.True(t, proto.Equal(want, got), "%v", got)
	_, err = EncodeInsert([]byte{0xff, 0xff}, a)
	require.Error(t, err, "bytes that are no message are refused, not forwarded")

	del := &msgpb.DeleteRequest{
		Base:      &commonpb.MsgBase{MsgType: commonpb.MsgType_Delete, Timestamp: 400},
		ShardName: "src-dml_2_5v1", CollectionID: 5, PartitionID: -1, NumRows: 1, Timestamps: []uint64{400},
		PrimaryKeys: &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: []int64{41}}}},
	}
	a.Partition, a.PartitionID = "", -1
	src, err = proto.Marshal(del)
	require.NoError(t, err)
	raw, err = EncodeDelete(src, a)
	require.NoError(t, err)
	gd := &msgpb.DeleteRequest{}
	require.NoError(t, proto.Unmarshal(raw, gd))
	require.EqualValues(t, 900, gd.GetCollectionID())
	require.EqualValues(t, -1, gd.GetPartitionID())
	require.Equal(t, "dst-dml_0_900v1", gd.GetShardName())
	require.Equal(t, []int64{41}, gd.GetPrimaryKeys().GetIntId().GetData())
	require.Equal(t, []uint64{400}, gd.GetTimestamps())
}

func TestErrorsNameTheSetting(t *testing.T) {
	require.Contains(t, ErrTargetNotReplicaMode.Error(), "common.ttMsgEnabled=false")
	require.Contains(t, ErrTargetInReplicaMode.Error(), "common.ttMsgEnabled=true")
	require.False(t, errors.Is(ErrTargetInReplicaMode, ErrTargetNotReplicaMode))
}

func TestEncodeDropsAddressTheTargetCollection(t *testing.T) {
	tc := &TargetCollection{ID: 900, DB: "tdb", Name: "tc"}
	raw, err := EncodeDropCollection(&msgpb.DropCollectionRequest{
		Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_DropCollection, Timestamp: 500}, DbName: "sdb", CollectionName: "sc", DbID: 3, CollectionID: 5,
	}, tc)
	require.NoError(t, err)
	dc := &msgpb.DropCollectionRequest{}
	require.NoError(t, proto.Unmarshal(raw, dc))
	require.EqualValues(t, 900, dc.GetCollectionID())
	require.Equal(t, "tc", dc.GetCollectionName())
	require.Equal(t, "tdb", dc.GetDbName())
	require.EqualValues(t, 500, dc.GetBase().GetTimestamp())

	raw, err = EncodeDropPartition(&msgpb.DropPartitionRequest{
		Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_DropPartition, Timestamp: 600}, CollectionID: 5, PartitionID: 6, PartitionName: "p1",
	}, tc, 11)
	require.NoError(t, err)
	dp := &msgpb.DropPartitionRequest{}
	require.NoError(t, proto.Unmarshal(raw, dp))
	require.EqualValues(t, 900, dp.GetCollectionID())
	require.EqualValues(t, 11, dp.GetPartitionID())
	require.Equal(t, "p1", dp.GetPartitionName())
	require.Equal(t, commonpb.MsgType_DropPartition, dp.GetBase().GetMsgType())
}
