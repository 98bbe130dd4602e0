package pipeline

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// tickRecorder is a replica-mode target that records the time ticks it gets
// per physical channel.
type tickRecorder struct {
	milvuspb.UnimplementedMilvusServiceServer
	mu    sync.Mutex
	ticks map[string][]uint64
}

func (f *tickRecorder) ReplicateMessage(_ context.Context, r *milvuspb.ReplicateMessageRequest) (*milvuspb.ReplicateMessageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ticks[r.GetChannelName()] = append(f.ticks[r.GetChannelName()], r.GetEndTs())
	return &milvuspb.ReplicateMessageResponse{Status: &commonpb.Status{}}, nil
}

func (f *tickRecorder) DescribeCollection(context.Context, *milvuspb.DescribeCollectionRequest) (*milvuspb.DescribeCollectionResponse, error) {
	return &milvuspb.DescribeCollectionResponse{Status: &commonpb.Status{}, CollectionID: 9,
		VirtualChannelNames: []string{"t-dml_3_9v0", "t-dml_0_9v1"}, PhysicalChannelNames: []string{"t-dml_3", "t-dml_0"}}, nil
}

func (f *tickRecorder) ShowPartitions(context.Context, *milvuspb.ShowPartitionsRequest) (*milvuspb.ShowPartitionsResponse, error) {
	return &milvuspb.ShowPartitionsResponse{Status: &commonpb.Status{}, PartitionNames: []string{"_default"}, PartitionIDs: []int64{1}}, nil
}

func (f *tickRecorder) got() map[string][]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]uint64{}
	for k, v := range f.ticks {
		out[k] = append([]uint64(nil), v...)
	}
	return out
}

func TestReplicaTicksFollowTheLowestAppliedChannel(t *testing.T) {
	f := &tickRecorder{ticks: map[string][]uint64{}}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	milvuspb.RegisterMilvusServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })

	r := newReplicator(NewScope(nil), NameMapping{}, "_default", nil, newMetaView(&source.Snapshot{}), zap.NewNop())
	r.collections[5] = &collState{id: 5, inScope: true, created: true, targetDB: "default", target: "c1", partitions: map[string]bool{}}
	m := newReplicaMode(zap.NewNop())
	m.setWriter(sink.NewReplica(milvuspb.NewMilvusServiceClient(conn)))
	m.r = r
	ctx := context.Background()

	r.progress.track("src-a", 0)
	r.progress.track("src-b", 0)
	m.tick(ctx, r)
	require.Empty(t, f.got(), "no tick before every source channel applied a pack")

	r.progress.advance("src-a", 100)
	r.progress.advance("src-b", 50)
	m.tick(ctx, r)
	want := map[string][]uint64{"t-dml_3": {50}, "t-dml_0": {50}}
	require.Equal(t, want, f.got(), "every channel of a created collection ticks at the lowest applied timestamp, before any row")

	r.progress.advance("src-a", 200)
	m.tick(ctx, r)
	require.Equal(t, want, f.got(), "a lagging channel holds the ticks back")

	r.progress.advance("src-b", 150)
	m.tick(ctx, r)
	m.tick(ctx, r)
	require.Equal(t, map[string][]uint64{"t-dml_3": {50, 150}, "t-dml_0": {50, 150}}, f.got(), "one tick per new watermark")
	require.EqualValues(t, 150, m.fallbackTs())
}
