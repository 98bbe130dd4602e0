package milvus

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
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

// serve runs a MilvusService on an in-process listener and returns a client.
func serve(t *testing.T, svc milvuspb.MilvusServiceServer) milvuspb.MilvusServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	milvuspb.RegisterMilvusServiceServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return milvuspb.NewMilvusServiceClient(conn)
}

func TestReplicaTicksFollowTheWatermark(t *testing.T) {
	f := &tickRecorder{ticks: map[string][]uint64{}}
	w := newReplicaWriter(testEnv())
	w.c = NewReplicaClient(serve(t, f))
	w.created[5] = &sink.Collection{ID: 5, TargetDatabase: "default", TargetName: "c1"}
	ctx := context.Background()

	w.tick(ctx)
	require.Empty(t, f.got(), "no tick before every source channel applied a pack")

	w.Watermark(50)
	w.tick(ctx)
	want := map[string][]uint64{"t-dml_3": {50}, "t-dml_0": {50}}
	require.Equal(t, want, f.got(), "every channel of a created collection ticks at the watermark, before any row")

	w.Watermark(40)
	w.tick(ctx)
	require.Equal(t, want, f.got(), "the watermark never goes back")

	w.Watermark(150)
	w.tick(ctx)
	w.tick(ctx)
	require.Equal(t, map[string][]uint64{"t-dml_3": {50, 150}, "t-dml_0": {50, 150}}, f.got(), "one tick per new watermark")
	require.EqualValues(t, 150, w.fallbackTs())
}

// testEnv runs every call once, as a target that always answers would.
func testEnv() sink.Env {
	return sink.Env{
		Call:       func(ctx context.Context, _ string, fn func(context.Context) error) error { return fn(ctx) },
		Background: func(string, error) {},
	}
}

func TestCreateUnderADroppedNameWaitsForTheTargetToSettle(t *testing.T) {
	coll := func(name string) *sink.Collection { return &sink.Collection{TargetDatabase: "db", TargetName: name} }
	tests := []struct {
		name     string
		droppedA time.Duration // how long ago "a" was dropped; 0: never
		create   string
		wantWait bool
	}{
		{name: "a name never dropped is created at once", create: "a"},
		{name: "a name dropped just now waits", droppedA: time.Millisecond, create: "a", wantWait: true},
		{name: "a name dropped long ago is created at once", droppedA: 2 * recreateSettle, create: "a"},
		{name: "another name is created at once", droppedA: time.Millisecond, create: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newReplicaWriter(sink.Env{})
			var waited time.Duration
			w.sleep = func(_ context.Context, d time.Duration) error { waited = d; return nil }
			if tt.droppedA > 0 {
				w.dropped[collectionKey{"db", "a"}] = time.Now().Add(-tt.droppedA)
			}
			require.NoError(t, w.settleAfterDrop(context.Background(), coll(tt.create)))
			if tt.wantWait {
				require.Greater(t, waited, recreateSettle-time.Second)
				require.LessOrEqual(t, waited, recreateSettle)
			} else {
				require.Zero(t, waited)
			}
			// The wait is owed once: a second create does not wait again.
			waited = 0
			require.NoError(t, w.settleAfterDrop(context.Background(), coll(tt.create)))
			require.Zero(t, waited)
		})
	}
}

// laggingCatalog answers CreatePartition as a replica whose clock trails the
// collection's creation: "key not found" for the first lagged calls.
type laggingCatalog struct {
	milvuspb.UnimplementedMilvusServiceServer
	mu            sync.Mutex
	lagged, calls int
	reason        string
}

func (f *laggingCatalog) HasPartition(context.Context, *milvuspb.HasPartitionRequest) (*milvuspb.BoolResponse, error) {
	return &milvuspb.BoolResponse{Status: &commonpb.Status{}, Value: false}, nil
}

