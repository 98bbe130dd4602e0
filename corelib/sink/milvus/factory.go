package milvus

import (
	"context"
	"fmt"
	"slices"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/milvusconn"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// Register adds the factories of writer modes "api" and "replicate" to reg.
// dialOptions are appended to every target connection (tests dial an
// in-process server with them).
func Register(reg sink.Registry, dialOptions ...grpc.DialOption) {
	reg[corelib.WriterModeAPI] = &APIFactory{DialOptions: dialOptions}
	reg[corelib.WriterModeReplicate] = &ReplicaFactory{DialOptions: dialOptions}
}

// APIFactory makes the writers of mode "api".
type APIFactory struct {
	DialOptions []grpc.DialOption
}

// Verify checks that the target is reachable and a normal Milvus (one in
// replicate mode refuses ordinary writes).
func (f *APIFactory) Verify(ctx context.Context, t corelib.Target, _ func(context.Context) ([]*sink.Collection, error)) error {
	conn, err := milvusconn.Connect(ctx, t, f.DialOptions...)
	if err != nil {
		return err
	}
	defer conn.Close()
	replica, err := ProbeReplicaMode(ctx, conn.Service)
	if err != nil {
		return err
	}
	if replica {
		return fmt.Errorf("%w (target %s)", ErrTargetInReplicaMode, t.Redacted())
	}
	return nil
}

// Open connects an api writer.
func (f *APIFactory) Open(ctx context.Context, t corelib.Target, env sink.Env) (sink.Writer, error) {
	conn, err := milvusconn.Connect(ctx, t, f.DialOptions...)
	if err != nil {
		return nil, err
	}
	return newAPIWriter(env, NewClient(conn.Service), conn.Close), nil
}

// ReplicaFactory makes the writers of mode "replicate".
type ReplicaFactory struct {
	DialOptions []grpc.DialOption
}

// Verify checks that the target is reachable and in replicate mode, and
// that every collection in scope that exists on the target already has the
// source's shard count: messages are re-addressed shard by shard.
// Collections the task creates on the target get the source's count.
func (f *ReplicaFactory) Verify(ctx context.Context, t corelib.Target, inScope func(context.Context) ([]*sink.Collection, error)) error {
	conn, err := milvusconn.Connect(ctx, t, f.DialOptions...)
	if err != nil {
		return err
	}
	defer conn.Close()
	replica, err := ProbeReplicaMode(ctx, conn.Service)
	if err != nil {
		return err
	}
	if !replica {
		return fmt.Errorf("%w (target %s)", ErrTargetNotReplicaMode, t.Redacted())
	}
	if inScope == nil {
		return nil
	}
	colls, err := inScope(ctx)
	if err != nil {
		return fmt.Errorf("list the source catalog: %w", err)
	}
	return checkShards(ctx, conn.Service, colls)
}

// checkShards refuses collections whose target namesake has another shard
// count than the source.
func checkShards(ctx context.Context, svc milvuspb.MilvusServiceClient, colls []*sink.Collection) error {
	for _, c := range colls {
		if c.Info == nil {
			continue
		}
		d, err := svc.DescribeCollection(metadata.AppendToOutgoingContext(ctx, "dbname", c.TargetDatabase),
			&milvuspb.DescribeCollectionRequest{DbName: c.TargetDatabase, CollectionName: c.TargetName})
		if err != nil || d.GetStatus().GetCode() != 0 || d.GetStatus().GetErrorCode() != commonpb.ErrorCode_Success {
			continue // absent (or unreadable): the task creates it with the source's shards
		}
		if got, want := len(d.GetVirtualChannelNames()), len(c.Info.VirtualChannels); got != want {
			return fmt.Errorf("%w: %s has %d shards on the source and %d on the target (%s); drop it on the target or map it to a new name",
				ErrShardsDiffer, c, want, got, c.Target())
		}
	}
	return nil
}

// Open connects a replicate writer: a connection whose DDL carries
// ReplicateInfo, checked to be in replicate mode (the target may have been
// restarted in normal mode since the task was created).
func (f *ReplicaFactory) Open(ctx context.Context, t corelib.Target, env sink.Env) (sink.Writer, error) {
	w := newReplicaWriter(env)
	opts := append(slices.Clone(f.DialOptions), grpc.WithChainUnaryInterceptor(ReplicateInfoInterceptor(w.fallbackTs)))
	conn, err := milvusconn.Connect(ctx, t, opts...)
	if err != nil {
		return nil, err
	}
	replica, err := ProbeReplicaMode(ctx, conn.Service)
	if err == nil && !replica {
		err = ErrTargetNotReplicaMode
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	w.attach(conn, NewReplicaClient(conn.Service))
	return w, nil
}
