package milvus

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// fakeTarget is an in-process stand-in for the target's MilvusService that
// records what the writer asked for. It holds collections by name and answers
// the way Milvus 2.3 does for the cases the writer interprets.
type fakeTarget struct {
	milvuspb.UnimplementedMilvusServiceServer

	mu          sync.Mutex
	databases   []string
	collections map[string]*schemapb.CollectionSchema // by collection name
	creates     []*milvuspb.CreateCollectionRequest
	upserts     []*milvuspb.UpsertRequest
	deletes     []*milvuspb.DeleteRequest
	dbHeaders   []string
	createDBs   int
}

var okStatus = &commonpb.Status{}

func notFound(code int32, reason string) *commonpb.Status {
	return &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: code, Reason: reason}
}

func (f *fakeTarget) recordDB(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.dbHeaders = append(f.dbHeaders, md.Get("dbname")...)
}

func (f *fakeTarget) ListDatabases(context.Context, *milvuspb.ListDatabasesRequest) (*milvuspb.ListDatabasesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &milvuspb.ListDatabasesResponse{Status: okStatus, DbNames: append([]string{"default"}, f.databases...)}, nil
}

func (f *fakeTarget) CreateDatabase(_ context.Context, r *milvuspb.CreateDatabaseRequest) (*commonpb.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createDBs++
	f.databases = append(f.databases, r.GetDbName())
	return okStatus, nil
}

func (f *fakeTarget) DropCollection(_ context.Context, r *milvuspb.DropCollectionRequest) (*commonpb.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.collections[r.GetCollectionName()]; !ok {
		return notFound(100, "collection not found[collection="+r.GetCollectionName()+"]"), nil
	}
	delete(f.collections, r.GetCollectionName())
	return okStatus, nil
}

func (f *fakeTarget) DescribeCollection(ctx context.Context, r *milvuspb.DescribeCollectionRequest) (*milvuspb.DescribeCollectionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recordDB(ctx)
	s, ok := f.collections[r.GetCollectionName()]
	if !ok {
		return &milvuspb.DescribeCollectionResponse{Status: notFound(100, "collection not found")}, nil
	}
	return &milvuspb.DescribeCollectionResponse{Status: okStatus, Schema: s}, nil
}

func (f *fakeTarget) CreateCollection(ctx context.Context, r *milvuspb.CreateCollectionRequest) (*commonpb.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recordDB(ctx)
	s := &schemapb.CollectionSchema{}
	if err := proto.Unmarshal(r.GetSchema(), s); err != nil {
		return nil, err
	}
	for i, fld := range s.Fields { // the target assigns field IDs in order, as Milvus does
		fld.FieldID = int64(100 + i)
	}
	f.collections[r.GetCollectionName()] = s
	f.creates = append(f.creates, r)
	return okStatus, nil
}

func (f *fakeTarget) Upsert(ctx context.Context, r *milvuspb.UpsertRequest) (*milvuspb.MutationResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recordDB(ctx)
	f.upserts = append(f.upserts, r)
	return &milvuspb.MutationResult{Status: okStatus}, nil
}

func (f *fakeTarget) Delete(_ context.Context, r *milvuspb.DeleteRequest) (*milvuspb.MutationResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, r)
	return &milvuspb.MutationResult{Status: okStatus}, nil
}

func startFake(t *testing.T) (*fakeTarget, *Client) {
	t.Helper()
	fake := &fakeTarget{collections: map[string]*schemapb.CollectionSchema{}}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	milvuspb.RegisterMilvusServiceServer(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return fake, NewClient(milvuspb.NewMilvusServiceClient(conn))
}

// sourceSchema is a collection as the source's metadata describes it: an
// autoID primary key, a vector, the dynamic field and the system fields.
func sourceSchema() *schemapb.CollectionSchema {
	return &schemapb.CollectionSchema{
		Name: "src_name", AutoID: true, EnableDynamicField: true,
		Fields: []*schemapb.FieldSchema{
			{FieldID: 0, Name: "RowID", DataType: schemapb.DataType_Int64},
			{FieldID: 1, Name: "Timestamp", DataType: schemapb.DataType_Int64},
			{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true, AutoID: true},
			{FieldID: 101, Name: "vec", DataType: schemapb.DataType_FloatVector, TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: "4"}}},
			{FieldID: 102, Name: "$meta", DataType: schemapb.DataType_JSON, IsDynamic: true},
		},
	}
}

func TestCreateCollectionKeepsSourceKeysAndSettings(t *testing.T) {
	fake, w := startFake(t)
	ctx := context.Background()
	spec := CollectionSpec{Schema: sourceSchema(), ShardsNum: 2, ConsistencyLevel: commonpb.ConsistencyLevel_Bounded,
		Properties: []*commonpb.KeyValuePair{{Key: "collection.ttl.seconds", Value: "60"}}}

	require.NoError(t, w.CreateCollection(ctx, "db1", "mapped", spec))
	require.Len(t, fake.creates, 1)
	req := fake.creates[0]
	require.Equal(t, "mapped", req.GetCollectionName())
	require.Equal(t, "db1", req.GetDbName())
	require.EqualValues(t, 2, req.GetShardsNum())
	require.Equal(t, commonpb.ConsistencyLevel_Bounded, req.GetConsistencyLevel())
	require.Equal(t, "60", req.GetProperties()[0].GetValue())

	created := fake.collections["mapped"]
	require.False(t, created.GetAutoID())
	require.True(t, created.GetEnableDynamicField())
	var names []string
	for _, f := range created.GetFields() {
		names = append(names, f.GetName())
		require.False(t, f.GetAutoID(), "field %s must not be autoID on the target", f.GetName())
	}
	require.Equal(t, []string{"id", "vec"}, names)
	require.True(t, sourceSchema().Fields[2].AutoID, "the caller's schema must not be modified")

	// A replay finds the collection and creates nothing.
	require.NoError(t, w.CreateCollection(ctx, "db1", "mapped", spec))
	require.Len(t, fake.creates, 1)
}