func (f *laggingCatalog) CreatePartition(context.Context, *milvuspb.CreatePartitionRequest) (*commonpb.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.lagged {
		return &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 65535, Reason: f.reason}, nil
	}
	return &commonpb.Status{}, nil
}

func TestPartitionOperationsWaitForAReplicaCatalogThatLags(t *testing.T) {
	const lag = "key not found[key=cdc-dst/meta/root-coord/collection/4708]: collection not found[collection=4708]"
	tests := []struct {
		name      string
		lagged    int
		reason    string
		wantErr   bool
		wantCalls int
	}{
		{name: "no lag", lagged: 0, reason: lag, wantCalls: 1},
		{name: "a lag of a few calls is waited out", lagged: 3, reason: lag, wantCalls: 4},
		{name: "another refusal is not retried", lagged: 1, reason: "invalid parameter", wantErr: true, wantCalls: 1},
		{name: "a lag that outlasts the bound is an error", lagged: 1 << 20, reason: lag, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &laggingCatalog{lagged: tt.lagged, reason: tt.reason}
			w := newReplicaWriter(testEnv())
			w.c = NewReplicaClient(serve(t, f))
			w.ddl = newAPIWriter(w.env, w.c.Client, nil)
			w.sleep = func(context.Context, time.Duration) error { time.Sleep(time.Millisecond); return nil }
			op := &sink.CreatePartition{Coll: &sink.Collection{TargetDatabase: "default", TargetName: "c"}, Partition: "p1"}
			err := w.Apply(context.Background(), op)
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			if tt.wantCalls > 0 {
				require.Equal(t, tt.wantCalls, f.calls)
			}
		})
	}
}

// replicaCatalog is a replica-mode target with collections in several
// databases, none of them written by the writer under test; it records the
// ticks it gets and counts the descriptions it is asked for.
type replicaCatalog struct {
	tickRecorder
	mu        sync.Mutex
	dbs       map[string]map[string]catalogEntry // database → name → collection
	describes int
	down      bool
}

type catalogEntry struct {
	id       int64
	channels []string
}

func (f *replicaCatalog) ListDatabases(context.Context, *milvuspb.ListDatabasesRequest) (*milvuspb.ListDatabasesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "target down")
	}
	return listDatabases(f.dbs), nil
}

func (f *replicaCatalog) ShowCollections(_ context.Context, r *milvuspb.ShowCollectionsRequest) (*milvuspb.ShowCollectionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &milvuspb.ShowCollectionsResponse{Status: &commonpb.Status{}}
	for name, c := range f.dbs[r.GetDbName()] {
		resp.CollectionNames = append(resp.CollectionNames, name)
		resp.CollectionIds = append(resp.CollectionIds, c.id)
	}
	return resp, nil
}

func (f *replicaCatalog) DescribeCollection(_ context.Context, r *milvuspb.DescribeCollectionRequest) (*milvuspb.DescribeCollectionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describes++
	c, ok := f.dbs[r.GetDbName()][r.GetCollectionName()]
	if !ok {
		return &milvuspb.DescribeCollectionResponse{Status: &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 100, Reason: "collection not found"}}, nil
	}
	return &milvuspb.DescribeCollectionResponse{Status: &commonpb.Status{}, CollectionID: c.id, PhysicalChannelNames: c.channels}, nil
}

func (f *replicaCatalog) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// ticksAt lists the channels whose last tick is at ts.
func (f *replicaCatalog) ticksAt(ts uint64) []string {
	var out []string
	for ch, ticks := range f.got() {
		if len(ticks) > 0 && ticks[len(ticks)-1] == ts {
			out = append(out, ch)
		}
	}
	slices.Sort(out)
	return out
}

