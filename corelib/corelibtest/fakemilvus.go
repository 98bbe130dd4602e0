// Package corelibtest provides an in-process fake target Milvus for tests: a
// gRPC MilvusService on a bufconn listener that answers Connect and checks
// the token the client sends.
package corelibtest

import (
	"context"
	"encoding/base64"
	"net"
	"sync/atomic"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
)

// FakeMilvus is a fake target. When Token is set, Connect fails unless the
// client sends it, like a Milvus with authorization enabled.
type FakeMilvus struct {
	milvuspb.UnimplementedMilvusServiceServer
	Token    string
	Connects atomic.Int64
	lis      *bufconn.Listener
}

// StartFakeMilvus serves a FakeMilvus until the test ends.
func StartFakeMilvus(t testing.TB, token string) *FakeMilvus {
	t.Helper()
	f := &FakeMilvus{Token: token, lis: bufconn.Listen(1 << 20)}
	srv := grpc.NewServer()
	milvuspb.RegisterMilvusServiceServer(srv, f)
	go func() { _ = srv.Serve(f.lis) }()
	t.Cleanup(srv.Stop)
	return f
}

// DialOption routes every dial to the fake, whatever address is used.
func (f *FakeMilvus) DialOption() grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return f.lis.DialContext(ctx)
	})
}

// Connect accepts the client if the authorization header carries Token.
func (f *FakeMilvus) Connect(ctx context.Context, _ *milvuspb.ConnectRequest) (*milvuspb.ConnectResponse, error) {
	f.Connects.Add(1)
	if f.Token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		want := base64.StdEncoding.EncodeToString([]byte(f.Token))
		if vals := md.Get("authorization"); len(vals) == 0 || vals[0] != want {
			return &milvuspb.ConnectResponse{Status: &commonpb.Status{
				ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 1800, Reason: "auth check failure, please check username and password are correct",
			}}, nil
		}
	}
	return &milvuspb.ConnectResponse{
		Status:     &commonpb.Status{},
		ServerInfo: &commonpb.ServerInfo{BuildTags: "v2.3.9-fake"},
		Identifier: 1,
	}, nil
}