func TestCreateCollectionRefusesDifferentExistingCollection(t *testing.T) {
	fake, w := startFake(t)
	fake.collections["c"] = &schemapb.CollectionSchema{Fields: []*schemapb.FieldSchema{
		{FieldID: 100, Name: "pk", DataType: schemapb.DataType_VarChar, IsPrimaryKey: true},
	}}
	err := w.CreateCollection(context.Background(), "", "c", CollectionSpec{Schema: sourceSchema()})
	require.ErrorContains(t, err, `collection "c" already exists on the target with fields [pk:VarChar], the source has [id:Int64, vec:FloatVector]`)
	require.Empty(t, fake.creates)
}

func TestUpsertAlignsColumnsWithTargetSchema(t *testing.T) {
	fake, w := startFake(t)
	ctx := context.Background()
	require.NoError(t, w.CreateCollection(ctx, "db1", "c", CollectionSpec{Schema: sourceSchema()}))

	cols := []*schemapb.FieldData{
		{FieldName: "RowID", FieldId: 0, Type: schemapb.DataType_Int64},
		{FieldName: "id", FieldId: 7, Type: schemapb.DataType_Int64, Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{
			Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{42, 43}}}}}},
		{FieldName: "vec", FieldId: 8, Type: schemapb.DataType_FloatVector},
		{FieldName: "$meta", FieldId: 9, Type: schemapb.DataType_JSON, IsDynamic: true},
	}
	require.NoError(t, w.Upsert(ctx, "db1", "c", "p1", cols, 2))
	require.Len(t, fake.upserts, 1)
	up := fake.upserts[0]
	require.Equal(t, "p1", up.GetPartitionName())
	require.EqualValues(t, 2, up.GetNumRows())
	require.Len(t, up.GetFieldsData(), 3)
	require.Equal(t, int64(100), up.GetFieldsData()[0].GetFieldId())
	require.Equal(t, []int64{42, 43}, up.GetFieldsData()[0].GetScalars().GetLongData().GetData())
	require.Equal(t, int64(101), up.GetFieldsData()[1].GetFieldId())
	require.Equal(t, "$meta", up.GetFieldsData()[2].GetFieldName())
	require.Contains(t, fake.dbHeaders, "db1")

	err := w.Upsert(ctx, "db1", "c", "", []*schemapb.FieldData{{FieldName: "extra", FieldId: 120}}, 1)
	require.ErrorContains(t, err, `source column "extra" (field id 120) has no field of that name in target collection "c"`)
}

func TestDeleteRendersChunkedExpressions(t *testing.T) {
	tests := []struct {
		name string
		keys *schemapb.IDs
		want []string
	}{
		{"int keys", &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: []int64{1, -2, 3}}}},
			[]string{"pk in [1,-2]", "pk in [3]"}},
		{"string keys are quoted and escaped", &schemapb.IDs{IdField: &schemapb.IDs_StrId{StrId: &schemapb.StringArray{Data: []string{`a"b`, `c\d`}}}},
			[]string{`pk in ["a\"b","c\\d"]`}},
		{"no keys", &schemapb.IDs{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, deleteExprs("pk", tt.keys, 2))
		})
	}
}

func TestDeleteUsesTargetPrimaryKey(t *testing.T) {
	fake, w := startFake(t)
	ctx := context.Background()
	require.NoError(t, w.CreateCollection(ctx, "", "c", CollectionSpec{Schema: sourceSchema()}))
	keys := &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: []int64{5}}}}
	require.NoError(t, w.Delete(ctx, "", "c", "", keys))
	require.Len(t, fake.deletes, 1)
	require.Equal(t, "id in [5]", fake.deletes[0].GetExpr())
}

func TestIdempotentDDL(t *testing.T) {
	fake, w := startFake(t)
	ctx := context.Background()
	require.NoError(t, w.CreateDatabase(ctx, "db1"))
	require.NoError(t, w.CreateDatabase(ctx, "db1"))
	require.NoError(t, w.CreateDatabase(ctx, "default"))
	require.Equal(t, 1, fake.createDBs)
	require.NoError(t, w.DropCollection(ctx, "db1", "never_existed"))
}

func TestCheckClassifiesFailures(t *testing.T) {
	tests := []struct {
		name      string
		st        *commonpb.Status
		wantErr   bool
		retryable bool
		notFound  bool
	}{
		{"success", &commonpb.Status{}, false, false, false},
		{"nil status", nil, false, false, false},
		{"collection not found", notFound(100, "collection not found"), true, false, true},
		{"rate limited", &commonpb.Status{ErrorCode: commonpb.ErrorCode_RateLimit, Reason: "quota exceeded"}, true, true, false},
		{"server says retriable", &commonpb.Status{Code: 5, Retriable: true, Reason: "busy"}, true, true, false},
		{"invalid argument", &commonpb.Status{Code: 1100, Reason: "invalid parameter"}, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check("Op", tt.st, nil)
			require.Equal(t, tt.wantErr, err != nil)
			require.Equal(t, tt.retryable, isRetryable(err))
			require.Equal(t, tt.notFound, isNotFound(err))
		})
	}
}

// isRetryable reports whether err is a target failure the retry policy retries.
func isRetryable(err error) bool {
	var te *sink.TargetError
	return errors.As(err, &te) && te.Retryable
}