// TestReplicaTicksEveryChannelWithACollection: a replica's only clock is the
// task, so every physical channel that carries a collection ticks, also
// those of collections the writer has not written to (another database,
// idle since a restart, made by another tool): a load that waits on a
// channel nobody ticks holds back the replica's loads of every other
// collection.
func TestReplicaTicksEveryChannelWithACollection(t *testing.T) {
	f := &replicaCatalog{tickRecorder: tickRecorder{ticks: map[string][]uint64{}}, dbs: map[string]map[string]catalogEntry{
		"default": {"a": {1, []string{"t-dml_1"}}},
		"db2":     {"b": {2, []string{"t-dml_2", "t-dml_3"}}},
	}}
	var reports []string
	env := testEnv()
	env.Background = func(what string, err error) { reports = append(reports, fmt.Sprint(what, ": ", err)) }
	w := newReplicaWriter(env)
	w.c = NewReplicaClient(serve(t, f))
	ctx := context.Background()

	w.Watermark(100)
	w.sweep(ctx)
	w.tick(ctx)
	require.Equal(t, []string{"t-dml_1", "t-dml_2", "t-dml_3"}, f.ticksAt(100), "the first tick reaches every collection on the target")
	require.Equal(t, 2, f.describes)

	f.set(func() { f.dbs["default"]["c"] = catalogEntry{3, []string{"t-dml_4"}} })
	w.Watermark(200)
	w.tick(ctx)
	require.Equal(t, []string{"t-dml_1", "t-dml_2", "t-dml_3"}, f.ticksAt(200), "a new collection waits for the next sweep")
	w.sweep(ctx)
	w.Watermark(300)
	w.tick(ctx)
	require.Equal(t, []string{"t-dml_1", "t-dml_2", "t-dml_3", "t-dml_4"}, f.ticksAt(300))
	require.Equal(t, 3, f.describes, "a collection is described once")

	f.set(func() { delete(f.dbs["default"], "a") })
	w.sweep(ctx)
	w.Watermark(400)
	w.tick(ctx)
	require.Equal(t, []string{"t-dml_2", "t-dml_3", "t-dml_4"}, f.ticksAt(400), "a dropped collection's channel stops ticking")

	f.set(func() { f.down = true })
	w.sweep(ctx)
	w.Watermark(500)
	w.tick(ctx)
	require.Equal(t, []string{"t-dml_2", "t-dml_3", "t-dml_4"}, f.ticksAt(500), "a failed sweep keeps the known channels ticking")
	w.sweep(ctx)
	require.Len(t, reports, 1, "a failing sweep is reported once")
	require.Contains(t, reports[0], "target down")

	f.set(func() { f.down = false })
	w.sweep(ctx)
	w.Watermark(600)
	w.tick(ctx)
	require.Equal(t, []string{"t-dml_2", "t-dml_3", "t-dml_4"}, f.ticksAt(600))
	require.Equal(t, []string{reports[0], "list the target's collections to tick their channels: <nil>"}, reports, "and its recovery")
}

// hangingCatalog is a replica whose catalog does not answer (its proxy's
// DDL queue is stuck): ListDatabases blocks until the call's deadline.
type hangingCatalog struct{ tickRecorder }

func (f *hangingCatalog) ListDatabases(ctx context.Context, _ *milvuspb.ListDatabasesRequest) (*milvuspb.ListDatabasesResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestReplicaTicksWhileTheCatalogHangs: the sweep runs beside the ticks, so
// a catalog that does not answer never holds back the ticks of the
// channels already known (a replica shows rows only up to its last tick).
func TestReplicaTicksWhileTheCatalogHangs(t *testing.T) {
	f := &hangingCatalog{tickRecorder{ticks: map[string][]uint64{}}}
	w := newReplicaWriter(testEnv())
	w.c = NewReplicaClient(serve(t, f))
	w.created[5] = &sink.Collection{ID: 5, TargetDatabase: "default", TargetName: "c1"}
	w.startLoops()
	defer func() { require.NoError(t, w.Close()) }()

	w.Watermark(70)
	require.Eventually(t, func() bool {
		got := f.got()
		return len(got["t-dml_3"]) > 0 && len(got["t-dml_0"]) > 0
	}, 5*time.Second, 10*time.Millisecond, "the created collection's channels tick while the sweep waits")
}
